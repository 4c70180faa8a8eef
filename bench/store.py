"""Store benchmark: appends/s (ASYNC_FLUSH, one process), SYNC_FLUSH appends/s with 1/16/64
concurrent writers beside this disk's plain fsync rate, and messages/s read back from a queue.

usage: .venv/bin/python bench/store.py [--dir DIR] [--count N] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

from pocketmq.config import MessageStoreConfig
from pocketmq.protocol.message import MessageExtBrokerInner
from pocketmq.protocol.message_id import UniqKeyGenerator
from pocketmq.store.message_store import MessageStore


def make_config(root: str, flush: str) -> MessageStoreConfig:
    return MessageStoreConfig(storePathRootDir=root, flushDiskType=flush,
                              mappedFileSizeCommitLog=256 * 1024 * 1024, maxHashSlotNum=500_000,
                              maxIndexNum=2_000_000)


def messages(n: int, size: int) -> list[MessageExtBrokerInner]:
    gen = UniqKeyGenerator(ip="127.0.0.1")
    body = os.urandom(size)
    return [MessageExtBrokerInner(topic="BenchTopic", body=body, queue_id=i % 8,
                                  properties_string=f"UNIQ_KEY\x01{gen.create()}\x02WAIT\x01true\x02TAGS\x01TagA",
                                  tags_code=2598919, born_host=("127.0.0.1", 50000), born_timestamp=1)
            for i in range(n)]


async def bench_async(root: str, size: int, count: int) -> tuple[float, float]:
    store = MessageStore(make_config(root, "ASYNC_FLUSH"), ("127.0.0.1", 10911))
    await store.start()
    batch = messages(count, size)
    put = store.put_message
    begin = time.perf_counter()
    for msg in batch:
        await put(msg)
    put_rate = count / (time.perf_counter() - begin)
    read = 0
    begin = time.perf_counter()
    for qid in range(8):
        offset = 0
        while True:
            got = store.get_message("g", "BenchTopic", qid, offset, 32)
            if not got.buffers:
                break
            read += got.message_count
            offset = got.next_begin_offset
            got.release()
    read_rate = read / (time.perf_counter() - begin)
    await store.shutdown()
    return put_rate, read_rate


async def bench_sync(root: str, size: int, writers: int, seconds: float) -> float:
    store = MessageStore(make_config(root, "SYNC_FLUSH"), ("127.0.0.1", 10911))
    await store.start()
    pool = messages(4096, size)
    done = 0
    deadline = time.perf_counter() + seconds

    async def writer(k: int) -> None:
        nonlocal done
        i = k
        while time.perf_counter() < deadline:
            await store.put_message(pool[i % len(pool)])
            done += 1
            i += writers
    begin = time.perf_counter()
    await asyncio.gather(*(writer(k) for k in range(writers)))
    rate = done / (time.perf_counter() - begin)
    await store.shutdown()
    return rate


def fsync_rate(root: str, size: int, seconds: float) -> float:
    path = os.path.join(root, "fsync.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    data = os.urandom(size)
    n = 0
    deadline = time.perf_counter() + seconds
    begin = time.perf_counter()
    while time.perf_counter() < deadline:
        os.write(fd, data)
        os.fdatasync(fd)
        n += 1
    os.close(fd)
    os.unlink(path)
    return n / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    base = tempfile.mkdtemp(prefix="pocketmq-bench-", dir=args.dir)
    try:
        for size in (128, 1024):
            root = os.path.join(base, f"async{size}")
            put_rate, read_rate = asyncio.run(bench_async(root, size, args.count))
            print(f"{size:>5} B  ASYNC_FLUSH appends/s: {put_rate:>10,.0f}   reads/s: {read_rate:>10,.0f}")
            shutil.rmtree(root)
            plain = fsync_rate(base, size, args.seconds)
            print(f"{size:>5} B  plain write+fdatasync/s: {plain:>10,.0f}")
            for writers in (1, 16, 64):
                root = os.path.join(base, f"sync{size}-{writers}")
                rate = asyncio.run(bench_sync(root, size, writers, args.seconds))
                print(f"{size:>5} B  SYNC_FLUSH {writers:>2} writers appends/s: {rate:>10,.0f}"
                      f"   ({rate / plain:.1f}x fsync rate)")
                shutil.rmtree(root)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
