"""prepare_consume_queues: a new topic's queue files are created on a worker thread, so its first
puts do not create them on the event loop; a put that comes first, a deleted topic or a queue
that already holds messages keep today's behaviour."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pocketmq.store.mapped_file import MappedFileQueue
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus
from tests.support.smaps import vm_flags

from .helpers import HOST, msg, small_config


async def started(tmp_path: Path) -> MessageStore:
    store = MessageStore(small_config(tmp_path), HOST)
    await store.start()
    return store


def queue_file(tmp_path: Path, topic: str, queue_id: int) -> Path:
    return tmp_path / "consumequeue" / topic / str(queue_id) / ("0" * 20)


def test_a_prepared_topic_takes_its_first_puts_without_creating_files_on_the_loop(tmp_path, monkeypatch):
    async def main():
        store = await started(tmp_path)
        store.prepare_consume_queues("Fresh", range(4))
        await asyncio.gather(*store._preparing)
        for q in range(4):
            path = queue_file(tmp_path, "Fresh", q)
            assert path.stat().st_size == store._cq("Fresh", q).queue.mapped_file_size
            assert "rr" in vm_flags(path)  # mapped as the loop maps a queue file (MADV_RANDOM)
        created = []
        real_create = MappedFileQueue._create
        monkeypatch.setattr(MappedFileQueue, "_create",
                            lambda self, *a, **kw: created.append(self.store_path) or real_create(self, *a, **kw))
        results = [await store.put_message(msg(topic="Fresh", queue_id=q % 4, body=bytes([q]) * 10)) for q in range(8)]
        assert [r.status for r in results] == [PutMessageStatus.PUT_OK] * 8
        assert not [p for p in created if "consumequeue" in p]
        got = store.get_message("g", "Fresh", 3, 0, 32)
        assert got.status is GetMessageStatus.FOUND and got.message_count == 2
        await store.shutdown()
    asyncio.run(main())


def test_a_queue_that_holds_messages_or_a_put_that_comes_first_keeps_its_own_file(tmp_path):
    async def main():
        store = await started(tmp_path)
        assert (await store.put_message(msg(topic="Busy", queue_id=0))).status is PutMessageStatus.PUT_OK
        before = list(store._cq("Busy", 0).queue.files)
        store.prepare_consume_queues("Busy", range(2))  # queue 0 holds a message, queue 1 is fresh
        # queue 1's first put runs before the worker's file is installed: it creates the file itself
        assert (await store.put_message(msg(topic="Busy", queue_id=1))).status is PutMessageStatus.PUT_OK
        own = list(store._cq("Busy", 1).queue.files)
        await asyncio.gather(*store._preparing)
        assert store._cq("Busy", 0).queue.files == before
        assert store._cq("Busy", 1).queue.files == own and len(own) == 1
        assert (await store.put_message(msg(topic="Busy", queue_id=1))).append_result.logics_offset == 1
        assert store.get_message("g", "Busy", 1, 0, 32).message_count == 2
        await store.shutdown()
    asyncio.run(main())


def test_a_topic_deleted_while_preparing_leaves_no_files(tmp_path):
    async def main():
        store = await started(tmp_path)
        store.prepare_consume_queues("Gone", range(2))
        store.delete_topics({"Gone"})
        await asyncio.gather(*store._preparing)
        assert "Gone" not in store.consume_queue_table
        assert not any(queue_file(tmp_path, "Gone", q).exists() for q in range(2))
        await store.shutdown()
    asyncio.run(main())


def test_a_prepared_queue_that_never_took_a_message_recovers_empty(tmp_path):
    async def main():
        store = await started(tmp_path)
        store.prepare_consume_queues("Idle", range(2))
        await asyncio.gather(*store._preparing)
        await store.shutdown()
        again = await started(tmp_path)  # recovery drops the empty file, as after a crash before a write
        r = await again.put_message(msg(topic="Idle", queue_id=1))
        assert r.status is PutMessageStatus.PUT_OK and r.append_result.logics_offset == 0
        assert again.get_message("g", "Idle", 1, 0, 32).message_count == 1
        await again.shutdown()
    asyncio.run(main())
