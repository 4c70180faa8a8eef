"""Broker process figures from /proc: CPU seconds (utime + stime of all threads, and of the
busiest thread alone: a Python broker's event loop is bound by one core) and peak RSS, of each
broker process and the processes it started (PocketMQ's remoting workers).

Peak RSS is the kernel's VmHWM; ``reset_peak`` writes 5 to /proc/PID/clear_refs (Linux >= 4.0,
needs the right to write there; root here) so each run gets its own peak. Where the reset is
refused, the peak is the process's lifetime peak and ``ProcSample.peak_reset`` says so. Both
brokers map their commit log, so RSS includes the touched pages of mapped files on both sides;
RssAnon at the end of a run (heap and objects, no file pages) is reported beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    with open(path) as f:
        data = f.read()
    # the command name may contain spaces and parentheses: split after the last ')'
    fields = data[data.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICK


def thread_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of each live thread of ``pid``, by thread id."""
    seconds = {}
    for name in os.listdir(f"/proc/{pid}/task"):
        try:
            seconds[int(name)] = cpu_seconds(pid, int(name))
        except (OSError, ValueError):  # the thread ended meanwhile
            pass
    return seconds


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def with_descendants(pids: list[int]) -> list[int]:
    """``pids`` and every live process below them (children, grandchildren, ...)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        parents[int(name)] = int(data[data.rindex(")") + 2:].split()[1])
    found = list(pids)
    for pid in found:  # grows while it is walked: breadth first
        found += [child for child, parent in parents.items() if parent == pid and child not in found]
    return found


@dataclass
class ProcSample:
    pids: list[int]
    cpu0: list[float]
    threads0: list[dict[int, float]]
    peak_reset: bool

    @classmethod
    def start(cls, pids: list[int]) -> "ProcSample":
        pids = with_descendants(pids)
        ok = all([reset_peak(p) for p in pids])
        return cls(list(pids), [cpu_seconds(p) for p in pids], [thread_cpu_seconds(p) for p in pids], ok)

    def finish(self) -> dict:
        cpu = [cpu_seconds(p) - c0 for p, c0 in zip(self.pids, self.cpu0)]
        busiest = max((s - before.get(tid, 0.0) for p, before in zip(self.pids, self.threads0)
                       for tid, s in thread_cpu_seconds(p).items()), default=0.0)
        hwm = [status_kb(p, "VmHWM") for p in self.pids]
        # Peak RSS also counts every page of the mapped commit log touched since the broker
        # started; RssAnon at the end is the memory the broker holds itself (heap, objects).
        anon = [status_kb(p, "RssAnon") for p in self.pids]
        return {"broker_cpu_s": sum(cpu), "broker_cpu_s_each": cpu, "busiest_thread_cpu_s": busiest,
                "broker_peak_rss_mb": sum(hwm) / 1024, "broker_peak_rss_mb_each": [h / 1024 for h in hwm],
                "broker_anon_rss_mb": sum(anon) / 1024, "peak_reset": self.peak_reset}
