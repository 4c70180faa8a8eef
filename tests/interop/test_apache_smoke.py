"""The interop tooling itself, proven against a REAL Apache RocketMQ 4.9 cluster: each official
client (Java, Go, C++) sends and receives with bodies, keys, tags and properties intact, and the
official mqadmin sees the broker. If these fail, PocketMQ interop failures mean nothing."""

from __future__ import annotations

import time

import pytest

from clients import (
    cpp_produce,
    cpp_pull_consume,
    cpp_push_consume,
    java_mqadmin,
    messages,
    run_go_driver,
    run_java_driver,
    sends,
    start_java_driver,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]

N = 12


def create_topic(ns: str, topic: str, queues: int = 4) -> None:
    events = run_java_driver(["admin", "create-topic", "--topic", topic, "--queues", queues], namesrv=ns)
    assert events[0]["event"] == "create-topic", events


def expected(n: int, tag: str, color: str = "c") -> dict[str, tuple]:
    return {f"key-{i}": (f"body-{i}", tag, f"{color}-{i}") for i in range(n)}


def received(msgs: list[dict], prop: str = "color") -> dict[str, tuple]:
    return {m["keys"]: (m["body"], m["tags"], m["properties"].get(prop)) for m in msgs}


def test_mqadmin_cluster_list_shows_the_broker(apache_cluster):
    # A freshly booted Apache broker fails GET_BROKER_RUNTIME_INFO (NoSuchElementException from
    # its empty stats history) for its first seconds; clusterList then prints an empty #Version.
    deadline = time.monotonic() + 60
    while True:
        cp = java_mqadmin(["clusterList"], namesrv=apache_cluster.namesrv_addr, check=True)
        rows = [line.split() for line in cp.stdout.splitlines() if line.startswith("DefaultCluster")]
        assert rows, cp.stdout + cp.stderr
        if rows[0][4].startswith("V4_") or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert rows[0][1] == "broker-a" and rows[0][2] == "0" and rows[0][3] == apache_cluster.broker.addr
    assert rows[0][4] == "V4_9_7"


def test_java_admin_cluster_info_and_topic_route(apache_cluster, unique):
    ns = apache_cluster.namesrv_addr
    info = run_java_driver(["admin", "cluster-info"], namesrv=ns)[0]
    assert info["clusterAddrTable"] == {"DefaultCluster": ["broker-a"]}
    assert info["brokerAddrTable"]["broker-a"]["brokerAddrs"] == {"0": apache_cluster.broker.addr}

    topic = unique("T")
    create_topic(ns, topic, queues=3)
    route = run_java_driver(["admin", "topic-route", "--topic", topic], namesrv=ns)[0]["route"]
    assert [(q["brokerName"], q["readQueueNums"], q["writeQueueNums"], q["perm"]) for q in route["queueDatas"]] \
        == [("broker-a", 3, 3, 6)]
    assert route["brokerDatas"][0]["brokerAddrs"] == {"0": apache_cluster.broker.addr}


def test_java_produce_then_push_consume(apache_cluster, unique):
    ns, topic = apache_cluster.namesrv_addr, unique("T")
    create_topic(ns, topic)
    produced = run_java_driver(["produce", "--topic", topic, "--count", N, "--tags", "TagA",
                                "--prop", "color=c-{i}"], namesrv=ns)
    ok = sends(produced)
    assert len(ok) == N and {e["status"] for e in ok} == {"SEND_OK"}, produced
    assert {e["queueId"] for e in ok} == {0, 1, 2, 3}

    events = run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"),
                              "--count", N, "--timeout", 90], namesrv=ns)
    assert events[-1]["event"] == "done", events[-1]
    msgs = messages(events)
    assert received(msgs) == expected(N, "TagA")
    # The client's msgId (UNIQ_KEY) and the broker's offsetMsgId survive the round trip.
    assert {(m["msgId"], m["offsetMsgId"]) for m in msgs} == {(e["msgId"], e["offsetMsgId"]) for e in ok}
    by_key = {m["keys"]: m for m in msgs}
    for e in ok:
        m = by_key[f"key-{e['i']}"]
        assert (m["queueId"], m["queueOffset"]) == (e["queueId"], e["queueOffset"])


