"""Our Python client through a broker-set failure: kill -9 of broker-a's master mid-run. The
producer's sends keep succeeding through broker-b (retries and the fault strategy steer away
from the dead broker), and the push consumer keeps reading broker-a's messages from its slave."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from pocketmq.client import AsyncProducer, AsyncPushConsumer, Message
from tests.support.cluster import create_topic, start_master, start_slave, wait_replicated, wait_topic
from pocketmq.remoting.codes import RequestCode
from tests.support.processes import start_namesrv, wait_until
from tests.support.rpc import call

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]

TOPIC = "FailoverT"


def test_producer_and_consumer_ride_out_a_master_kill(tmp_path: Path, procs) -> None:
    ns = start_namesrv(tmp_path / "ns")
    procs.append(ns)
    master_a = start_master(tmp_path / "a", ns.addr, "broker-a", role="SYNC_MASTER")
    slave_a = start_slave(tmp_path / "a-s", ns.addr, "broker-a")
    master_b = start_master(tmp_path / "b", ns.addr, "broker-b", role="ASYNC_MASTER")
    procs += [master_a, slave_a, master_b]
    for broker in (master_a, master_b):
        create_topic(broker.addr, TOPIC)
    wait_topic(ns.addr, TOPIC)
    wait_replicated(master_a, slave_a)
    # The slave copies its master's topics every 10 s; it serves a topic only once it knows it.
    wait_until(lambda: TOPIC in call(slave_a.addr, RequestCode.GET_ALL_TOPIC_CONFIG).body_bytes().decode(),
               30, 0.5, "the slave to copy the topic config")

    async def main() -> tuple[dict[str, str], list[str], set[str], set[str]]:
        sent: dict[str, str] = {}  # body -> broker name it was stored on
        failures: list[str] = []
        running: set[str] = set()  # a consumer running across the kill
        late: set[str] = set()  # a consumer group that starts only after the kill
        producer = AsyncProducer("FailoverPG", ns.addr, send_timeout=3.0, retry_times=2)
        consumer = AsyncPushConsumer("FailoverCG", ns.addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET",
                                     listener=lambda msgs, ctx: running.update(m.body.decode() for m in msgs))
        consumer.subscribe(TOPIC)
        async with producer, consumer:
            async def send_range(start: int, stop: int) -> None:
                for i in range(start, stop):
                    body = f"m{i}"
                    try:
                        result = await producer.send(Message(TOPIC, body.encode()))
                        sent[body] = result.message_queue.brokerName
                    except Exception as exc:  # a failed send after all retries
                        failures.append(f"{body}: {exc}")

            await send_range(0, 200)
            assert {"broker-a", "broker-b"} <= set(sent.values())
            master_a.kill()  # kill -9: no unregister, the name server learns from the closed connection
            await send_range(200, 400)
            late_consumer = AsyncPushConsumer("FailoverLateCG", ns.addr, consume_from_where="CONSUME_FROM_FIRST_OFFSET",
                                              listener=lambda msgs, ctx: late.update(m.body.decode() for m in msgs))
            late_consumer.subscribe(TOPIC)
            async with late_consumer:
                deadline = time.monotonic() + 90
                while not (set(sent) <= running and set(sent) <= late) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
        return sent, failures, running, late

    sent, failures, running, late = asyncio.run(main())
    assert failures == []
    assert len(sent) == 400
    after_kill = {body: broker for body, broker in sent.items() if int(body[1:]) >= 200}
    assert set(after_kill.values()) == {"broker-b"}, "no send after the kill may land on the dead master"
    on_a = {body for body, broker in sent.items() if broker == "broker-a"}
    assert on_a and on_a <= late, "a group started after the kill read broker-a's messages from its slave"
    assert set(sent) == running == late
