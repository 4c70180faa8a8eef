"""The official RocketMQ 5 clients — Python (rocketmq-python-client 5.1.2) and Java
(rocketmq-client-java 5.0.7), both gRPC — send through `mqproxy` (cluster mode) to a real PocketMQ
broker, and the official Java 4.9 client reads the messages back from the broker over remoting:
ids (UNIQ_KEY), bodies, tags, keys and user properties survive, FIFO message groups keep their
order, a delivery time is honoured."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from clients import messages, run_java5_driver, run_java_driver, run_py5_driver, sends
from tests.support.cluster import create_topic
from tests.support.processes import free_port, start_broker, start_namesrv, start_proxy, wait_until

pytestmark = pytest.mark.interop


class Env:
    def __init__(self, namesrv: str, broker: str, endpoint: str) -> None:
        self.namesrv, self.broker, self.endpoint = namesrv, broker, endpoint


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, interop_ready: None) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("py5")
    # timerPrecisionMs 100: a delivery time is met within a second with room for a loaded machine
    with start_namesrv(tmp / "ns") as ns, start_broker(tmp / "broker", ns.addr, extra={"timerPrecisionMs": 100}) \
            as broker, start_proxy(tmp / "proxy", ns.addr) as proxy:
        yield Env(ns.addr, broker.addr, proxy.endpoint)


def test_python5_producer_through_the_proxy_java4_consumer_reads_back(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=4)
    produced = run_py5_driver(["produce", "--topic", topic, "--count", 8, "--body", "py5", "--tag", "TagA",
                               "--keys", "order-1", "--prop", "color=blue"], endpoints=env.endpoint)
    ok = sends(produced)
    assert len(ok) == 8, produced
    consumed = run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 8,
                                "--timeout", 90], namesrv=env.namesrv)
    assert consumed[-1]["event"] == "done", consumed[-1]
    got = {m["msgId"]: m for m in messages(consumed)}
    assert set(got) == {e["msgId"] for e in ok}
    for e in ok:
        m = got[e["msgId"]]
        assert (m["body"], m["tags"], m["keys"]) == (e["body"], "TagA", "order-1")
        assert m["properties"]["color"] == "blue"
        assert m["properties"]["UNIQ_KEY"] == e["msgId"]
    assert len({m["queueId"] for m in got.values()}) > 1  # spread over the queues


def test_python5_fifo_group_keeps_its_order(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=4)
    ok = sends(run_py5_driver(["produce", "--topic", topic, "--count", 6, "--body", "step", "--group", "order-7"],
                              endpoints=env.endpoint))
    assert len(ok) == 6
    consumed = messages(run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 6,
                                         "--orderly", "--timeout", 90], namesrv=env.namesrv))
    assert len({m["queueId"] for m in consumed}) == 1
    assert [m["body"] for m in consumed] == [f"step-{i}" for i in range(6)]


def test_python5_delivery_timestamp_is_held_back(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=4)
    sent_at = time.time()
    # rocketmq-python-client 5.1.2 copies Message.delivery_timestamp into Timestamp.seconds: only
    # a value in seconds arrives as the time meant (see docs/rocketmq5.md).
    ok = sends(run_py5_driver(["produce", "--topic", topic, "--body", "later", "--delay-s", 3],
                              endpoints=env.endpoint))
    assert len(ok) == 1
    consumed = messages(run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 1,
                                         "--timeout", 90], namesrv=env.namesrv))
    assert [m["msgId"] for m in consumed] == [ok[0]["msgId"]]
    # delivered by the broker's timer wheel: never before the time asked for, within a second after
    due = ok[0]["deliverMs"]
    assert due <= consumed[0]["storeTimestamp"] < due + 1000
    assert due / 1000 >= sent_at + 2


def test_python5_delivery_timestamp_in_milliseconds_is_an_illegal_delivery_time(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=4)
    events = run_py5_driver(["produce", "--topic", topic, "--delay-ms", 3000], endpoints=env.endpoint, check=False)
    assert events[-1]["event"] == "error"
    assert "40012" in events[-1]["error"], events  # ILLEGAL_DELIVERY_TIME, not an internal error


def test_python5_producer_on_an_unknown_topic_fails_to_start(env: Env, unique) -> None:
    events = run_py5_driver(["produce", "--topic", unique("Missing")], endpoints=env.endpoint, check=False)
    assert events[-1]["event"] == "error"
    assert "route" in events[-1]["error"]


def test_java5_producer_through_the_proxy_java4_consumer_reads_back(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=4)
    produced = run_java5_driver(["produce", "--topic", topic, "--count", 6, "--body", "j5", "--tag", "TagB",
                                 "--keys", "k-5", "--prop", "size=L"], endpoints=env.endpoint)
    ok = sends(produced)
    assert len(ok) == 6, produced
    consumed = run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 6,
                                "--timeout", 90], namesrv=env.namesrv)
    got = {m["msgId"]: m for m in messages(consumed)}
    assert set(got) == {e["msgId"] for e in ok}
    for e in ok:
        m = got[e["msgId"]]
        assert (m["body"], m["tags"], m["keys"], m["properties"]["size"]) == (e["body"], "TagB", "k-5", "L")


def first_deliveries(consumed: list[dict]) -> list[dict]:
    """Deliveries in order, each message id once: delivery is at least once (a client's send
    retry after a timeout on a loaded machine stores a second copy with the same id)."""
    seen: set[str] = set()
    out = []
    for m in consumed:
        if m["msgId"] not in seen:
            seen.add(m["msgId"])
            out.append(m)
    return out


def test_java5_fifo_and_delay(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=4)
    fifo = sends(run_java5_driver(["produce", "--topic", topic, "--count", 5, "--body", "f", "--group", "g-1"],
                                  endpoints=env.endpoint))
    sent_at = time.time()
    delayed = sends(run_java5_driver(["produce", "--topic", topic, "--body", "d", "--delay-ms", 2000],
                                     endpoints=env.endpoint))
    assert len(fifo) == 5 and len(delayed) == 1
    consumed = first_deliveries(messages(run_java_driver(
        ["push-consume", "--topic", topic, "--group", unique("G"), "--count", 6, "--orderly", "--timeout", 90],
        namesrv=env.namesrv)))
    in_group = [m for m in consumed if m["body"].startswith("f-")]
    assert [m["body"] for m in in_group] == [f"f-{i}" for i in range(5)]
    assert len({m["queueId"] for m in in_group}) == 1
    [late] = [m for m in consumed if m["body"] == "d"]
    assert late["msgId"] == delayed[0]["msgId"]
    due = delayed[0]["deliverMs"]
    assert due / 1000 >= sent_at + 1.5
    assert due <= late["storeTimestamp"] < due + 1000  # the broker's timer wheel, not a delay level


def test_python5_producer_against_local_mode_endpoints_reaches_every_broker(tmp_path, unique, interop_ready) -> None:
    """`mqbroker --enable-proxy` on two brokers of one host: the client dials one endpoint, learns
    the other from the route, and its messages land on both brokers."""
    ports = {"broker-a": free_port(), "broker-b": free_port()}
    topic = unique("T")
    with start_namesrv(tmp_path / "ns") as ns, \
            start_broker(tmp_path / "a", ns.addr, name="broker-a", extra={"grpcServerPort": ports["broker-a"]},
                         flags=["--enable-proxy"]) as a, \
            start_broker(tmp_path / "b", ns.addr, name="broker-b", extra={"grpcServerPort": ports["broker-b"]},
                         flags=["--enable-proxy"]) as b:
        create_topic(a.addr, topic, queues=2)
        create_topic(b.addr, topic, queues=2)
        wait_until(lambda: len(sends(run_py5_driver(["produce", "--topic", topic, "--body", "probe"],
                                                    endpoints=f"127.0.0.1:{ports['broker-a']}", check=False))) == 1,
                   30, 0.5, "the topic through broker-a's endpoint")
        ok = sends(run_py5_driver(["produce", "--topic", topic, "--count", 12, "--body", "local"],
                                  endpoints=f"127.0.0.1:{ports['broker-a']}"))
        assert len(ok) == 12
        consumed = messages(run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"),
                                             "--count", 13, "--timeout", 90], namesrv=ns.addr))
        bodies = {m["body"] for m in consumed}
        assert bodies == {"probe"} | {f"local-{i}" for i in range(12)}
        assert {m["storeHost"] for m in consumed if m["body"].startswith("local-")} == \
            {f"/{a.addr}", f"/{b.addr}"}


def test_python5_transactions_commit_and_rollback(env: Env, unique) -> None:
    topic = unique("T")
    create_topic(env.broker, topic, queues=4)
    committed = sends(run_py5_driver(["produce", "--topic", topic, "--count", 3, "--body", "yes",
                                      "--transaction", "commit"], endpoints=env.endpoint))
    rolled_back = sends(run_py5_driver(["produce", "--topic", topic, "--count", 2, "--body", "no",
                                        "--transaction", "rollback"], endpoints=env.endpoint))
    assert len(committed) == 3 and len(rolled_back) == 2
    consumed = messages(run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 3,
                                         "--timeout", 90], namesrv=env.namesrv))
    assert {m["msgId"] for m in consumed} == {e["msgId"] for e in committed}
    assert {m["body"] for m in consumed} == {"yes-0", "yes-1", "yes-2"}


def test_python5_orphan_transaction_is_checked_back_over_telemetry(tmp_path, unique, interop_ready) -> None:
    """A half message nobody commits: the broker's check-back reaches the live producer through
    the proxy's Telemetry stream, the checker says COMMIT, and consumers get the message."""
    topic = unique("T")
    fast_check = {"transactionCheckInterval": 1000, "transactionTimeOut": 1000}
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr, extra=fast_check) as broker, \
            start_proxy(tmp_path / "proxy", ns.addr) as proxy:
        create_topic(broker.addr, topic, queues=4)
        events = run_py5_driver(["produce", "--topic", topic, "--body", "orphan", "--transaction", "orphan",
                                 "--check", "commit", "--wait-check", 60], endpoints=proxy.endpoint)
        [sent] = sends(events)
        assert [e["msgId"] for e in events if e["event"] == "check"][:1] == [sent["msgId"]]
        consumed = messages(run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"),
                                             "--count", 1, "--timeout", 60], namesrv=ns.addr))
        assert [m["msgId"] for m in consumed] == [sent["msgId"]]
        assert consumed[0]["body"] == "orphan"


