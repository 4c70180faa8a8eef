"""Recovery: abnormal restart (abort file present) rebuilds consume queues and index, a torn or
corrupted tail is truncated and never served, offsets continue without gaps or reuse."""

import asyncio
import os
import shutil

from pocketmq.protocol import message as m
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus

from .helpers import HOST, msg, small_config


def run(coro):
    return asyncio.run(coro)


async def crash(store: MessageStore) -> None:
    """Stop tasks without flushing, checkpointing or deleting the abort file."""
    store.running = False
    for task in store._tasks:
        task.cancel()
    await asyncio.gather(*store._tasks, return_exceptions=True)
    store.allocator.shutdown()
    os.close(store._lock_fd)


async def fill(tmp_path, n=60, **overrides):
    config = small_config(tmp_path, **overrides)
    store = MessageStore(config, HOST)
    await store.start()
    results = [await store.put_message(msg(queue_id=i % 2, body=os.urandom(700), keys=f"k{i}")) for i in range(n)]
    return config, store, results


def all_messages(store, queue_id):
    out = []
    offset = 0
    while True:
        got = store.get_message("g", "T", queue_id, offset, 32)
        if got.status is not GetMessageStatus.FOUND:
            return out
        out += [m.decode_message(b) for b in got.buffers]
        offset = got.next_begin_offset


def test_abnormal_recovery_rebuilds_lost_consume_queues_and_index(tmp_path):
    async def main():
        config, store, results = await fill(tmp_path)
        await crash(store)
        assert (tmp_path / "abort").exists()
        shutil.rmtree(tmp_path / "consumequeue")
        shutil.rmtree(tmp_path / "index")
        store = MessageStore(config, HOST)
        await store.start()
        assert not store.last_exit_ok
        assert store.topic_queue_table == {("T", 0): 30, ("T", 1): 30}
        assert len(all_messages(store, 0)) == 30
        assert len(store.query_message("T", "k33", 32, 0, 2**62).buffers) == 1
        await store.shutdown()
    run(main())


def test_torn_tail_is_truncated_and_offsets_continue(tmp_path):
    async def main():
        config, store, results = await fill(tmp_path)
        await crash(store)
        last = results[-1].append_result
        path = store.commit_log.queue.find_mapped_file_by_offset(last.wrote_offset).path
        pos = last.wrote_offset % config.mappedFileSizeCommitLog
        with open(path, "r+b") as f:  # tear the last entry: zero its second half
            f.seek(pos + last.wrote_bytes // 2)
            f.write(bytes(last.wrote_bytes - last.wrote_bytes // 2))
        store = MessageStore(config, HOST)
        await store.start()
        assert store.get_max_phy_offset() == last.wrote_offset
        assert store.topic_queue_table[("T", 1)] == 29
        survivors = all_messages(store, 1)
        assert [d.queue_offset for d in survivors] == list(range(29))
        assert all(d.commit_log_offset < last.wrote_offset for d in survivors)
        r = await store.put_message(msg(queue_id=1))
        assert r.append_result.wrote_offset == last.wrote_offset and r.append_result.logics_offset == 29
        await store.shutdown()
    run(main())


def test_corrupted_body_crc_truncates_from_there(tmp_path):
    async def main():
        config, store, results = await fill(tmp_path)
        await crash(store)
        victim = results[40].append_result
        path = store.commit_log.queue.find_mapped_file_by_offset(victim.wrote_offset).path
        pos = victim.wrote_offset % config.mappedFileSizeCommitLog + 100  # inside the body
        with open(path, "r+b") as f:
            f.seek(pos)
            byte = f.read(1)
            f.seek(pos)
            f.write(bytes([byte[0] ^ 0xFF]))
        store = MessageStore(config, HOST)
        await store.start()
        assert store.get_max_phy_offset() == victim.wrote_offset
        assert store.topic_queue_table == {("T", 0): 20, ("T", 1): 20}
        for qid in (0, 1):
            assert all(d.commit_log_offset < victim.wrote_offset for d in all_messages(store, qid))
            cq = store._cq("T", qid)
            assert cq.max_physic_offset <= victim.wrote_offset
        later = results[50].append_result
        assert store.look_message_by_offset(later.wrote_offset) is None
        await store.shutdown()
        # the truncation is durable: a clean restart serves the same
        store = MessageStore(config, HOST)
        await store.start()
        assert store.get_max_phy_offset() == victim.wrote_offset
        await store.shutdown()
    run(main())


def test_clean_restart_with_hand_truncated_file(tmp_path):
    async def main():
        config, store, results = await fill(tmp_path)
        await store.shutdown()
        last = results[-1].append_result
        path = store.commit_log.queue.find_mapped_file_by_offset(last.wrote_offset).path
        with open(path, "r+b") as f:
            f.truncate(last.wrote_offset % config.mappedFileSizeCommitLog + 10)
        store = MessageStore(config, HOST)
        await store.start()
        assert store.get_max_phy_offset() == last.wrote_offset
        assert store.get_max_offset_in_queue("T", 1) == 29
        got = store.get_message("g", "T", 1, 29, 1)
        assert got.status is GetMessageStatus.OFFSET_OVERFLOW_ONE
        assert (await store.put_message(msg(queue_id=1))).status is PutMessageStatus.PUT_OK
        await store.shutdown()
    run(main())


def test_version_2_entries_of_long_topics_survive_both_restarts(tmp_path):
    """A POP retry topic of a long group and topic is over 127 bytes: stored as upstream 5 does,
    in version-2 entries, beside ordinary ones, and found again after a clean restart and after a
    crash that lost the consume queues."""
    long_topic = "%RETRY%" + "g" * 150 + "_" + "t" * 97  # 255 bytes, the longest a folder name takes

    def topics_of(store, topic):
        got = store.get_message("g", topic, 0, 0, 32)
        assert got.status is GetMessageStatus.FOUND
        return [(x.topic, x.magic_code, x.body) for x in map(m.decode_message, got.buffers)]

    expected_long = [(long_topic, m.MESSAGE_MAGIC_CODE_V2, b"L%d" % i) for i in range(5)]
    expected_short = [("T", m.MESSAGE_MAGIC_CODE, b"S%d" % i) for i in range(5)]

    async def main():
        config = small_config(tmp_path)
        store = MessageStore(config, HOST)
        await store.start()
        for i in range(5):
            for topic, body in ((long_topic, b"L%d" % i), ("T", b"S%d" % i)):
                assert (await store.put_message(msg(topic=topic, body=body))).status is PutMessageStatus.PUT_OK
        assert topics_of(store, long_topic) == expected_long
        await store.shutdown()

        store = MessageStore(config, HOST)
        await store.start()
        assert store.last_exit_ok
        assert topics_of(store, long_topic) == expected_long and topics_of(store, "T") == expected_short
        await crash(store)
        shutil.rmtree(tmp_path / "consumequeue")

        store = MessageStore(config, HOST)
        await store.start()
        assert not store.last_exit_ok
        assert store.topic_queue_table == {(long_topic, 0): 5, ("T", 0): 5}
        assert topics_of(store, long_topic) == expected_long and topics_of(store, "T") == expected_short
        await store.shutdown()
    run(main())
