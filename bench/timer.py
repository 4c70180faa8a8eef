"""Timer messages in one process: how fast the store takes timer messages, how fast the broker's
timer wheel delivers a burst due in the same second, and how long a restart takes to rebuild a
wheel of N pending timers from its checkpoint and the commit log.

    .venv/bin/python bench/timer.py [--count N] [--dir DIR]

Real store, real TimerMessageService, the system clock; no sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time

from pocketmq.broker.timer import TimerMessageService
from pocketmq.config import MessageStoreConfig
from pocketmq.protocol import message as m
from pocketmq.store.message_store import MessageStore
from pocketmq.store.timer import TIMER_TOPIC

HOST = ("127.0.0.1", 10911)


def timer_message(i: int, deliver_ms: int) -> m.MessageExtBrokerInner:
    return m.MessageExtBrokerInner(topic="BenchTimer", body=b"x" * 128, queue_id=i % 8,
                                   properties={"UNIQ_KEY": f"U{i:012d}", m.PROPERTY_TIMER_DELIVER_MS: str(deliver_ms)},
                                   born_timestamp=deliver_ms, born_host=HOST)


async def open_store(root: str) -> tuple[MessageStore, TimerMessageService]:
    config = MessageStoreConfig(storePathRootDir=root, mappedFileSizeCommitLog=256 * 1024 * 1024)
    store = MessageStore(config, HOST)
    await store.start()
    timer = TimerMessageService(store, root, config.timerPrecisionMs)
    timer.load()
    return store, timer


async def run(count: int, root: str) -> None:
    store, timer = await open_store(root)
    due = time.time_ns() // 1_000_000 + 3_600_000  # an hour ahead: none due during the puts
    plain = [timer_message(i, due) for i in range(count)]
    for msg in plain:
        msg.topic = "BenchPlain"
        del msg.properties[m.PROPERTY_TIMER_DELIVER_MS]
    begin = time.perf_counter()
    for msg in plain:
        await store.put_message(msg)
    print(f"plain puts:      {count / (time.perf_counter() - begin):10,.0f} msgs/s (the same messages, no timer)")
    begin = time.perf_counter()
    for i in range(count):
        await store.put_message(timer_message(i, due))
    put_s = time.perf_counter() - begin
    print(f"timer puts:      {count / put_s:10,.0f} msgs/s ({count} into {TIMER_TOPIC})")

    begin = time.perf_counter()
    await timer.load_new_entries()
    print(f"wheel load:      {count / (time.perf_counter() - begin):10,.0f} entries/s")
    timer.persist()
    await store.shutdown()

    begin = time.perf_counter()
    store, timer = await open_store(root)
    await timer.load_new_entries()
    print(f"restart rebuild: {time.perf_counter() - begin:10.2f} s for {len(timer.wheel)} pending timers "
          "(store start included)")

    # make every pending timer due now: the wheel delivers the burst
    timer.wheel = [(0, offset, phy) for _, offset, phy in timer.wheel]
    begin = time.perf_counter()
    await timer.run_once()
    deliver_s = time.perf_counter() - begin
    delivered = sum(store.get_max_offset_in_queue("BenchTimer", q) for q in range(8))
    print(f"burst delivery:  {delivered / deliver_s:10,.0f} msgs/s ({delivered} re-put to their topic)")
    await store.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="pocketmq-timer-bench-")
    try:
        asyncio.run(run(args.count, root))
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
