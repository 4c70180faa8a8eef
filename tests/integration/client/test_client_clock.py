"""PocketMQ's client given a clock (ClientConfig.clock) set 2^31 ms and more into a month, on
Europe/Berlin time, sending to a real Apache RocketMQ 4.9 and to PocketMQ: every send succeeds,
the born timestamp is the clock's, and the unique id's span is Java's 32 bits, which the broker
indexes so the message is found by it."""

from __future__ import annotations

import pytest

from pocketmq.client import AsyncProducer, Message, SendStatus
from pocketmq.client.admin import AsyncAdmin
from pocketmq.client.config import ClientConfig
from pocketmq.clock import ManualClock
from tests.support.clock_edges import BERLIN, at, local_tz

from .conftest import run
from .test_client import _create_topic

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]


def test_sends_from_the_25th_evening(cluster, unique):
    ns = cluster.namesrv_addr
    topic = unique("T")

    async def main() -> None:
        await _create_topic(ns, topic)
        with local_tz(BERLIN):
            clock = ManualClock(at("2026-11-25 20:31:23.648", BERLIN))     # 2^31 ms into November
            config = ClientConfig(namesrv_addr=ns, clock=clock)
            async with AsyncProducer(unique("PG"), config=config) as producer:
                results = []
                for i in range(5):
                    results.append(await producer.send(Message(topic, f"m{i}".encode(), keys=f"k{i}")))
                    clock.advance(86_400_000)                                # a day later each time
            assert [r.status for r in results] == [SendStatus.SEND_OK] * 5
            async with AsyncAdmin(ns) as admin:
                for i, result in enumerate(results):
                    assert int(result.msg_id[-12:-4], 16) == 2**31 + i * 86_400_000      # ms since Nov 1st
                    found = await admin.query_message(topic, result.msg_id, unique_key=True)
                    assert [m.born_timestamp for m in found] == [at("2026-11-25 20:31:23.648", BERLIN)
                                                                 + i * 86_400_000]
    run(main())