def test_python5_simple_consumer_receives_acks_and_gets_unacked_again(env: Env, unique) -> None:
    """SimpleConsumer over the broker's POP: every message is received; the ones not acked on
    their first delivery come back after the invisible time as delivery attempt 2, with the same
    message id; acked ones never come back."""
    topic, group = unique("T"), unique("GID")
    create_topic(env.broker, topic, queues=2)
    ok = sends(run_py5_driver(["produce", "--topic", topic, "--count", 3, "--body", "pop", "--tag", "TagP"],
                              endpoints=env.endpoint))
    ok += sends(run_java_driver(["produce", "--topic", topic, "--count", 1, "--tags", "TagP"], namesrv=env.namesrv))
    assert len(ok) == 4  # three from the 5.x client over gRPC, one from the 4.9 client over remoting
    events = run_py5_driver(["simple-consume", "--topic", topic, "--group", group, "--count", 4, "--invisible", 10,
                             "--skip-ack-first", "--timeout", 90], endpoints=env.endpoint, timeout=150)
    assert events[-1] == {"event": "done", "count": 4}, events[-3:]
    deliveries = [e for e in events if e["event"] == "msg"]
    by_id: dict[str, list[dict]] = {}
    for e in deliveries:
        by_id.setdefault(e["msgId"], []).append(e)
    assert set(by_id) == {e["msgId"] for e in ok}
    for msg_id, seen in by_id.items():
        attempts = [d["attempt"] for d in seen]
        assert attempts[0] == 1 and 2 in attempts and attempts == sorted(attempts), seen
        assert {(d["body"], d["tag"], d["topic"]) for d in seen} == {(seen[0]["body"], "TagP", topic)}
    assert sorted(d[0]["body"] for d in by_id.values()) == ["body-0", "pop-0", "pop-1", "pop-2"]


