"""MessageStore: put/get, statuses, filters, batch, index, lookups, restart, limits, HA hooks."""

import asyncio
import os
import struct

import pytest

from pocketmq.protocol import message as m
from pocketmq.store.mapped_file import MappedFile
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus

from .helpers import HOST, msg, small_config


def run(coro):
    return asyncio.run(coro)


async def started(config, **kw) -> MessageStore:
    store = MessageStore(config, HOST, **kw)
    await store.start()
    return store


def test_put_assigns_offsets_and_get_returns_mapped_slices(tmp_path):
    async def main():
        store = await started(small_config(tmp_path))
        results = [await store.put_message(msg(queue_id=i % 2, body=bytes([i]) * 50)) for i in range(10)]
        assert [r.status for r in results] == [PutMessageStatus.PUT_OK] * 10
        assert [r.append_result.logics_offset for r in results] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
        offsets = [r.append_result.wrote_offset for r in results]
        assert offsets == sorted(offsets) and offsets[0] == 0
        assert results[1].append_result.wrote_offset == results[0].append_result.wrote_bytes
        got = store.get_message("g", "T", 1, 0, 32)
        assert got.status is GetMessageStatus.FOUND and got.message_count == 5
        assert all(isinstance(b, memoryview) for b in got.buffers)
        decoded = [m.decode_message(b) for b in got.buffers]
        assert [d.queue_offset for d in decoded] == [0, 1, 2, 3, 4]
        assert [d.body[0] for d in decoded] == [1, 3, 5, 7, 9]
        assert decoded[0].msg_id == results[1].append_result.msg_id
        assert decoded[0].store_host == HOST and decoded[0].born_host == ("10.0.0.9", 4000)
        assert got.next_begin_offset == 5 and got.min_offset == 0 and got.max_offset == 5
        got.release()
        await store.shutdown()
    run(main())


def test_get_statuses(tmp_path):
    async def main():
        store = await started(small_config(tmp_path))
        assert store.get_message("g", "T", 0, 0, 1).status is GetMessageStatus.NO_MATCHED_LOGIC_QUEUE
        for _ in range(3):
            await store.put_message(msg())
        assert store.get_message("g", "T", 0, 3, 1).status is GetMessageStatus.OFFSET_OVERFLOW_ONE
        bad = store.get_message("g", "T", 0, 9, 1)
        assert bad.status is GetMessageStatus.OFFSET_OVERFLOW_BADLY and bad.next_begin_offset == 0
        one = store.get_message("g", "T", 0, 1, 1)
        assert one.status is GetMessageStatus.FOUND and one.message_count == 1 and one.next_begin_offset == 2
        await store.shutdown()
    run(main())


def test_tag_filter_and_message_filter(tmp_path):
    class OnlyBodyB:
        def is_matched_by_consume_queue(self, tags_code):
            return True

        def is_matched_by_commit_log(self, raw):
            return m.decode_message(raw).body == b"B"

    async def main():
        store = await started(small_config(tmp_path))
        for i in range(6):
            tag = "TagA" if i % 2 else "TagB"
            await store.put_message(msg(tags=tag, body=tag[-1].encode()))
        a = store.get_message("g", "T", 0, 0, 32, {2598919})
        assert [m.decode_message(b).tags for b in a.buffers] == ["TagA"] * 3
        none = store.get_message("g", "T", 0, 0, 32, {12345})
        assert none.status is GetMessageStatus.NO_MATCHED_MESSAGE and none.next_begin_offset == 6
        b = store.get_message("g", "T", 0, 0, 32, None, OnlyBodyB())
        assert [bytes(m.decode_message(x).body) for x in b.buffers] == [b"B"] * 3
        await store.shutdown()
    run(main())


def test_transfer_limits_in_memory(tmp_path):
    async def main():
        store = await started(small_config(tmp_path, maxTransferCountOnMessageInMemory=4))
        for _ in range(10):
            await store.put_message(msg())
        got = store.get_message("g", "T", 0, 0, 32)
        assert got.message_count == 4 and got.next_begin_offset == 4
        await store.shutdown()
    run(main())


