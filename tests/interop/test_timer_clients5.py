"""Timer messages from the official RocketMQ 5 clients: the Python (rocketmq-python-client) and
Java (rocketmq-client-java) producers set a delivery timestamp and send through `mqbroker
--enable-proxy`; the message is held back until then, stored in its topic within a second after
it (the broker's timer wheel), and the same clients' SimpleConsumers
receive it no earlier, carrying its delivery timestamp. (timerPrecisionMs 100 here, so that "within a
second" leaves room for a loaded machine; the default precision is proven in tests/unit.) A time beyond the proxy's
maxDelayTimeMills is refused with ILLEGAL_DELIVERY_TIME. The official Java 4.9 client, unchanged,
asks for a timer with the TIMER_DELAY_SEC property over remoting and gets it delivered on time."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from clients import messages, run_java5_driver, run_java_driver, run_py5_driver, sends
from tests.support.cluster import create_topic, pull_all
from tests.support.processes import free_port, start_broker, start_namesrv

pytestmark = pytest.mark.interop

QUEUES = 2


class Env:
    def __init__(self, namesrv: str, broker: str, endpoint: str) -> None:
        self.namesrv, self.broker, self.endpoint = namesrv, broker, endpoint


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, interop_ready: None) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("timer5")
    port = free_port()
    with start_namesrv(tmp / "ns") as ns, \
            start_broker(tmp / "broker", ns.addr, extra={"grpcServerPort": port, "timerPrecisionMs": 100},
                         flags=["--enable-proxy"]) as broker:
        yield Env(ns.addr, broker.addr, f"127.0.0.1:{port}")


def stored(env: Env, topic: str) -> dict[str, object]:
    """The topic's messages on the broker, by id (UNIQ_KEY)."""
    return {m.uniq_key: m for q in range(QUEUES) for m in pull_all(env.broker, topic, q, timeout=5)}


def check_timer_delivery(env: Env, topic: str, sent: dict, events: list[dict]) -> None:
    assert events[-1] == {"event": "done", "count": 1}, events[-3:]
    [got] = [e for e in events if e["event"] == "msg"]
    due = sent["deliverMs"]
    assert got["msgId"] == sent["msgId"]
    assert got["receivedAt"] >= due, f"received {due - got['receivedAt']} ms early"
    assert got["deliveryTimestamp"] == due
    on_broker = stored(env, topic)[sent["msgId"]]
    assert due <= on_broker.store_timestamp < due + 1000, on_broker.store_timestamp - due
    assert on_broker.properties["TIMER_DELIVER_MS"] == str(due)


def test_python5_delivery_timestamp_arrives_at_its_time(env: Env, unique) -> None:
    topic, group = unique("T"), unique("GID")
    create_topic(env.broker, topic, queues=QUEUES)
    # rocketmq-python-client 5.1.2 puts Message.delivery_timestamp into Timestamp.seconds, so the
    # driver sets whole seconds (see docs/rocketmq5.md)
    [sent] = sends(run_py5_driver(["produce", "--topic", topic, "--body", "py-timer", "--delay-s", 10],
                                  endpoints=env.endpoint))
    assert stored(env, topic) == {}  # held back by the timer wheel
    events = run_py5_driver(["simple-consume", "--topic", topic, "--group", group, "--count", 1, "--timeout", 90],
                            endpoints=env.endpoint, timeout=150)
    check_timer_delivery(env, topic, sent, events)


def test_java5_delivery_timestamp_arrives_at_its_time(env: Env, unique) -> None:
    topic, group = unique("T"), unique("GID")
    create_topic(env.broker, topic, queues=QUEUES)
    [sent] = sends(run_java5_driver(["produce", "--topic", topic, "--body", "java-timer", "--delay-ms", 10_500],
                                    endpoints=env.endpoint))
    assert stored(env, topic) == {}
    events = run_java5_driver(["simple-consume", "--topic", topic, "--group", group, "--count", 1, "--timeout", 90],
                              endpoints=env.endpoint, timeout=150)
    check_timer_delivery(env, topic, sent, events)


def test_python5_delivery_beyond_the_maximum_is_an_illegal_delivery_time(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=QUEUES)
    events = run_py5_driver(["produce", "--topic", topic, "--delay-s", 2 * 86400], endpoints=env.endpoint,
                            check=False)
    assert events[-1]["event"] == "error", events
    assert "40012" in events[-1]["error"], events  # ILLEGAL_DELIVERY_TIME (maxDelayTimeMills: one day)
    assert stored(env, topic) == {}


def test_java5_delivery_beyond_the_maximum_is_an_illegal_delivery_time(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=QUEUES)
    events = run_java5_driver(["produce", "--topic", topic, "--delay-ms", 2 * 86_400_000], endpoints=env.endpoint,
                              check=False)
    assert events[-1]["event"] == "error", events
    assert "40012" in events[-1]["error"] or "ILLEGAL_DELIVERY_TIME" in events[-1]["error"], events
    assert stored(env, topic) == {}


def test_java4_official_client_timer_delay_sec_over_remoting(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=QUEUES)
    [sent] = sends(run_java_driver(["produce", "--topic", topic, "--count", 1, "--prop", "TIMER_DELAY_SEC=4"],
                                   namesrv=env.namesrv))
    consumed = messages(run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 1,
                                         "--timeout", 90], namesrv=env.namesrv))
    [got] = consumed
    assert got["msgId"] == sent["msgId"]
    enqueued = int(got["properties"]["TIMER_ENQUEUE_MS"])  # when the broker took it: the delay starts there
    assert enqueued + 4000 <= got["storeTimestamp"] < enqueued + 5000
    assert got["properties"]["TIMER_DELAY_SEC"] == "4"
