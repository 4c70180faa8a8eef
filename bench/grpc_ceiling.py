"""The ceiling grpcio puts on the gRPC endpoint: SendMessage against a server that does nothing.

Starts, in a child process, a grpc.aio server on the same kind of event loop as the endpoint
(uvloop) whose SendMessage answers a canned OK at once (no conversion, no broker), then drives it
with exactly bench/grpc_send.py's gRPC client loop. What is left is grpcio's own per-call cost
(HTTP/2, protobuf, a task per call) on this machine: the best any endpoint built on grpcio's
asyncio server can do here. Prints send TPS, p50/p99 and the server's CPU per call.

    .venv/bin/python bench/grpc_ceiling.py --threads 32 --size 128 --seconds 8 --warmup 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.grpc_send import grpc_path  # noqa: E402
from tests.support.processes import free_port  # noqa: E402


def serve_nothing(port: int, ready: "multiprocessing.synchronize.Event") -> None:  # type: ignore[name-defined]
    import grpc
    import uvloop

    from pocketmq.proxy.stubs import pb, pb_grpc

    class Nothing(pb_grpc.MessagingServiceServicer):
        async def SendMessage(self, request, context):  # noqa: ANN001, N802 - grpc's names
            entries = [pb.SendResultEntry(status=pb.Status(code=pb.OK, message="OK"),
                                          message_id=m.system_properties.message_id, offset=0)
                       for m in request.messages]
            return pb.SendMessageResponse(status=pb.Status(code=pb.OK, message="OK"), entries=entries)

    async def main() -> None:
        server = grpc.aio.server()
        pb_grpc.add_MessagingServiceServicer_to_server(Nothing(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    uvloop.install()
    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--warmup", type=float, default=2)
    args = ap.parse_args()
    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve_nothing, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the do-nothing server did not start")
        import uvloop
        uvloop.install()
        before = cpu_seconds(server.pid)
        result = asyncio.run(grpc_path(f"127.0.0.1:{port}", args, b"x" * args.size))
        used = cpu_seconds(server.pid) - before
        calls = result["sent"] / args.seconds * (args.seconds + args.warmup)  # calls over the CPU window
        result["server_cpu_us_per_call"] = round(used / max(1.0, calls) * 1e6)
        print(json.dumps({"path": "grpc-do-nothing", "threads": args.threads, "size": args.size, **result}))
    finally:
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    main()
