"""Timer messages (RIP-43) through real `mqbroker` processes and PocketMQ's own 4.x-style client:
delivered at the time asked for (never before, within a second after), pending timers survive a
broker stop and a kill -9 (none lost), and the broker refuses a time beyond ``timerMaxDelaySec``
or one that is not a number with upstream's code and remark."""

from __future__ import annotations

import time

import orjson
import pytest

from pocketmq.client import Message, Producer
from pocketmq.client.errors import MQBrokerError
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.cluster import create_topic, pull_all, send_raw
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call

TOPIC = "TimerTopic"
QUEUES = 2


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def delivered(addr: str) -> dict[str, object]:
    """Every message of TOPIC on the broker, by UNIQ_KEY (a key seen twice keeps the last)."""
    return {msg.uniq_key: msg for q in range(QUEUES) for msg in pull_all(addr, TOPIC, q, timeout=5)}


def delivered_keys(addr: str) -> list[str]:
    return [msg.uniq_key for q in range(QUEUES) for msg in pull_all(addr, TOPIC, q, timeout=5)]


def routed_queues(namesrv: str) -> int:
    response = call(namesrv, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": TOPIC})
    if response.code != ResponseCode.SUCCESS:
        return 0
    return sum(q["writeQueueNums"] for q in orjson.loads(response.body)["queueDatas"])


@pytest.fixture
def cluster(tmp_path):
    namesrv = start_namesrv(tmp_path / "ns")
    brokers = []

    def broker(**extra):
        started = start_broker(tmp_path / "b", namesrv.addr, port=brokers[-1].port if brokers else None,
                               extra=extra)
        brokers.append(started)
        create_topic(started.addr, TOPIC, QUEUES)
        # Until the name server has the topic, a client would send by the auto-create route
        # (TBW102's 4 queues) and a queue id this topic does not have.
        wait_until(lambda: routed_queues(namesrv.addr) == QUEUES, 30, 0.1, f"{TOPIC} in the name server's route")
        return started

    yield namesrv, broker
    for started in brokers:
        started.kill()
    namesrv.kill()


def test_each_timer_property_is_delivered_on_time(cluster) -> None:
    namesrv, start = cluster
    broker = start(timerPrecisionMs=100)
    sent: dict[str, int] = {}
    with Producer("TimerPG", namesrv.addr) as producer:
        for name, setter, value in (("deliver", Message.set_deliver_time_ms, None),
                                    ("delay-sec", Message.set_delay_time_sec, 3),
                                    ("delay-ms", Message.set_delay_time_ms, 2500)):
            msg = Message(TOPIC, f"body of {name}".encode())
            at = now_ms()
            setter(msg, at + 3000 if value is None else value)
            result = producer.send(msg)
            sent[result.msg_id] = at + (3000 if value is None else value * 1000 if name == "delay-sec" else value)
    assert delivered(broker.addr) == {}  # all held back at first
    got = wait_until(lambda: (lambda d: d if len(d) == 3 else None)(delivered(broker.addr)), 30, 0.2,
                     "three timer messages")
    for key, due in sent.items():
        msg = got[key]
        # never early; for TIMER_DELAY_* the broker's own send-time clock starts the delay, a
        # little after ours, so "due" as computed here is a lower bound
        assert msg.store_timestamp >= due - 5, key
        assert msg.store_timestamp - due < 1000, f"{key} delivered {msg.store_timestamp - due} ms late"
        assert due - 5 <= int(msg.properties["TIMER_DEQUEUE_MS"]) <= msg.store_timestamp


def test_a_pending_timer_survives_a_broker_restart(cluster) -> None:
    namesrv, start = cluster
    broker = start()
    with Producer("TimerPG", namesrv.addr) as producer:
        msg = Message(TOPIC, b"across a restart")
        due = now_ms() + 12_000
        msg.set_deliver_time_ms(due)
        key = producer.send(msg).msg_id
    assert broker.terminate() == 0
    broker = start()
    got = wait_until(lambda: delivered(broker.addr).get(key), 60, 0.2, "the timer message after the restart")
    assert got.store_timestamp >= due
    assert delivered_keys(broker.addr).count(key) == 1


def test_kill_9_with_pending_timers_loses_none(cluster) -> None:
    namesrv, start = cluster
    broker = start()
    due: dict[str, int] = {}
    early: list[str] = []
    with Producer("TimerPG", namesrv.addr) as producer:
        for i in range(30):
            msg = Message(TOPIC, f"timer {i}".encode())
            at = now_ms() + (1500 if i < 10 else 9000 + 100 * i)  # ten due soon, twenty after the kill
            msg.set_deliver_time_ms(at)
            key = producer.send(msg).msg_id
            due[key] = at
            if i < 10:
                early.append(key)
    wait_until(lambda: set(early) <= set(delivered(broker.addr)), 30, 0.2, "the early timers before the kill")
    broker.kill()  # SIGKILL: no shutdown, no last checkpoint
    broker = start()
    got = wait_until(lambda: (lambda d: d if set(due) <= set(d) else None)(delivered(broker.addr)), 90, 0.5,
                     "every timer message after kill -9")
    for key, at in due.items():
        assert got[key].store_timestamp >= at, key
    keys = delivered_keys(broker.addr)
    assert all(keys.count(key) == 1 for key in set(due) - set(early))  # pending at the kill: exactly once


def test_beyond_timer_max_delay_is_refused_with_upstreams_remark(cluster) -> None:
    namesrv, start = cluster
    broker = start(timerMaxDelaySec=60)
    with Producer("TimerPG", namesrv.addr, retry_times=0) as producer:
        msg = Message(TOPIC, b"too far")
        msg.set_deliver_time_ms(now_ms() + 61_000)
        with pytest.raises(MQBrokerError) as err:
            producer.send(msg)
    assert err.value.code == ResponseCode.MESSAGE_ILLEGAL
    assert err.value.remark == ("timer message illegal, the delay time should not be bigger than the max delay "
                                "60000ms; or if set del msg, the delay time should be bigger than the current time")


def test_a_malformed_timer_deliver_ms_is_refused(cluster) -> None:
    _, start = cluster
    broker = start()
    for value in ("tomorrow", "1.7e12", "-", "99999999999999999999"):  # ("" is no property on the wire)
        response = send_raw(broker.addr, TOPIC, b"bad time", props={"TIMER_DELIVER_MS": value})
        assert response.code == ResponseCode.MESSAGE_ILLEGAL, value
        assert response.remark.startswith("timer message illegal"), value
    ok = send_raw(broker.addr, TOPIC, b"the broker still serves", props={"TIMER_DELIVER_MS": str(now_ms() - 1)})
    assert ok.code == ResponseCode.SUCCESS  # a time in the past: stored at once
    assert [m.body for m in pull_all(broker.addr, TOPIC, 0, timeout=5)] == [b"the broker still serves"]


def test_a_slave_restarted_as_master_delivers_what_was_pending_once(tmp_path) -> None:
    """The slave copies the master's timer checkpoint (GET_TIMER_CHECK_POINT, every 10 s). Started
    as the master on its own store, it delivers the timer that was still pending, and not again
    the one its old master had delivered before that copy."""
    from tests.support.cluster import start_master, start_slave, wait_replicated

    namesrv = start_namesrv(tmp_path / "ns")
    master = start_master(tmp_path / "m", namesrv.addr, role="ASYNC_MASTER")
    slave = start_slave(tmp_path / "s", namesrv.addr)
    promoted = None
    try:
        create_topic(master.addr, TOPIC, QUEUES)
        early = send_raw(master.addr, TOPIC, b"early", props={"TIMER_DELAY_MS": "1500", "UNIQ_KEY": "EARLY"})
        late_due = now_ms() + 50_000  # long after the promotion below, even on a loaded machine
        late = send_raw(master.addr, TOPIC, b"late", props={"TIMER_DELIVER_MS": str(late_due), "UNIQ_KEY": "LATE"})
        assert early.code == late.code == ResponseCode.SUCCESS
        wait_until(lambda: "EARLY" in delivered(master.addr), 30, 0.2, "the early timer on the master")
        checkpoint = tmp_path / "s" / "store" / "config" / "timerCheckpoint.json"
        wait_until(lambda: checkpoint.exists() and '"minPendingOffset":1' in checkpoint.read_text(), 40, 0.5,
                   "the slave's copy of the master's timer checkpoint")
        wait_replicated(master, slave)
        master.kill()
        assert slave.terminate() == 0
        promoted = start_master(tmp_path / "s", namesrv.addr, role="ASYNC_MASTER")
        create_topic(promoted.addr, TOPIC, QUEUES)
        got = wait_until(lambda: delivered(promoted.addr).get("LATE"), 90, 0.5, "the pending timer on the new master")
        assert got.store_timestamp >= late_due
        keys = delivered_keys(promoted.addr)
        assert keys.count("LATE") == 1 and keys.count("EARLY") == 1, keys
    finally:
        for broker in (master, slave, promoted):
            if broker is not None:
                broker.kill()
        namesrv.kill()


def test_a_committed_transactional_timer_message_waits_for_its_time(cluster) -> None:
    """The half message is stored as it is; the commit stores it in the timer topic, as upstream's
    EndTransactionProcessor, so it is delivered at its time, not at the commit."""
    import asyncio

    from pocketmq.client import AsyncTransactionProducer, LocalTransactionState

    namesrv, start = cluster
    broker = start(timerPrecisionMs=100)

    async def send() -> tuple[str, int]:
        producer = AsyncTransactionProducer("TimerTxPG", namesrv.addr,
                                            checker=lambda msg: LocalTransactionState.COMMIT_MESSAGE)
        async with producer:
            msg = Message(TOPIC, b"committed timer")
            due = now_ms() + 4000
            msg.set_deliver_time_ms(due)
            result = await producer.send_message_in_transaction(msg, lambda m, a: LocalTransactionState.COMMIT_MESSAGE)
            return result.send_result.msg_id, due

    key, due = asyncio.run(send())
    assert key not in delivered(broker.addr)  # committed, still waiting for its time
    got = wait_until(lambda: delivered(broker.addr).get(key), 30, 0.2, "the committed timer message")
    assert due <= got.store_timestamp < due + 1000
