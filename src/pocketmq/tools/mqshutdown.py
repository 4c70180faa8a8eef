"""``mqshutdown broker|namesrv``: send SIGTERM to every local PocketMQ broker or name server,
as upstream's mqshutdown script does (same messages, same exit codes)."""

from __future__ import annotations

import os
import signal
import sys

MODULES = {"broker": ("pocketmq.broker.startup", "mqbroker"), "namesrv": ("pocketmq.namesrv.startup", "mqnamesrv")}


def find_pids(kind: str) -> list[int]:
    module, script = MODULES[kind]
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
        except OSError:
            continue
        if len(argv) < 2 or "python" not in os.path.basename(argv[0]):
            continue
        if module in argv or os.path.basename(argv[1]) == script:
            pids.append(int(entry))
    return sorted(pids)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in MODULES:
        print("Useage: mqshutdown broker | namesrv")
        return 1
    kind = args[0]
    name = MODULES[kind][1]
    pids = find_pids(kind)
    if not pids:
        print(f"No {name} running.")
        return 255
    text = " ".join(str(pid) for pid in pids)
    print(f"The {name}({text}) is running...")
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    print(f"Send shutdown request to {name}({text}) OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
