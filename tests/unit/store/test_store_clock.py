"""The store with an injected clock across every calendar edge: store timestamps are the clock's,
index lookups by key and time range find messages stored on either side of an edge (and in 2038),
search by time lands on the right unit at a consume-queue file boundary, index files keep their
order when DST repeats an hour, a wall clock stepped back 10 s neither stops the store nor
loses consume-queue entries in crash recovery, and daily statistics roll over once per day."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from pocketmq.clock import ManualClock
from pocketmq.protocol import message as m
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus
from pocketmq.store.stats import StoreStatsService
from tests.support.clock_edges import BERLIN, EDGES, Edge, at, local_tz

from .helpers import HOST, msg, small_config
from .test_recovery import all_messages, crash


def run(coro):
    return asyncio.run(coro)


async def started(tmp_path, clock: ManualClock, **overrides) -> MessageStore:
    store = MessageStore(small_config(tmp_path, **overrides), HOST, clock=clock)
    await store.start()
    return store


@pytest.mark.parametrize("edge", EDGES, ids=str)
def test_store_timestamps_and_key_lookups_across_an_edge(tmp_path, edge: Edge) -> None:
    async def main() -> None:
        with local_tz(edge.tz):
            clock = ManualClock(edge.ms - 1500)
            store = await started(tmp_path, clock)
            stored = {}
            for i, step in enumerate((0, 499, 1000, 1, 1999)):  # edge-1500 .. edge+1999
                clock.advance(step)
                result = await store.put_message(msg(keys=f"k{i}", uniq=f"U{i}"))
                assert result.status is PutMessageStatus.PUT_OK
                stored[f"k{i}"] = clock.now_ms()
            for key, when in stored.items():
                found = store.query_message("T", key, 32, when - 1000, when + 1000).buffers
                assert [m.decode_message(b).store_timestamp for b in found] == [when], key
                assert store.query_message("T", key, 32, 0, 2**62).buffers
            offsets = [store.get_offset_in_queue_by_time("T", 0, when) for when in stored.values()]
            assert offsets == [0, 1, 2, 3, 4]
            await store.shutdown()
    run(main())


def test_search_by_time_at_a_consume_queue_file_boundary(tmp_path) -> None:
    """64 units per consume-queue file; message i is stored at t0 + 10 * i ms."""
    async def main() -> None:
        clock = ManualClock(at("2026-12-31 23:59:59", BERLIN))
        store = await started(tmp_path, clock, mappedFileSizeConsumeQueue=20 * 64,
                              mappedFileSizeCommitLog=1024 * 1024)
        t0 = clock.now_ms()
        for _ in range(200):
            await store.put_message(msg(body=b"x"))
            clock.advance(10)
        assert len(store._cq("T", 0).queue.files) == 4
        for i in (0, 62, 63, 64, 65, 127, 128, 191, 192, 199):
            assert store.get_offset_in_queue_by_time("T", 0, t0 + 10 * i) == i
            assert store.get_offset_in_queue_by_time("T", 0, t0 + 10 * i + 3) == i       # nearest
            assert store.get_offset_in_queue_by_time("T", 0, t0 + 10 * i - 3) == i
        assert store.get_offset_in_queue_by_time("T", 0, t0 - 60_000) == 0
        assert store.get_offset_in_queue_by_time("T", 0, t0 + 3_600_000) == 199
        await store.shutdown()
    run(main())


def test_index_files_keep_their_order_when_dst_repeats_an_hour(tmp_path) -> None:
    """Berlin, 25 October 2026: a file begun at 02:50 CEST and the next at 02:10 CET (an hour
    later, but named earlier). After a restart the newer one must still be the last."""
    async def main() -> None:
        with local_tz(BERLIN):
            clock = ManualClock(at("2026-10-25 02:50:00", BERLIN, fold=0))
            overrides = dict(maxIndexNum=8, maxHashSlotNum=8)
            store = await started(tmp_path, clock, **overrides)
            for i in range(6):                       # fills the first file (7 entries)
                await store.put_message(msg(keys=f"a{i}"))
            clock.advance(20 * 60_000)               # 02:10 CET, the second 02:10
            for i in range(6):
                await store.put_message(msg(keys=f"b{i}"))
            names = [f.file_name for f in store.index_service.files]
            assert len(names) >= 2 and names != sorted(names)  # the newer file's name sorts first
            newest = store.index_service.last_update()
            await store.shutdown()
            store = await started(tmp_path, clock, **overrides)
            assert [f.file_name for f in store.index_service.files] == names
            assert store.index_service.last_update() == newest
            for key in ("a0", "a5", "b0", "b5"):
                assert len(store.query_message("T", key, 32, 0, 2**62).buffers) == 1, key
            await store.shutdown()
    run(main())


def test_clock_stepped_back_10s_keeps_serving(tmp_path) -> None:
    async def main() -> None:
        with local_tz(BERLIN):
            clock = ManualClock(at("2026-12-31 23:59:55", BERLIN))
            store = await started(tmp_path, clock)
            for i in range(50):
                assert (await store.put_message(msg(keys=f"k{i}"))).status is PutMessageStatus.PUT_OK
                clock.advance(200)
            clock.step_wall(-10_000)
            for i in range(50, 100):
                assert (await store.put_message(msg(keys=f"k{i}"))).status is PutMessageStatus.PUT_OK
                clock.advance(200)
            assert [d.queue_offset for d in all_messages(store, 0)] == list(range(100))
            for i in range(100):
                assert len(store.query_message("T", f"k{i}", 32, 0, 2**62).buffers) == 1
            assert 0 <= store.get_offset_in_queue_by_time("T", 0, clock.now_ms() - 5000) < 100
            await store.shutdown()
    run(main())


def test_crash_recovery_after_a_clock_step_back_keeps_every_entry(tmp_path) -> None:
    """Checkpoint at T; the clock steps back 10 s; new commit-log files begin "before" T. By
    timestamps alone recovery would start in a file after the last flushed consume-queue entry
    and never rebuild the ones in between."""
    async def main() -> None:
        clock = ManualClock(at("2026-11-25 20:31:20", BERLIN))
        overrides = dict(mappedFileSizeCommitLog=16 * 1024, flushIntervalConsumeQueue=3_600_000,
                         flushIntervalCommitLog=3_600_000)
        store = await started(tmp_path, clock, **overrides)
        for i in range(20):
            await store.put_message(msg(queue_id=i % 2, body=os.urandom(700), keys=f"k{i}"))
            clock.advance(100)
        store.flush_commit_log(0)
        await store.flush_logics(0)                                # the checkpoint: all 20 flushed
        snapshot = tmp_path.parent / (tmp_path.name + "-flushed")
        shutil.copytree(tmp_path / "consumequeue", snapshot / "consumequeue")
        shutil.copytree(tmp_path / "index", snapshot / "index")
        clock.step_wall(-10_000)
        for i in range(20, 120):
            await store.put_message(msg(queue_id=i % 2, body=os.urandom(700), keys=f"k{i}"))
            clock.advance(10)
        store.flush_commit_log(0)                                  # the commit log is durable...
        await crash(store)                                         # ...the queues after T are not
        for name in ("consumequeue", "index"):
            shutil.rmtree(tmp_path / name)
            shutil.copytree(snapshot / name, tmp_path / name)
        store = await started(tmp_path, clock, **overrides)
        assert not store.last_exit_ok
        assert [d.queue_offset for d in all_messages(store, 0)] == list(range(60))
        assert [d.queue_offset for d in all_messages(store, 1)] == list(range(60))
        for i in range(120):
            assert len(store.query_message("T", f"k{i}", 32, 0, 2**62).buffers) == 1, i
        await store.shutdown()
    run(main())


def test_delete_when_hour_skipped_by_dst_still_deletes(tmp_path) -> None:
    async def main() -> None:
        with local_tz(BERLIN):
            clock = ManualClock(at("2026-03-27 12:00:00", BERLIN))
            store = await started(tmp_path, clock, deleteWhen="02", fileReservedTime=1)
            for _ in range(100):
                await store.put_message(msg(body=os.urandom(2000)))
            files = [mf.file_name for mf in store.commit_log.queue.files]
            for mf in store.commit_log.queue.files:   # files age by mtime: make them two days old
                os.utime(mf.path, (clock.now_ms() / 1000 - 86_400, clock.now_ms() / 1000 - 86_400))
            clock.set_wall(at("2026-03-29 01:30:00", BERLIN))
            assert await store.run_clean_once() == []
            clock.set_wall(at("2026-03-29 03:30:00", BERLIN))   # 02:00 never came that night
            assert await store.run_clean_once() == files[:-1]
            await store.shutdown()
    run(main())


def test_daily_totals_roll_once_per_local_day() -> None:
    with local_tz(BERLIN):
        clock = ManualClock(at("2026-10-24 23:59:59", BERLIN))
        stats = StoreStatsService(clock)
        stats.record_put(10, 1.0, count=5)
        clock.advance(2000)                                  # midnight: 25 Oct, a 25-hour day
        stats.sample()
        assert (stats.put_total_yesterday_morning, stats.put_total_today_morning) == (0, 5)
        stats.record_put(10, 1.0, count=3)
        clock.step_wall(-10_000)                             # back across midnight: no new day
        stats.sample()
        clock.advance(10_000)
        stats.sample()
        assert (stats.put_total_yesterday_morning, stats.put_total_today_morning) == (0, 5)
        clock.set_wall(at("2026-10-25 23:59:59", BERLIN))
        stats.sample()
        assert stats.put_total_today_morning == 5           # 25 hours after the last midnight
        clock.advance(1000)
        stats.sample()
        assert (stats.put_total_yesterday_morning, stats.put_total_today_morning) == (5, 8)


def test_tps_is_measured_on_the_monotonic_clock() -> None:
    clock = ManualClock(at("2026-12-31 23:59:50", BERLIN))
    stats = StoreStatsService(clock)
    for second in range(11):
        stats.record_put(10, 1.0, count=100)
        stats.sample()
        clock.advance(1000)
        if second == 5:
            clock.step_wall(-10_000)                         # NTP step: TPS must not notice
    assert stats.runtime_info()["putTps"].split()[0] == "100.0"
