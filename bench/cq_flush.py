"""The consume-queue flusher's pass over every queue, which holds the GIL off the event loop:
milliseconds per pass with many queues that each hold a little unflushed data (the usual state
with 1,000 topics of 8 queues, where each queue gets a message a second or so).

usage: .venv/bin/python bench/cq_flush.py [--topics 1000] [--queues 8] [--passes 15]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time

from pocketmq.config import MessageStoreConfig
from pocketmq.protocol.message import MessageExtBrokerInner
from pocketmq.store.message_store import MessageStore


def one_per_queue(store: MessageStore, topics: int, queues: int) -> None:
    for t in range(topics):
        for q in range(queues):
            store.append_message(MessageExtBrokerInner(topic=f"T{t}", body=b"x" * 100, queue_id=q,
                                                       properties={}, born_host=("127.0.0.1", 1)))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--queues", type=int, default=8)
    ap.add_argument("--passes", type=int, default=15)
    o = ap.parse_args()
    root = tempfile.mkdtemp(prefix="cq-flush-")
    config = MessageStoreConfig(storePathRootDir=root, mappedFileSizeCommitLog=64 * 1024 * 1024)
    store = MessageStore(config, ("127.0.0.1", 10911))
    await store.start()
    try:
        one_per_queue(store, o.topics, o.queues)
        store._flush_logics_sync(store._all_queues(), 0, 0, 0)  # all flushed once,
        one_per_queue(store, o.topics, o.queues)  # then one unflushed entry in each
        least = config.flushConsumeQueueLeastPages
        times = []
        for _ in range(o.passes):
            begin = time.perf_counter()
            store._flush_logics_sync(store._all_queues(), least, 0, 0)
            times.append(time.perf_counter() - begin)
        print(f"{o.topics * o.queues} queues, flushConsumeQueueLeastPages={least}: "
              f"median {statistics.median(times) * 1e3:.2f} ms per pass, min {min(times) * 1e3:.2f} ms")
    finally:
        await store.shutdown()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
