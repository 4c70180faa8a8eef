"""Summarize a py-spy profile in collapsed-stack form (``py-spy record --format raw``): the
frames with the most samples on top of the stack (self) and anywhere on it (total), as text.

    .venv/bin/python bench/lib/profile.py profile.txt [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_ROOT = re.compile(r"^.*/(site-packages|src|lib/python3\.\d+)/")


def _short(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (pocketmq/x.py:123)"
    m = re.match(r"^(.*) \((.*)\)$", frame)
    if not m:
        return frame
    fn, loc = m.groups()
    return f"{fn} ({_ROOT.sub('', loc)})"


def _strip_line(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


def summarize(path: Path, top: int = 25, by_line: bool = False) -> str:
    self_c: Counter[str] = Counter()
    total_c: Counter[str] = Counter()
    n = 0
    idle = 0
    threads: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        try:
            c = int(count)
        except ValueError:
            continue
        raw = [f for f in stack.split(";") if f]
        thread = next((f for f in raw if f.startswith("thread ")), "thread (main)")
        frames = [_short(f) for f in raw]
        if not by_line:
            frames = [_strip_line(f) for f in frames]
        # skip py-spy's process/thread header frames
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        n += c
        # name a thread by its outermost Python frame below the thread header
        threads[f"{thread.split(' ')[0]} {frames[0] if frames else '?'}"] += c
        leaf = frames[-1]
        if leaf.startswith(("select (", "poll (", "run (uvloop", "_run_once")) or "epoll" in leaf:
            idle += c
        self_c[leaf] += c
        for f in set(frames):
            total_c[f] += c
    out = [f"{n} samples ({idle / max(1, n):.0%} of them waiting in the event loop's poll)", "",
           "by thread (outermost frame):"]
    for t, c in threads.most_common(8):
        out.append(f"  {c / n:6.1%}  {t}")
    out += ["", "self (top of stack):"]
    for f, c in self_c.most_common(top):
        out.append(f"  {c / n:6.1%}  {f}")
    out += ["", "total (anywhere on the stack):"]
    for f, c in total_c.most_common(top):
        out.append(f"  {c / n:6.1%}  {f}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profile", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--by-line", action="store_true")
    a = ap.parse_args()
    print(summarize(a.profile, a.top, a.by_line))


if __name__ == "__main__":
    main()
