"""SYNC_FLUSH group commit: a put answered PUT_OK has its bytes on disk (the mapped pages it
wrote are clean), across commit-log file rolls, and stopping answers every waiting put."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import PutMessageStatus
from tests.support.smaps import mapping_bytes

from .helpers import HOST, msg, small_config


async def started(tmp_path: Path, **overrides) -> MessageStore:
    store = MessageStore(small_config(tmp_path, flushDiskType="SYNC_FLUSH", **overrides), HOST)
    await store.start()
    return store


def dirty(path: Path) -> int:
    """Dirty bytes of a mapped file in this process (pages only this process maps count as private)."""
    return mapping_bytes(path, "Shared_Dirty") + mapping_bytes(path, "Private_Dirty")


def test_every_acknowledged_put_is_on_disk_across_file_rolls(tmp_path):
    async def main():
        store = await started(tmp_path)
        # 64 KiB files: rounds of 16 puts of ~1.1 KiB, most within a file, some across a roll.
        for _ in range(12):
            results = await asyncio.gather(*(store.put_message(msg(body=b"b" * 1000)) for _ in range(16)))
            assert [r.status for r in results] == [PutMessageStatus.PUT_OK] * 16
            end = max(r.append_result.wrote_offset + r.append_result.wrote_bytes for r in results)
            assert store.flushed_where >= end
            files = store.commit_log.queue.files
            assert {mf.file_name: dirty(Path(mf.path)) for mf in files} == {mf.file_name: 0 for mf in files}
        assert len(store.commit_log.queue.files) >= 3
        last = max(r.append_result.store_timestamp for r in results)
        assert 0 < store.checkpoint.physic_msg_timestamp <= last
        await store.shutdown()
    asyncio.run(main())


def test_stopping_answers_every_waiting_put(tmp_path):
    async def main():
        store = await started(tmp_path)
        puts = [asyncio.ensure_future(store.put_message(msg())) for _ in range(32)]
        await asyncio.sleep(0)  # each put appends in its first step, then waits for the flush
        await store.shutdown()
        results = await asyncio.gather(*puts)
        assert [r.status for r in results] == [PutMessageStatus.PUT_OK] * 32
    asyncio.run(main())
