"""Delayed messages with an injected clock: due exactly when the level's delay has passed on
either side of every calendar edge, and delivered at once (not after the step) when the wall
clock has been stepped back further than the whole delay, as upstream's correctDeliverTimestamp."""

from __future__ import annotations

import asyncio

import pytest

from pocketmq.broker.schedule import SCHEDULE_TOPIC, ScheduleMessageService, corrected_due_time
from pocketmq.clock import ManualClock
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus
from tests.support.clock_edges import BERLIN, EDGES, Edge, at, local_tz
from tests.unit.store.helpers import HOST, msg, small_config

LEVELS = "1s 5s 10s"


async def delayed_store(tmp_path, clock: ManualClock) -> tuple[MessageStore, ScheduleMessageService]:
    store = MessageStore(small_config(tmp_path, messageDelayLevel=LEVELS), HOST, clock=clock)
    await store.start()
    return store, ScheduleMessageService(store, str(tmp_path), LEVELS)


def delivered(store: MessageStore) -> int:
    got = store.get_message("g", "T", 0, 0, 32)
    return len(got.buffers) if got.status is GetMessageStatus.FOUND else 0


@pytest.mark.parametrize("edge", EDGES, ids=str)
def test_delay_level_is_due_exactly_after_its_delay(tmp_path, edge: Edge) -> None:
    async def main() -> None:
        with local_tz(edge.tz):
            clock = ManualClock(edge.ms - 2500)
            store, schedule = await delayed_store(tmp_path, clock)
            await store.put_message(msg(DELAY="2"))               # 5 s: due at edge + 2500
            assert store.get_max_offset_in_queue(SCHEDULE_TOPIC, 1) == 1
            clock.advance(4999)
            pause = await schedule._deliver_due(2, 1, 5000)
            assert delivered(store) == 0 and 0 < pause <= 0.001
            clock.advance(1)
            await schedule._deliver_due(2, 1, 5000)
            assert delivered(store) == 1
            await store.shutdown()
    asyncio.run(main())


def test_clock_stepped_back_past_the_delay_delivers_now(tmp_path) -> None:
    async def main() -> None:
        with local_tz(BERLIN):
            clock = ManualClock(at("2026-12-31 23:59:59", BERLIN))
            store, schedule = await delayed_store(tmp_path, clock)
            await store.put_message(msg(DELAY="1"))               # 1 s
            clock.step_wall(-10_000)                              # due 11 s ahead now: > 1 s
            await schedule._deliver_due(1, 0, 1000)
            assert delivered(store) == 1
            await store.shutdown()
    asyncio.run(main())


def test_corrected_due_time() -> None:
    assert corrected_due_time(10_500, 10_000, 1000) == 10_500    # due within the delay: wait
    assert corrected_due_time(11_000, 10_000, 1000) == 11_000
    assert corrected_due_time(11_001, 10_000, 1000) == 10_000    # further than a delay: now
