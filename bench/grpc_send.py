"""gRPC send through `mqproxy` vs remoting send, against the same PocketMQ broker.

Starts a name server, one broker (ASYNC_FLUSH) and `mqproxy` (cluster mode) on loopback, then
runs two closed loops from this one process, one after the other, each with ``--threads``
concurrent senders on one asyncio loop (uvloop) for ``--seconds`` after ``--warmup``:

  remoting  pocketmq.client.AsyncProducer -> broker (SEND_MESSAGE_V2)
  grpc      grpc.aio MessagingService.SendMessage -> mqproxy -> broker (what a 5.x client sends)

    .venv/bin/python bench/grpc_send.py --threads 32 --size 128 --seconds 10 --warmup 3

Prints one JSON line per path (send_tps, p50/p99 ms) and the ratio grpc/remoting; then
``--receivers`` loops receive and ack the backlog through the endpoint (ReceiveMessage of up to
32, one AckMessage per batch, as a SimpleConsumer does) and print receive_ack_tps.

``--local`` runs the endpoint inside the broker instead (`mqbroker --enable-proxy`, local mode:
the endpoint reaches its broker in process, remoting/loopback.py): remoting and gRPC then go to
the same process.

``--tls cert`` gives the proxy a certificate, so that its port is the front that sniffs TLS vs
plaintext and relays to grpcio (proxy/front.py): ``grpc`` is then plaintext through the front,
and a ``grpc-tls`` path (TLS through it) is added. Run once without and once with it to see what
the front costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from bench.lib.pyloadgen import pct  # noqa: E402
from pocketmq.client import AsyncProducer, Message  # noqa: E402
from pocketmq.proxy.stubs import pb, pb_grpc  # noqa: E402
from tests.support.cluster import create_topic  # noqa: E402
from tests.support.processes import free_port, start_broker, start_namesrv, start_proxy  # noqa: E402
from tests.support.tls import make_cert, tls_args  # noqa: E402

TOPIC = "BenchGrpcTopic"


async def closed_loop(send, threads: int, seconds: float, warmup: float) -> dict:  # noqa: ANN001
    t0 = time.perf_counter()
    m_start, m_end = t0 + warmup, t0 + warmup + seconds
    lat: list[float] = []
    failed = [0]

    async def loop() -> None:
        while True:
            start = time.perf_counter()
            if start >= m_end:
                return
            ok = await send()
            end = time.perf_counter()
            if start >= m_start:
                if ok:
                    lat.append(end - start)
                else:
                    failed[0] += 1

    await asyncio.gather(*(loop() for _ in range(threads)))
    lat.sort()
    return {"sent": len(lat), "failed": failed[0], "send_tps": round(len(lat) / seconds),
            "p50_ms": round(pct(lat, 0.5) * 1000, 2), "p99_ms": round(pct(lat, 0.99) * 1000, 2)}


async def remoting(namesrv: str, args: argparse.Namespace, body: bytes) -> dict:
    producer = AsyncProducer("bench_grpc_vs_remoting", namesrv, compress_over=1 << 30)
    await producer.start()
    await producer.send(Message(TOPIC, body))  # route outside the timing

    async def send() -> bool:
        try:
            await producer.send(Message(TOPIC, body))
            return True
        except Exception:  # noqa: BLE001
            return False

    try:
        return await closed_loop(send, args.threads, args.seconds, args.warmup)
    finally:
        await producer.shutdown()


async def grpc_path(endpoint: str, args: argparse.Namespace, body: bytes, cert: Path | None = None) -> dict:
    ids = itertools.count()
    digest = pb.Digest(type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper())
    metadata = (("x-mq-client-id", "bench-grpc"),)
    channel = grpc.aio.insecure_channel(endpoint) if cert is None else \
        grpc.aio.secure_channel(endpoint, grpc.ssl_channel_credentials(cert.read_bytes()))
    async with channel:
        stub = pb_grpc.MessagingServiceStub(channel)

        async def send() -> bool:
            msg = pb.Message(topic=pb.Resource(name=TOPIC), body=body, system_properties=pb.SystemProperties(
                message_id=f"BENCH{next(ids):027d}", message_type=pb.NORMAL, body_digest=digest,
                body_encoding=pb.IDENTITY))
            try:
                response = await stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=metadata)
                return response.status.code == pb.OK
            except grpc.RpcError:
                return False

        await send()
        return await closed_loop(send, args.threads, args.seconds, args.warmup)


async def grpc_receive(endpoint: str, args: argparse.Namespace) -> dict:
    """Receive/ack through the endpoint (what a SimpleConsumer does): ``--receivers`` loops, each a
    ReceiveMessage of up to 32 then one AckMessage for the batch, over the backlog the send phases
    left; messages received and acked per second, and the p50/p99 of one receive+ack round."""
    metadata = (("x-mq-client-id", "bench-grpc-consumer"),)
    group = f"bench_grpc_cg_{int(time.time())}"
    async with grpc.aio.insecure_channel(endpoint) as channel:
        stub = pb_grpc.MessagingServiceStub(channel)
        t0 = time.perf_counter()
        m_start, m_end = t0 + args.warmup, t0 + args.warmup + args.seconds
        rounds: list[float] = []
        acked = [0]

        async def loop() -> None:
            while time.perf_counter() < m_end:
                start = time.perf_counter()
                request = pb.ReceiveMessageRequest(
                    group=pb.Resource(name=group), batch_size=32, auto_renew=False,
                    filter_expression=pb.FilterExpression(type=pb.TAG, expression="*"),
                    message_queue=pb.MessageQueue(topic=pb.Resource(name=TOPIC), id=-1,
                                                  broker=pb.Broker(name="broker-a")))
                request.invisible_duration.FromSeconds(30)
                request.long_polling_timeout.FromSeconds(1)
                messages = [r.message async for r in stub.ReceiveMessage(request, metadata=metadata)
                            if r.WhichOneof("content") == "message"]
                if messages:
                    entries = [pb.AckMessageEntry(message_id=m.system_properties.message_id,
                                                  receipt_handle=m.system_properties.receipt_handle)
                               for m in messages]
                    answer = await stub.AckMessage(pb.AckMessageRequest(
                        group=pb.Resource(name=group), topic=pb.Resource(name=TOPIC), entries=entries),
                        metadata=metadata)
                    done = sum(1 for e in answer.entries if e.status.code == pb.OK)
                    if start >= m_start:
                        acked[0] += done
                        rounds.append(time.perf_counter() - start)

        await asyncio.gather(*(loop() for _ in range(args.receivers)))
    rounds.sort()
    return {"acked": acked[0], "receive_ack_tps": round(acked[0] / args.seconds),
            "round_p50_ms": round(pct(rounds, 0.5) * 1000, 2), "round_p99_ms": round(pct(rounds, 0.99) * 1000, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--tls", choices=["none", "cert"], default="none")
    ap.add_argument("--local", action="store_true", help="mqbroker --enable-proxy instead of mqproxy")
    ap.add_argument("--receivers", type=int, default=8, help="concurrent receive/ack loops (0: skip)")
    args = ap.parse_args()
    body = b"x" * args.size
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="bench-grpc-") as tmp:
        home = Path(tmp)
        cert = key = None
        extra = {}
        if args.tls == "cert":
            cert, key = make_cert(home / "tls")
            extra = tls_args("permissive", cert, key)
        with contextlib.ExitStack() as stack:
            ns = stack.enter_context(start_namesrv(home / "ns"))
            if args.local:
                grpc_port = free_port()
                broker = stack.enter_context(start_broker(home / "broker", ns.addr, flags=["--enable-proxy"],
                                                          extra={"grpcServerPort": grpc_port, **extra}))
                endpoint = f"127.0.0.1:{grpc_port}"
            else:
                broker = stack.enter_context(start_broker(home / "broker", ns.addr))
                endpoint = stack.enter_context(start_proxy(home / "proxy", ns.addr, extra=extra)).endpoint
            create_topic(broker.addr, TOPIC, queues=4)
            results = {}
            paths = [("remoting", lambda: remoting(ns.addr, args, body)),
                     ("grpc", lambda: grpc_path(endpoint, args, body))]
            if cert is not None:
                paths.append(("grpc-tls", lambda: grpc_path(endpoint, args, body, cert)))
            for name, run in paths:
                results[name] = asyncio.run(run())
                print(json.dumps({"path": name, "threads": args.threads, "size": args.size, **results[name]}),
                      flush=True)
            if args.receivers:
                received = asyncio.run(grpc_receive(endpoint, args))
                print(json.dumps({"path": "grpc-receive-ack", "receivers": args.receivers, **received}), flush=True)
            for name in results:
                if name != "remoting":
                    ratio = results[name]["send_tps"] / max(1, results["remoting"]["send_tps"])
                    print(json.dumps({f"{name}_over_remoting": round(ratio, 2)}), flush=True)


if __name__ == "__main__":
    main()