def test_roll_over_writes_blank_magic(tmp_path):
    async def main():
        config = small_config(tmp_path)
        store = await started(config)
        body = b"y" * 3000
        results = [await store.put_message(msg(body=body)) for _ in range(30)]
        files = store.commit_log.queue.files
        assert len(files) >= 2
        first = files[0]
        last_in_first = max(r.append_result.wrote_offset + r.append_result.wrote_bytes for r in results
                            if r.append_result.wrote_offset < config.mappedFileSizeCommitLog)
        remain = config.mappedFileSizeCommitLog - last_in_first
        assert struct.unpack_from(">ii", first.mm, last_in_first) == (remain, m.BLANK_MAGIC_CODE)
        assert files[1].file_name == f"{config.mappedFileSizeCommitLog:020d}"
        got = store.get_message("g", "T", 0, 0, 32)
        assert got.message_count == 30
        await store.shutdown()
    run(main())


def test_batch_put(tmp_path):
    async def main():
        store = await started(small_config(tmp_path))
        await store.put_message(msg())
        records = [m.BatchRecord(f"b{i}".encode(), f"UNIQ_KEY\x01U{i}\x02TAGS\x01TagA") for i in range(5)]
        result = await store.put_messages("T", 0, 0, 5, ("10.0.0.9", 1), records, extra_properties="WAIT\x01true")
        assert result.status is PutMessageStatus.PUT_OK
        ar = result.append_result
        assert ar.logics_offset == 1 and ar.msg_num == 5 and len(ar.msg_id.split(",")) == 5
        got = store.get_message("g", "T", 0, 1, 32, {2598919})
        decoded = [m.decode_message(b) for b in got.buffers]
        assert [d.body for d in decoded] == [f"b{i}".encode() for i in range(5)]
        assert [d.queue_offset for d in decoded] == [1, 2, 3, 4, 5]
        assert decoded[2].properties == {"UNIQ_KEY": "U2", "TAGS": "TagA", "WAIT": "true"}
        assert [d.msg_id for d in decoded] == ar.msg_id.split(",")
        q = store.query_message("T", "U3", 32, 0, 2**62)
        assert [m.decode_message(b).body for b in q.buffers] == [b"b3"]
        await store.shutdown()
    run(main())


def test_index_query_and_lookups(tmp_path):
    async def main():
        store = await started(small_config(tmp_path, maxIndexNum=50))
        results = []
        for i in range(120):  # several index files
            results.append(await store.put_message(msg(keys=f"k{i} shared", uniq=f"U{i}")))
        q = store.query_message("T", "k77", 32, 0, 2**62)
        assert [m.decode_message(b).keys for b in q.buffers] == ["k77 shared"]
        assert q.index_last_update_phyoffset == results[-1].append_result.wrote_offset
        shared = store.query_message("T", "shared", 10, 0, 2**62)
        assert len(shared.buffers) == 10
        assert store.query_message("Other", "k77", 32, 0, 2**62).buffers == []
        r = results[5].append_result
        view = store.look_message_by_offset(r.wrote_offset)
        assert m.decode_message(view).keys == "k5 shared"
        assert len(store.look_message_by_offset(r.wrote_offset, r.wrote_bytes)) == r.wrote_bytes
        assert store.get_commit_log_offset_in_queue("T", 0, 5) == r.wrote_offset
        assert store.get_message_store_timestamp("T", 0, 5) == r.store_timestamp
        assert store.get_earliest_message_time("T", 0) == results[0].append_result.store_timestamp
        await store.shutdown()
    run(main())


def test_offset_in_queue_by_time(tmp_path):
    async def main():
        store = await started(small_config(tmp_path))
        stamps = []
        for _ in range(3):
            r1 = await store.put_message(msg())
            stamps.append(r1.append_result.store_timestamp)
            await asyncio.sleep(0.005)
        assert store.get_offset_in_queue_by_time("T", 0, stamps[1]) == 1
        assert store.get_offset_in_queue_by_time("T", 0, stamps[0] - 10_000) == 0
        assert store.get_offset_in_queue_by_time("T", 0, stamps[2] + 10_000) == 2
        await store.shutdown()
    run(main())


