"""``mqshutdown broker|namesrv|proxy``: send SIGTERM to every local PocketMQ broker, name server
or gRPC proxy, as upstream's mqshutdown script does (same messages, same exit codes). ``broker``
also stops brokers started with --enable-proxy (local mode), announced as upstream 5 does."""

from __future__ import annotations

import os
import signal
import sys

MODULES = {"broker": ("pocketmq.broker.startup", "mqbroker"), "namesrv": ("pocketmq.namesrv.startup", "mqnamesrv"),
           "proxy": ("pocketmq.proxy.startup", "mqproxy"), "local": ("pocketmq.proxy.local", "mqbroker")}
KINDS = ("broker", "namesrv", "proxy")


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
        local_mode = "--enable-proxy" in argv  # mqbroker --enable-proxy: kind "local", not "broker"
        if module in argv or (os.path.basename(argv[1]) == script and local_mode == (kind == "local")):
            pids.append(int(entry))
    return sorted(pids)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in KINDS:
        print("Useage: mqshutdown broker | namesrv | proxy")
        return 1
    kind = args[0]
    if kind == "broker":
        stop_local_mode_brokers()
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


def stop_local_mode_brokers() -> None:
    pids = find_pids("local")
    if pids:
        text = " ".join(str(pid) for pid in pids)
        print(f"The mqbroker with proxy enable is running({text})...")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        print(f"Send shutdown request to mqbroker with proxy enable OK({text})")


if __name__ == "__main__":
    sys.exit(main())
