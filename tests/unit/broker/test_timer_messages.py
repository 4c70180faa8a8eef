"""Timer messages (RIP-43) on a real store driven by a ManualClock: precision rounding, the
maximum delay, a time in the past, many timers in one millisecond, the clock stepping back, a
restart rebuilding the wheel from its checkpoint and the commit log, and a crash after
deliveries the checkpoint had not recorded yet (delivered again, never lost)."""

from __future__ import annotations

import asyncio

import pytest

from pocketmq.broker.timer import TimerMessageService
from pocketmq.clock import ManualClock
from pocketmq.protocol import message as m
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus
from pocketmq.store.timer import TIMER_TOPIC, timer_slot
from tests.unit.store.helpers import HOST, msg, small_config

T0 = 1_764_460_800_123  # 2025-11-30 00:00:00.123 UTC: not on a second


async def open_store(tmp_path, clock: ManualClock, flush_interval_ms: int = 0,
                     **config) -> tuple[MessageStore, TimerMessageService]:
    store = MessageStore(small_config(tmp_path, **config), HOST, clock=clock)
    await store.start()
    service = TimerMessageService(store, str(tmp_path), store.config.timerPrecisionMs, flush_interval_ms)
    service.load()
    return store, service


def real(store: MessageStore, topic: str = "T") -> list[m.MessageExt]:
    out: list[m.MessageExt] = []
    while True:
        got = store.get_message("g", topic, 0, len(out), 32)
        if got.status is not GetMessageStatus.FOUND:
            return out
        out += [m.decode_message(view) for view in got.buffers]


def test_precision_rounding_as_upstream() -> None:
    assert timer_slot(10_500, 1000) == 10_000
    assert timer_slot(11_000, 1000) == 10_000     # an exact multiple goes one slot earlier
    assert timer_slot(10_999, 1000) == 10_000
    assert timer_slot(10_050, 100) == 10_000


@pytest.mark.parametrize("offset_ms", [1, 500, 877, 1000, 1877, 60_000])
def test_delivered_within_one_precision_after_the_time(tmp_path, offset_ms: int) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, timer = await open_store(tmp_path, clock)
        deliver = T0 + offset_ms
        result = await store.put_message(msg(uniq="A", TIMER_DELIVER_MS=str(deliver)))
        assert result.status is PutMessageStatus.PUT_OK
        assert store.get_max_offset_in_queue(TIMER_TOPIC, 0) == 1 and real(store) == []
        clock.set_wall(deliver - 1)
        await timer.run_once()
        assert real(store) == []                       # never before the time asked for
        clock.set_wall(timer_slot(deliver, 1000) + 1000)  # the first precision boundary at or after it
        await timer.run_once()
        [out] = real(store)
        assert deliver <= out.store_timestamp < deliver + 1000
        assert out.properties["UNIQ_KEY"] == "A" and out.properties["TIMER_DELIVER_MS"] == str(deliver)
        assert out.properties["TIMER_OUT_MS"] == str(timer_slot(deliver, 1000))
        assert int(out.properties["TIMER_ENQUEUE_MS"]) == T0
        assert int(out.properties["TIMER_DEQUEUE_MS"]) == out.store_timestamp
        assert out.properties["REAL_TOPIC"] == "T" and out.properties["REAL_QID"] == "0"  # as Apache 5.3.3
        await timer.run_once()
        assert len(real(store)) == 1                   # once
        await store.shutdown()
    asyncio.run(main())


@pytest.mark.parametrize("props", [{"TIMER_DELAY_SEC": "3"}, {"TIMER_DELAY_MS": "3000"}])
def test_relative_delays(tmp_path, props: dict[str, str]) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, timer = await open_store(tmp_path, clock)
        assert (await store.put_message(msg(**props))).status is PutMessageStatus.PUT_OK
        clock.advance(2999)
        await timer.run_once()
        assert real(store) == []
        clock.advance(1000)
        await timer.run_once()
        assert len(real(store)) == 1
        await store.shutdown()
    asyncio.run(main())


def test_beyond_the_maximum_delay_is_refused(tmp_path) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, _ = await open_store(tmp_path, clock, timerMaxDelaySec=60)
        ok = await store.put_message(msg(TIMER_DELIVER_MS=str(T0 + 60_000)))
        assert ok.status is PutMessageStatus.PUT_OK
        refused = await store.put_message(msg(TIMER_DELIVER_MS=str(T0 + 60_001)))
        assert refused.status is PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL
        assert "bigger than the max delay 60000ms" in refused.remark
        assert (await store.put_message(msg(TIMER_DELAY_SEC="61"))).status is PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL
        assert store.get_max_offset_in_queue(TIMER_TOPIC, 0) == 1
        await store.shutdown()
    asyncio.run(main())


