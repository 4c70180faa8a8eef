"""Python twin of bench/java LoadGen, on PocketMQ's own client (``pocketmq.client``): the same
arguments, steps and JSON result, so bench/run.py can swap one for the other (--loadgen python).

    .venv/bin/python bench/lib/pyloadgen.py --namesrv 127.0.0.1:9876 --topic T --threads 16 \
        --size 128 --seconds 15 --warmup 5

"threads" here are concurrent send loops on one asyncio event loop (uvloop), each awaiting its
send before the next, as a Java thread calling the synchronous ``send`` does. One process, so
at high concurrency the figures measure this client as much as the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time

from pocketmq.client import AsyncProducer, AsyncPushConsumer, Message, SessionCredentials
from pocketmq.client.admin import AsyncAdmin
from pocketmq.client.message import SendStatus


def pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


def credentials(args: argparse.Namespace) -> SessionCredentials | None:
    return SessionCredentials(args.access_key, args.secret_key) if args.access_key else None


async def create_topic(ns: str, topic: str, cluster: str, queues: int,
                       credentials: SessionCredentials | None = None) -> None:
    async with AsyncAdmin(ns, credentials=credentials) as admin:
        masters = await admin.master_addrs(cluster)
        if not masters:
            raise RuntimeError(f"no master in cluster {cluster}")
        await admin.create_topic(topic, cluster=cluster, read_queue_nums=queues, write_queue_nums=queues)
        await wait_route(admin, topic, len(masters), time.monotonic() + 60)


async def wait_route(admin: AsyncAdmin, topic: str, masters: int, deadline: float) -> None:
    """Until the name servers route `topic` to every master (or `deadline`, monotonic)."""
    while True:
        try:
            if len((await admin.topic_route(topic)).queueDatas) >= masters:
                return
        except Exception:  # noqa: BLE001 - no route yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic route did not appear for {topic}")
        await asyncio.sleep(0.1)


async def run(args: argparse.Namespace) -> dict:
    if args.create:
        await create_topic(args.namesrv, args.topic, args.cluster, args.queues, credentials(args))
    consumed = 0
    window = [0, 0]  # ms, measured window
    e2e: list[int] = []

    async def listener(msgs, ctx):  # noqa: ANN001, ANN202
        nonlocal consumed
        now = int(time.time() * 1000)
        for m in msgs:
            born = m.born_timestamp
            if window[0] and born >= window[0] and (not window[1] or born < window[1]):
                e2e.append(now - born)
        consumed += len(msgs)

    consumer = None
    if args.consume:
        consumer = AsyncPushConsumer(f"bench_cg_{args.topic}", args.namesrv, listener=listener,
                                     consume_batch_size=1, consume_from_where="CONSUME_FROM_FIRST_OFFSET",
                                     credentials=credentials(args))
        consumer.subscribe(args.topic)
        await consumer.start()
        deadline = time.monotonic() + 60
        while not consumer.pq_table:
            if time.monotonic() > deadline:
                raise RuntimeError("consumer got no queues within 60 s")
            await asyncio.sleep(0.1)

    producer = AsyncProducer(f"bench_pg_{args.topic}", args.namesrv, send_timeout=args.send_timeout / 1000,
                             compress_over=1 << 30, credentials=credentials(args))
    await producer.start()
    body = random.Random(42).randbytes(args.size)
    t0 = time.perf_counter()
    m_start = t0 + args.warmup
    m_end = m_start + args.seconds
    stats = {"sent_all": 0, "sent": 0, "failed": 0, "failed_all": 0, "not_ok": 0}
    lat: list[float] = []
    errors: list[str] = []

    # route lookup outside the timing
    await producer.send(Message(args.topic, body))
    stats["sent_all"] += 1

    async def loop() -> None:
        while True:
            start = time.perf_counter()
            if start >= m_end:
                return
            measured = start >= m_start
            try:
                r = await producer.send(Message(args.topic, body))
                end = time.perf_counter()
                stats["sent_all"] += 1
                if measured:
                    lat.append(end - start)
                    stats["sent"] += 1
                    if r.status is not SendStatus.SEND_OK:
                        stats["not_ok"] += 1
            except Exception as e:  # noqa: BLE001
                stats["failed_all"] += 1
                if measured:
                    stats["failed"] += 1
                if len(errors) < 5:
                    errors.append(f"{type(e).__name__}: {e}")

    async def marks() -> tuple[int, int]:
        await asyncio.sleep(max(0.0, m_start - time.perf_counter()))
        window[0] = int(time.time() * 1000)
        c0 = consumed
        await asyncio.sleep(max(0.0, m_end - time.perf_counter()))
        window[1] = int(time.time() * 1000)
        return c0, consumed

    results = await asyncio.gather(marks(), *(loop() for _ in range(args.threads)))
    c0, c1 = results[0]
    producer_done = time.perf_counter()
    await producer.shutdown()

    out: dict = {"loadgen": "python", "topic": args.topic, "threads": args.threads, "size": args.size,
                 "seconds": args.seconds, "sent": stats["sent"], "failed": stats["failed"],
                 "not_ok": stats["not_ok"], "sent_total": stats["sent_all"], "failed_total": stats["failed_all"],
                 "send_tps": stats["sent"] / args.seconds}
    lat.sort()
    out["avg_ms"] = (sum(lat) / len(lat) * 1000) if lat else 0.0
    out["p50_ms"] = pct(lat, 0.50) * 1000
    out["p99_ms"] = pct(lat, 0.99) * 1000
    out["max_ms"] = (lat[-1] * 1000) if lat else 0.0
    if consumer is not None:
        deadline = time.perf_counter() + args.drain
        while consumed < stats["sent_all"] and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        out["consumed"] = consumed
        out["consume_tps"] = (c1 - c0) / max(1e-9, (window[1] - window[0]) / 1000)
        out["drain_ms"] = int((time.perf_counter() - producer_done) * 1000)
        out["lost"] = max(0, stats["sent_all"] - consumed)
        await consumer.shutdown()
        e2e.sort()
        out["e2e_p50_ms"] = float(pct(e2e, 0.50))
        out["e2e_p99_ms"] = float(pct(e2e, 0.99))
    out["errors"] = errors
    return out


def add_common_arguments(ap: argparse.ArgumentParser) -> None:
    """The arguments every load generator of bench/ takes (bench/java LoadGen has the same)."""
    ap.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    ap.add_argument("--topic", default="BenchTopic")
    ap.add_argument("--cluster", default="DefaultCluster")
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--drain", type=float, default=30)
    ap.add_argument("--queues", type=int, default=4)
    ap.add_argument("--send-timeout", type=int, default=3000, help="ms")
    ap.add_argument("--no-create", dest="create", action="store_false")
    ap.add_argument("--no-consume", dest="consume", action="store_false")
    ap.add_argument("--access-key", default=None, help="sign every request (ACL)")
    ap.add_argument("--secret-key", default=None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(ap)
    args = ap.parse_args(argv)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    out = asyncio.run(run(args))
    print(json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
