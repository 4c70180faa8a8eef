"""The transaction check with an injected clock: a half message is checked once it is older than
transactionTimeOut on the broker's clock, on either side of every calendar edge; a wall clock
stepped back 10 s only postpones the check by the step. (A pass never re-checks the copy it
stored itself: it stops at the commit-log offset where the pass began, not at a timestamp a step
would confuse; the next pass re-checks, as upstream's does every transactionCheckInterval.)"""

from __future__ import annotations

import asyncio

import pytest

from pocketmq.broker.controller import BrokerController
from pocketmq.broker.transaction import CHECK_GROUP
from pocketmq.broker.topic_config import TRANS_HALF_TOPIC
from pocketmq.clock import ManualClock
from pocketmq.config import BrokerConfig, MessageStoreConfig
from pocketmq.protocol import message as m
from tests.support.clock_edges import BERLIN, EDGES, Edge, at, local_tz
from tests.unit.store.helpers import msg


async def broker_with_half(tmp_path, clock: ManualClock) -> BrokerController:
    config = BrokerConfig(brokerIP1="127.0.0.1", transactionTimeOut=6000)
    store_config = MessageStoreConfig(storePathRootDir=str(tmp_path), mappedFileSizeCommitLog=1024 * 1024)
    broker = BrokerController(config, store_config, clock=clock)
    await broker.store.start()
    half = msg(PGROUP="pg", UNIQ_KEY="U1")
    half.born_timestamp = clock.now_ms()
    broker.transactions.prepare_half(half)
    await broker.store.put_message(half)
    return broker


def check_times(broker: BrokerController) -> list[str]:
    """TRAN_MSG check counts of the copies in the half queue, oldest first."""
    got = broker.store.get_message(CHECK_GROUP, TRANS_HALF_TOPIC, 0, 0, 32)
    return [m.decode_message(b).properties.get(m.PROPERTY_TRANSACTION_CHECK_TIMES, "-") for b in got.buffers]


@pytest.mark.parametrize("edge", EDGES, ids=str)
def test_half_is_checked_after_the_timeout_across_an_edge(tmp_path, edge: Edge) -> None:
    async def main() -> None:
        with local_tz(edge.tz):
            clock = ManualClock(edge.ms - 3000)
            broker = await broker_with_half(tmp_path, clock)
            clock.advance(5999)
            await broker.transactions.check_once()
            assert check_times(broker) == ["-"]
            clock.advance(2)
            await broker.transactions.check_once()
            assert check_times(broker) == ["-", "1"]
            await broker.store.shutdown()
    asyncio.run(main())


def test_clock_stepped_back_postpones_the_check_by_the_step(tmp_path) -> None:
    async def main() -> None:
        with local_tz(BERLIN):
            clock = ManualClock(at("2026-12-31 23:59:55", BERLIN))
            broker = await broker_with_half(tmp_path, clock)
            clock.step_wall(-10_000)
            clock.advance(15_000)                            # 5 s after the store time on the wall clock
            await broker.transactions.check_once()
            assert check_times(broker) == ["-"]
            clock.advance(1_001)
            await broker.transactions.check_once()
            assert check_times(broker) == ["-", "1"]
            await broker.store.shutdown()
    asyncio.run(main())