@pytest.mark.parametrize("bad", ["", "soon", "1.5e12", "12 ", "1_000", "٣", "99999999999999999999"])
def test_a_malformed_time_is_refused(tmp_path, bad: str) -> None:
    async def main() -> None:
        store, _ = await open_store(tmp_path, ManualClock(T0))
        result = await store.put_message(msg(TIMER_DELIVER_MS=bad))
        assert result.status is PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL
        assert real(store) == [] and store.get_max_offset_in_queue(TIMER_TOPIC, 0) == 0
        await store.shutdown()
    asyncio.run(main())


def test_timer_wheel_disabled_refuses_timer_messages(tmp_path) -> None:
    async def main() -> None:
        store, _ = await open_store(tmp_path, ManualClock(T0), timerWheelEnable=False)
        result = await store.put_message(msg(TIMER_DELIVER_MS=str(T0 + 5000)))
        assert result.status is PutMessageStatus.WHEEL_TIMER_NOT_ENABLE
        assert result.remark == "accurate timer message is not enabled, timerWheelEnable is false"
        await store.shutdown()
    asyncio.run(main())


@pytest.mark.parametrize("past", [0, 1, 86_400_000, T0])
def test_a_time_in_the_past_is_delivered_at_once(tmp_path, past: int) -> None:
    async def main() -> None:
        store, _ = await open_store(tmp_path, ManualClock(T0))
        await store.put_message(msg(TIMER_DELIVER_MS=str(T0 - past)))
        [out] = real(store)                            # stored in its topic straight away
        assert "TIMER_OUT_MS" not in out.properties
        assert store.get_max_offset_in_queue(TIMER_TOPIC, 0) == 0
        await store.shutdown()
    asyncio.run(main())


def test_a_delay_level_wins_over_timer_properties(tmp_path) -> None:
    async def main() -> None:
        store, _ = await open_store(tmp_path, ManualClock(T0))
        await store.put_message(msg(DELAY="1", TIMER_DELIVER_MS=str(T0 + 3_600_000)))
        assert store.get_max_offset_in_queue("SCHEDULE_TOPIC_XXXX", 0) == 1
        assert store.get_max_offset_in_queue(TIMER_TOPIC, 0) == 0
        await store.shutdown()
    asyncio.run(main())


def test_many_timers_in_the_same_millisecond_all_arrive_in_send_order(tmp_path) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, timer = await open_store(tmp_path, clock)
        for i in range(50):
            await store.put_message(msg(uniq=f"K{i:02d}", TIMER_DELIVER_MS=str(T0 + 2345)))
        clock.advance(3000)
        await timer.run_once()
        assert [out.properties["UNIQ_KEY"] for out in real(store)] == [f"K{i:02d}" for i in range(50)]
        await store.shutdown()
    asyncio.run(main())


def test_delivery_follows_the_time_not_the_send_order(tmp_path) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, timer = await open_store(tmp_path, clock)
        for key, later in (("late", 9000), ("early", 2000), ("middle", 5000)):
            await store.put_message(msg(uniq=key, TIMER_DELIVER_MS=str(T0 + later)))
        arrived: list[str] = []
        for _ in range(12):
            clock.advance(1000)
            await timer.run_once()
            arrived = [out.properties["UNIQ_KEY"] for out in real(store)]
        assert arrived == ["early", "middle", "late"]
        await store.shutdown()
    asyncio.run(main())


def test_clock_stepping_back_neither_redelivers_nor_loses(tmp_path) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, timer = await open_store(tmp_path, clock)
        await store.put_message(msg(uniq="first", TIMER_DELIVER_MS=str(T0 + 1000)))
        await store.put_message(msg(uniq="second", TIMER_DELIVER_MS=str(T0 + 10_000)))
        clock.advance(2000)
        await timer.run_once()
        assert [o.properties["UNIQ_KEY"] for o in real(store)] == ["first"]
        clock.step_wall(-60_000)                       # NTP steps the wall clock a minute back
        await store.put_message(msg(uniq="after-step", TIMER_DELAY_SEC="2"))
        await timer.run_once()
        assert [o.properties["UNIQ_KEY"] for o in real(store)] == ["first"]
        clock.advance(3000)                            # 2 s after the step: the relative one is due
        await timer.run_once()
        assert [o.properties["UNIQ_KEY"] for o in real(store)] == ["first", "after-step"]
        clock.advance(60_000 + 6000)                   # the wall clock reaches T0 + 10 s again
        await timer.run_once()
        assert [o.properties["UNIQ_KEY"] for o in real(store)] == ["first", "after-step", "second"]
        await store.shutdown()
    asyncio.run(main())