def test_java_async_oneway_batch_and_lite_pull(apache_cluster, unique):
    ns, topic = apache_cluster.namesrv_addr, unique("T")
    create_topic(ns, topic)
    for mode, keys in (("async", "a-{i}"), ("oneway", "o-{i}"), ("batch", "b-{i}")):
        events = run_java_driver(["produce", "--topic", topic, "--mode", mode, "--count", 4,
                                  "--keys", keys, "--tags", mode], namesrv=ns)
        assert events[-1] == {"event": "done", "sent": 4, "failed": 0}, events
    events = run_java_driver(["lite-pull-consume", "--topic", topic, "--group", unique("G"),
                              "--count", 12, "--timeout", 90], namesrv=ns)
    assert events[-1]["event"] == "done", events[-1]
    got = {(m["keys"], m["tags"]) for m in messages(events)}
    assert got == {(f"{p}-{i}", mode) for p, mode in (("a", "async"), ("o", "oneway"), ("b", "batch"))
                   for i in range(4)}


def test_java_consumer_started_first_gets_tag_filtered_messages(apache_cluster, unique):
    ns, topic = apache_cluster.namesrv_addr, unique("T")
    create_topic(ns, topic)
    with start_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--expr", "keep",
                            "--from", "last", "--count", 5, "--timeout", 90], namesrv=ns) as consumer:
        consumer.wait_for("started", 60)
        run_java_driver(["produce", "--topic", topic, "--count", 10, "--tags", "drop"], namesrv=ns)
        run_java_driver(["produce", "--topic", topic, "--count", 5, "--tags", "keep", "--keys", "k-{i}"],
                        namesrv=ns)
        events = consumer.wait(120)
    assert events[-1]["event"] == "done", events[-1]
    assert sorted(m["keys"] for m in messages(events)) == [f"k-{i}" for i in range(5)]
    assert {m["tags"] for m in messages(events)} == {"keep"}


def test_go_produce_then_push_consume(apache_cluster, unique):
    ns, topic = apache_cluster.namesrv_addr, unique("T")
    create_topic(ns, topic)
    produced = run_go_driver(["produce", "--topic", topic, "--count", N, "--tags", "TagG",
                              "--prop", "color=g-{i}"], namesrv=ns)
    ok = sends(produced)
    assert len(ok) == N and {e["status"] for e in ok} == {"SEND_OK"}, produced

    events = run_go_driver(["push-consume", "--topic", topic, "--group", unique("G"),
                            "--count", N, "--timeout", 90], namesrv=ns)
    assert events[-1]["event"] == "done", events[-1]
    msgs = messages(events)
    assert received(msgs) == expected(N, "TagG", "g")
    assert {m["msgId"] for m in msgs} == {e["msgId"] for e in ok}


def test_cpp_produce_then_push_and_pull_consume(apache_cluster, unique):
    ns, topic = apache_cluster.namesrv_addr, unique("T")
    create_topic(ns, topic)
    produced = cpp_produce(ns, topic, N, tags="TagC", props={"color": "p-{i}"})
    ok = sends(produced)
    assert len(ok) == N and {e["status"] for e in ok} == {"SEND_OK"}, produced

    events = cpp_push_consume(ns, topic, N, group=unique("G"), want_props=["color"], timeout=90)
    assert events[-1]["event"] == "done", events[-1]
    assert received(messages(events)) == expected(N, "TagC", "p")

    events = cpp_pull_consume(ns, topic, N, group=unique("G"), want_props=["color"], timeout=60)
    assert events[-1]["event"] == "done", events[-1]
    assert received(messages(events)) == expected(N, "TagC", "p")


def test_cross_client_cpp_to_java_and_java_to_go(apache_cluster, unique):
    ns, topic = apache_cluster.namesrv_addr, unique("T")
    create_topic(ns, topic)
    cpp_produce(ns, topic, 4, tags="X", keys="cpp-{i}", props={"color": "x-{i}"})
    run_java_driver(["produce", "--topic", topic, "--count", 4, "--tags", "X", "--keys", "java-{i}",
                     "--prop", "color=x-{i}"], namesrv=ns)
    for run in (run_java_driver, run_go_driver):
        events = run(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 8,
                      "--timeout", 90], namesrv=ns)
        assert events[-1]["event"] == "done", (run.__name__, events[-1])
        got = {(m["keys"], m["tags"], m["properties"].get("color")) for m in messages(events)}
        assert got == {(f"{src}-{i}", "X", f"x-{i}") for src in ("cpp", "java") for i in range(4)}
