"""libfaketime for tests: the environment that starts a process's clock at a chosen local time
(it then ticks at the normal rate), so a real server or client runs across a month end, a DST
change or 2^31 ms into a month. Debian's package ``faketime`` is installed by
tests/interop/setup.sh (``make test`` runs it).

    env = faketime_env("2026-12-31 23:59:30", tz="Europe/Berlin")
    subprocess.run([...], env={**os.environ, **env})
"""

from __future__ import annotations

import _multiprocessing
import atexit
import contextlib
import datetime
import glob
import os
import time
import zoneinfo
from multiprocessing import shared_memory

_CANDIDATES = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
               "/usr/local/lib/faketime/libfaketime.so.1")


def libfaketime_path() -> str:
    for pattern in _CANDIDATES:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise RuntimeError("libfaketime is not installed: run tests/interop/setup.sh "
                       "(make test does), or apt-get install faketime")


def faketime_env(local_start: str, tz: str) -> dict[str, str]:
    """Environment variables that make the wall clock read ``local_start`` (``YYYY-MM-DD
    HH:MM:SS`` in time zone ``tz``) now, and run on from there: one fixed offset from the real
    clock, so every process started with them, whenever it starts, agrees on the time.

    The monotonic clock is left alone: event loops, thread waits and timeouts behave as usual.
    (libfaketime 0.9.10 then fails an absolute ``clock_nanosleep`` with EINVAL, i.e. Python's
    ``time.sleep``; PocketMQ's servers and client never call it.)"""
    offset = local_ms(local_start, tz) / 1000 - time.time()
    return {"LD_PRELOAD": libfaketime_path(), "FAKETIME": f"{offset:+.3f}", "TZ": tz,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_SHARED": _shared_objects()}


_shared: str | None = None
_kept: list[object] = []


def _shared_objects() -> str:
    """One semaphore and shared memory segment, made here, for every process this test process
    starts under libfaketime. Without ``FAKETIME_SHARED`` libfaketime 0.9.10 makes a pair in each
    process, named by its pid, hands it down to the children and removes it at exit, but not
    across an exec: /dev/shm fills with stale pairs and, rarely, a process finds the pair it was
    handed already gone ("sem_open failed", a broker that never boots). Processes that only
    attach never remove a pair; this one removes its own at exit."""
    global _shared
    if _shared is None:
        name = f"pocketmq_faketime_{os.getpid()}"
        for stale in (lambda: _multiprocessing.sem_unlink(f"/{name}_sem"),
                      lambda: shared_memory.SharedMemory(name=f"{name}_shm").unlink()):
            with contextlib.suppress(FileNotFoundError):
                stale()  # left by an earlier process of the same pid that was killed
        semaphore = _multiprocessing.SemLock(1, 1, 1, f"/{name}_sem", False)  # a counting semaphore at 1
        memory = shared_memory.SharedMemory(name=f"{name}_shm", create=True, size=4096)
        _kept.extend([semaphore, memory])
        atexit.register(_remove_shared_objects, name, memory)
        _shared = f"/{name}_sem /{name}_shm"
    return _shared


def _remove_shared_objects(name: str, memory: shared_memory.SharedMemory) -> None:
    with contextlib.suppress(OSError):
        _multiprocessing.sem_unlink(f"/{name}_sem")
    with contextlib.suppress(OSError):
        memory.close()
        memory.unlink()


def faketime_start_env(local_start: str, tz: str) -> dict[str, str]:
    """Like ``faketime_env``, but the clock reads ``local_start`` when the process starts,
    however long after this call that is (one process; several would disagree)."""
    return {**faketime_env(local_start, tz), "FAKETIME": "@" + local_start}


def local_ms(local: str, tz: str) -> int:
    """``YYYY-MM-DD HH:MM:SS[.fff]`` in ``tz`` as epoch ms."""
    when = datetime.datetime.fromisoformat(local).replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return int(when.timestamp() * 1000)


def local_text(epoch_ms: int, tz: str) -> str:
    when = datetime.datetime.fromtimestamp(epoch_ms / 1000, zoneinfo.ZoneInfo(tz))
    return when.strftime("%Y-%m-%d %H:%M:%S")