def test_python5_push_consumer_retries_what_its_listener_failed(env: Env, unique) -> None:
    """PushConsumer: QueryAssignment, ReceiveMessage with auto-renew, ack on SUCCESS, and on
    FAILURE a ChangeInvisibleDuration by the group's backoff, after which the message comes again."""
    topic, group = unique("T"), unique("GID")
    create_topic(env.broker, topic, queues=2)
    ok = sends(run_py5_driver(["produce", "--topic", topic, "--count", 3, "--body", "push"], endpoints=env.endpoint))
    assert len(ok) == 3
    events = run_py5_driver(["push-consume", "--topic", topic, "--group", group, "--count", 3, "--skip-ack-first",
                             "--timeout", 90], endpoints=env.endpoint, timeout=150)
    assert events[-1] == {"event": "done", "count": 3}, events[-5:]
    by_id: dict[str, list[int]] = {}
    for e in events:
        if e["event"] == "msg":
            by_id.setdefault(e["msgId"], []).append(e["attempt"])
    assert set(by_id) == {e["msgId"] for e in ok}
    for attempts in by_id.values():
        assert attempts[0] == 1 and 2 in attempts and attempts == sorted(attempts)


def test_java5_simple_consumer_receives_and_acks(env: Env, unique) -> None:
    topic, group = unique("T"), unique("GID")
    create_topic(env.broker, topic, queues=2)
    ok = sends(run_java5_driver(["produce", "--topic", topic, "--count", 4, "--body", "j5pop", "--tag", "TagJ"],
                                endpoints=env.endpoint))
    assert len(ok) == 4
    events = run_java5_driver(["simple-consume", "--topic", topic, "--group", group, "--count", 4, "--timeout", 90],
                              endpoints=env.endpoint, timeout=150)
    assert events[-1] == {"event": "done", "count": 4}, events[-5:]
    got = [e for e in events if e["event"] == "msg"]
    assert {e["msgId"] for e in got} == {e["msgId"] for e in ok}
    assert {(e["tag"], e["attempt"]) for e in got} == {("TagJ", 1)}
    assert sorted(e["body"] for e in got) == [f"j5pop-{i}" for i in range(4)]
