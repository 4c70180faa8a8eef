"""A consume-queue or index file that cannot be created (no descriptors left, no space) must not
leave a stored message that no consume queue points to: the put is refused before its commit-log
entry is written (CREATE_MAPEDFILE_FAILED, as upstream's status), and the next put takes the
same queue offset. A missing index file costs only that message's key lookups."""

from __future__ import annotations

import asyncio
import errno

from pocketmq.protocol import message as m
from pocketmq.store import mapped_file
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus

from .helpers import HOST, msg, small_config


def failing_under(folder: str, real=mapped_file.map_file):
    def map_file(path, size, advice=None):
        if f"/{folder}/" in path:
            raise OSError(errno.EMFILE, "Too many open files", path)
        return real(path, size, advice)
    return map_file


def bodies(store: MessageStore, topic: str) -> list[bytes]:
    got = store.get_message("g", topic, 0, 0, 32)
    assert got.status is GetMessageStatus.FOUND
    return [m.decode_message(b).body for b in got.buffers]


def test_a_queue_file_that_cannot_be_created_refuses_the_put_with_nothing_written(tmp_path, monkeypatch):
    async def main():
        store = MessageStore(small_config(tmp_path), HOST)
        await store.start()
        assert (await store.put_message(msg(topic="A", body=b"a0"))).status is PutMessageStatus.PUT_OK
        end = store.commit_log.get_max_offset()
        monkeypatch.setattr(mapped_file, "map_file", failing_under("consumequeue"))
        single = await store.put_message(msg(topic="B", body=b"lost"))
        batch = await store.put_messages("C", 0, 0, 1, ("10.0.0.9", 4000), [m.BatchRecord(b"c0")])
        assert single.status is batch.status is PutMessageStatus.CREATE_MAPEDFILE_FAILED
        assert "Too many open files" in single.remark
        assert store.commit_log.get_max_offset() == end  # nothing written
        monkeypatch.undo()
        again = await store.put_message(msg(topic="B", body=b"b0"))
        assert again.status is PutMessageStatus.PUT_OK and again.append_result.logics_offset == 0
        assert bodies(store, "B") == [b"b0"]
        await store.shutdown()

        store = MessageStore(small_config(tmp_path), HOST)
        await store.start()
        assert bodies(store, "B") == [b"b0"] and bodies(store, "A") == [b"a0"]
        await store.shutdown()
    asyncio.run(main())


def test_an_index_file_that_cannot_be_created_costs_only_the_key_lookup(tmp_path, monkeypatch):
    async def main():
        store = MessageStore(small_config(tmp_path), HOST)
        await store.start()
        monkeypatch.setattr(mapped_file, "map_file", failing_under("index"))
        put = await store.put_message(msg(topic="K", body=b"k0", keys="key-1"))
        assert put.status is PutMessageStatus.PUT_OK
        assert bodies(store, "K") == [b"k0"]
        monkeypatch.undo()
        await store.shutdown()
    asyncio.run(main())