def test_restart_rebuilds_the_wheel_and_delivers_each_message_once(tmp_path) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, timer = await open_store(tmp_path, clock)
        for i, later in enumerate((1000, 30_000, 2000, 40_000, 3000)):
            await store.put_message(msg(uniq=f"M{i}", TIMER_DELIVER_MS=str(T0 + later)))
        clock.advance(5000)
        assert timer.runtime_info()["timerOffsetBehind"] == "5"
        await timer.run_once()                         # M0, M2, M4 delivered
        assert timer.runtime_info() == {"timerReadBehind": "0", "timerOffsetBehind": "0", "timerCongestNum": "2"}
        timer.persist()
        await store.shutdown()

        store, timer = await open_store(tmp_path, clock)
        assert timer.checkpoint().min_pending_offset == 1
        clock.advance(40_000)
        await timer.run_once()
        assert sorted(o.properties["UNIQ_KEY"] for o in real(store)) == ["M0", "M1", "M2", "M3", "M4"]
        await store.shutdown()
    asyncio.run(main())


def test_a_crash_before_the_checkpoint_redelivers_and_loses_nothing(tmp_path) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, timer = await open_store(tmp_path, clock, flush_interval_ms=600_000)
        await store.put_message(msg(uniq="early", TIMER_DELIVER_MS=str(T0 + 1000)))
        await store.put_message(msg(uniq="late", TIMER_DELIVER_MS=str(T0 + 20_000)))
        await timer.run_once()
        timer.persist()                                # the last checkpoint: nothing delivered yet
        clock.advance(3000)
        await timer.run_once()                         # "early" delivered, not checkpointed
        await store.shutdown()                         # (the service is abandoned as by kill -9)

        store, timer = await open_store(tmp_path, clock)
        clock.advance(20_000)
        await timer.run_once()
        keys = [o.properties["UNIQ_KEY"] for o in real(store)]
        assert sorted(set(keys)) == ["early", "late"]  # nothing lost
        assert keys.count("late") == 1 and keys.count("early") == 2  # at least once, as upstream
        await store.shutdown()
    asyncio.run(main())


def test_without_any_checkpoint_the_wheel_is_rebuilt_from_the_commit_log(tmp_path) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, _ = await open_store(tmp_path, clock)
        await store.put_message(msg(uniq="only", TIMER_DELIVER_MS=str(T0 + 7000)))
        await store.shutdown()
        store, timer = await open_store(tmp_path, clock)
        clock.advance(8000)
        await timer.run_once()
        assert [o.properties["UNIQ_KEY"] for o in real(store)] == ["only"]
        await store.shutdown()
    asyncio.run(main())


def test_pause_until_the_next_slot(tmp_path) -> None:
    async def main() -> None:
        clock = ManualClock(T0)
        store, timer = await open_store(tmp_path, clock)
        assert await timer.run_once() == 1.0           # idle: look again in a second
        await store.put_message(msg(TIMER_DELIVER_MS=str(T0 + 500)))
        pause = await timer.run_once()                 # slot T0 - 123 + 0 ... due at the next second
        assert 0 < pause <= 1.0
        assert pause == pytest.approx((timer_slot(T0 + 500, 1000) + 1000 - T0) / 1000)
        await store.shutdown()
    asyncio.run(main())


def test_a_precision_of_zero_stops_the_broker_at_startup() -> None:
    from pocketmq.broker.startup import check_configs
    from pocketmq.config import BrokerConfig, MessageStoreConfig
    assert check_configs(BrokerConfig(), MessageStoreConfig(timerPrecisionMs=0)) == "timerPrecisionMs must be > 0, not 0"
    assert check_configs(BrokerConfig(), MessageStoreConfig()) is None


def test_a_half_message_is_checked_but_timed_only_when_committed(tmp_path) -> None:
    async def main() -> None:
        store, _ = await open_store(tmp_path, ManualClock(T0))
        half = await store.put_message(msg(topic="RMQ_SYS_TRANS_HALF_TOPIC", TIMER_DELIVER_MS=str(T0 + 5000)))
        assert half.status is PutMessageStatus.PUT_OK
        assert store.get_max_offset_in_queue("RMQ_SYS_TRANS_HALF_TOPIC", 0) == 1
        assert store.get_max_offset_in_queue(TIMER_TOPIC, 0) == 0
        bad = await store.put_message(msg(topic="RMQ_SYS_TRANS_HALF_TOPIC", TIMER_DELIVER_MS="soon"))
        assert bad.status is PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL
        await store.shutdown()
    asyncio.run(main())
