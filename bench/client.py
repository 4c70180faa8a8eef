"""Client throughput: one Python process producing with many in-flight async sends, then one push
consumer draining the topic. Prints msgs/s and CPU ms per message (process CPU time).

    .venv/bin/python bench/client.py --namesrv 127.0.0.1:9876 --count 20000 --size 128 --inflight 256
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from pocketmq.client import AsyncProducer, AsyncPushConsumer, Message


async def produce(ns: str, topic: str, count: int, size: int, inflight: int) -> tuple[float, float]:
    body = b"x" * size
    async with AsyncProducer("bench_pg", ns, send_timeout=10) as producer:
        await producer.send(Message(topic, body))  # route + topic creation outside the timing
        sem = asyncio.Semaphore(inflight)

        async def one() -> None:
            async with sem:
                await producer.send(Message(topic, body))

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return time.perf_counter() - t0, time.process_time() - cpu0


async def consume(ns: str, topic: str, count: int) -> tuple[float, float]:
    done = asyncio.Event()
    seen = 0

    async def listener(msgs, ctx):
        nonlocal seen
        seen += len(msgs)
        if seen >= count:
            done.set()

    consumer = AsyncPushConsumer(f"bench_cg_{os.getpid()}", ns, listener=listener, consume_batch_size=32,
                                 consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(topic)
    cpu0, t0 = time.process_time(), time.perf_counter()
    async with consumer:
        await asyncio.wait_for(done.wait(), 600)
        return time.perf_counter() - t0, time.process_time() - cpu0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--namesrv", default=os.environ.get("NAMESRV_ADDR", "127.0.0.1:9876"))
    ap.add_argument("--topic", default=f"BenchClient_{os.getpid()}")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--inflight", type=int, default=256)
    args = ap.parse_args()
    wall, cpu = asyncio.run(produce(args.namesrv, args.topic, args.count, args.size, args.inflight))
    print(f"produce size={args.size}B count={args.count} inflight={args.inflight}: "
          f"{args.count / wall:,.0f} msg/s, {cpu * 1000 / args.count:.3f} CPU ms/msg")
    wall, cpu = asyncio.run(consume(args.namesrv, args.topic, args.count + 1))
    print(f"consume size={args.size}B count={args.count + 1}: {(args.count + 1) / wall:,.0f} msg/s, "
          f"{cpu * 1000 / (args.count + 1):.3f} CPU ms/msg (includes rebalance start-up)")


if __name__ == "__main__":
    main()
