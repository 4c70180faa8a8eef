"""Writer subprocess for tests/fault/test_store_crash.py: appends numbered messages to a store
with 64 KiB commit log files and prints one ``ACK seq phy queue_id queue_offset`` line per
acknowledged put, until it is killed (or writes ``count`` messages).

usage: store_writer.py ROOT FLUSH_DISK_TYPE FIRST_SEQ COUNT CONCURRENCY
"""

import asyncio
import hashlib
import sys

from pocketmq.config import MessageStoreConfig
from pocketmq.protocol.message import MessageExtBrokerInner
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import PutMessageStatus

QUEUES = 4


def body_for(seq: int) -> bytes:
    """Deterministic, variable-length body so a reader can check it byte for byte."""
    digest = hashlib.sha256(str(seq).encode()).digest()
    return f"{seq}:".encode() + digest * (1 + seq % 40)


def config(root: str, flush: str) -> MessageStoreConfig:
    return MessageStoreConfig(storePathRootDir=root, mappedFileSizeCommitLog=64 * 1024,
                              mappedFileSizeConsumeQueue=20 * 500, maxHashSlotNum=1000, maxIndexNum=4000,
                              flushDiskType=flush, flushIntervalCommitLog=20, flushIntervalConsumeQueue=20,
                              flushCommitLogThoroughInterval=100, flushConsumeQueueThoroughInterval=100)


async def main() -> None:
    root, flush, first, count, concurrency = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    store = MessageStore(config(root, flush), ("127.0.0.1", 10911))
    await store.start()
    out = sys.stdout
    out.write(f"READY {store.get_max_phy_offset()}\n")
    out.flush()
    seqs = iter(range(first, first + count))

    async def worker() -> None:
        for seq in seqs:
            msg = MessageExtBrokerInner(topic="Crash", body=body_for(seq), queue_id=seq % QUEUES,
                                        properties={"KEYS": f"s{seq}"})
            result = await store.put_message(msg)
            if result.status is PutMessageStatus.PUT_OK:
                ar = result.append_result
                out.write(f"ACK {seq} {ar.wrote_offset} {seq % QUEUES} {ar.logics_offset}\n")
                out.flush()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await store.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