def test_clean_restart_keeps_everything(tmp_path):
    async def main():
        config = small_config(tmp_path)
        store = await started(config)
        for i in range(200):
            await store.put_message(msg(queue_id=i % 3, body=os.urandom(400), keys=f"k{i}"))
        max_phy = store.get_max_phy_offset()
        table = dict(store.topic_queue_table)
        await store.shutdown()
        assert not os.path.exists(tmp_path / "abort")
        store = await started(config)
        assert store.last_exit_ok
        assert store.get_max_phy_offset() == max_phy and store.topic_queue_table == table
        r = await store.put_message(msg(queue_id=1))
        assert r.append_result.wrote_offset >= max_phy and r.append_result.logics_offset == table[("T", 1)]
        assert len(store.query_message("T", "k150", 32, 0, 2**62).buffers) == 1
        await store.shutdown()
    run(main())


def test_limits(tmp_path):
    async def main():
        store = await started(small_config(tmp_path, maxMessageSize=2000))
        big = await store.put_message(msg(body=b"z" * 3000))
        assert big.status is PutMessageStatus.MESSAGE_ILLEGAL and "maxMessageSize" in big.remark
        long_topic = await store.put_message(msg(topic="t" * (m.MAX_STORED_TOPIC_LENGTH + 1)))
        assert long_topic.status is PutMessageStatus.MESSAGE_ILLEGAL
        huge_props = await store.put_message(msg(X="v" * 40000))
        assert huge_props.status is PutMessageStatus.PROPERTIES_SIZE_EXCEEDED
        assert (await store.put_message(msg())).status is PutMessageStatus.PUT_OK
        await store.shutdown()
        refused = await store.put_message(msg())
        assert refused.status is PutMessageStatus.SERVICE_NOT_AVAILABLE
    run(main())


def test_delay_message_goes_to_schedule_topic(tmp_path):
    async def main():
        store = await started(small_config(tmp_path))
        r = await store.put_message(msg(topic="Real", queue_id=3, DELAY="3"))
        got = store.get_message("g", "SCHEDULE_TOPIC_XXXX", 2, 0, 1)
        d = m.decode_message(got.buffers[0])
        assert d.properties["REAL_TOPIC"] == "Real" and d.properties["REAL_QID"] == "3"
        unit = store._cq("SCHEDULE_TOPIC_XXXX", 2).get_unit(0)
        assert unit[2] == r.append_result.store_timestamp + 10_000
        await store.shutdown()
    run(main())


def test_sync_flush_group_commit_batches_fsyncs(tmp_path, monkeypatch):
    async def main():
        store = await started(small_config(tmp_path, flushDiskType="SYNC_FLUSH"))
        calls = []
        real = MappedFile.sync

        def counting(mapped_file):
            calls.append(mapped_file)
            real(mapped_file)
        monkeypatch.setattr(MappedFile, "sync", counting)
        results = await asyncio.gather(*(store.put_message(msg()) for _ in range(64)))
        assert all(r.status is PutMessageStatus.PUT_OK for r in results)
        assert store.flushed_where >= max(r.append_result.wrote_offset + r.append_result.wrote_bytes for r in results)
        assert 1 <= len(calls) < 16
        await store.shutdown()
    run(main())


def test_sync_flush_timeout(tmp_path):
    async def main():
        store = await started(small_config(tmp_path, flushDiskType="SYNC_FLUSH", syncFlushTimeout=100))
        release = asyncio.Event()
        import threading
        gate = threading.Event()
        original = store.flush_commit_log_until
        store.flush_commit_log_until = lambda target: (gate.wait(5), original(target))[1]
        r = await store.put_message(msg())
        assert r.status is PutMessageStatus.FLUSH_DISK_TIMEOUT and r.append_result.is_ok()
        no_wait = await store.put_message(msg(WAIT="false"))
        assert no_wait.status is PutMessageStatus.PUT_OK
        gate.set()
        release.set()
        await store.shutdown()
    run(main())


def test_replication_waiter_status_wins(tmp_path):
    async def main():
        store = await started(small_config(tmp_path, brokerRole="SYNC_MASTER"))
        seen = []

        async def waiter(end_offset):
            seen.append(end_offset)
            return PutMessageStatus.FLUSH_SLAVE_TIMEOUT
        store.replication_waiter = waiter
        r = await store.put_message(msg())
        assert r.status is PutMessageStatus.FLUSH_SLAVE_TIMEOUT
        assert seen == [r.append_result.wrote_offset + r.append_result.wrote_bytes]
        await store.shutdown()
    run(main())


def test_slave_refuses_puts_and_replicates_raw_bytes(tmp_path):
    async def main():
        master = await started(small_config(tmp_path / "m"))
        slave = await started(small_config(tmp_path / "s", brokerRole="SLAVE"))
        arrivals = []
        slave.message_arriving_listener = lambda *a: arrivals.append(a[:3])
        assert (await slave.put_message(msg())).status is PutMessageStatus.SERVICE_NOT_AVAILABLE
        for i in range(100):
            await master.put_message(msg(queue_id=i % 2, body=os.urandom(900), keys=f"k{i}"))
        offset = 0
        while offset < master.get_max_phy_offset():
            data = master.get_commit_log_data(offset)
            chunk = bytes(data[:32768])
            assert slave.append_to_commit_log(offset, chunk)
            offset += len(chunk)
        assert not slave.append_to_commit_log(offset + 5, b"x")
        assert slave.get_max_phy_offset() == master.get_max_phy_offset()
        assert slave.topic_queue_table == master.topic_queue_table
        a = master.get_message("g", "T", 1, 0, 32)
        b = slave.get_message("g", "T", 1, 0, 32)
        assert [bytes(x) for x in a.buffers] == [bytes(x) for x in b.buffers]
        assert len(slave.query_message("T", "k42", 32, 0, 2**62).buffers) == 1
        assert len(arrivals) == 100 and arrivals[-1][2] == 50
        await master.shutdown()
        await slave.shutdown()
    run(main())


def test_arriving_listener_and_runtime_info(tmp_path):
    async def main():
        store = await started(small_config(tmp_path))
        calls = []
        store.message_arriving_listener = lambda *args: calls.append(args)
        r = await store.put_message(msg(tags="TagA"))
        assert calls == [("T", 0, 1, 2598919, r.append_result.store_timestamp, {"TAGS": "TagA"})]
        info = store.get_runtime_info()
        for key in ("commitLogMinOffset", "commitLogMaxOffset", "commitLogDiskRatio", "dispatchBehindBytes",
                    "remainHowManyDataToFlush", "putTps", "getFoundTps", "getMissTps", "getTotalTps",
                    "getTransferedTps", "msgPutTotalTodayNow", "putMessageTimesTotal"):
            assert isinstance(info[key], str), key
        assert info["msgPutTotalTodayNow"] == "1" and len(info["putTps"].split()) == 3
        assert info["commitLogMaxOffset"] == str(store.get_max_phy_offset())
        await store.shutdown()
    run(main())


def test_delete_topics(tmp_path):
    async def main():
        store = await started(small_config(tmp_path))
        await store.put_message(msg(topic="A"))
        await store.put_message(msg(topic="B"))
        assert store.clean_unused_topic({"A"}) == 1
        assert store.get_max_offset_in_queue("B", 0) == 0 and store.get_max_offset_in_queue("A", 0) == 1
        assert not (tmp_path / "consumequeue" / "B").exists()
        await store.shutdown()
    run(main())


def test_second_store_on_same_path_is_refused(tmp_path):
    async def main():
        store = await started(small_config(tmp_path))
        with pytest.raises(RuntimeError):
            await started(small_config(tmp_path))
        await store.shutdown()
    run(main())
