"""The official RocketMQ clients (Java, C++, Go), unchanged, against a real PocketMQ name server
and broker: every message arrives with its body, keys, tags and properties, and a consumer
group of each resumes from its committed offset after a broker restart."""

from __future__ import annotations

import pytest

from clients import (  # type: ignore[import-not-found]
    cpp_produce, cpp_pull_consume, cpp_push_consume, messages, run_go_driver, run_java_driver, sends,
    start_java_driver,
)
from tests.support.processes import start_broker, start_namesrv

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, interop_ready):
    home = tmp_path_factory.mktemp("pocketmq")
    namesrv = start_namesrv(home / "namesrv")
    broker = start_broker(home / "broker", namesrv.addr)
    yield namesrv, broker
    broker.kill()
    namesrv.kill()


def java_produce(namesrv: str, topic: str, count: int, *extra: str) -> list[dict]:
    events = run_java_driver(["produce", "--topic", topic, "--count", str(count), "--tags", "TagA",
                              "--prop", "color=blue-{i}", *extra], namesrv=namesrv)
    results = sends(events)
    assert len(results) == count
    assert all(r["status"] == "SEND_OK" for r in results), results
    return results


def assert_delivered(received: list[dict], count: int, tags: str | None = "TagA", color: bool = True) -> None:
    bodies = sorted(m["body"] for m in received)
    assert bodies == sorted(f"body-{i}" for i in range(count))
    for m in received:
        i = m["body"].split("-")[1]
        assert m["keys"] == f"key-{i}"
        if tags is not None:
            assert m["tags"] == tags
        if color:
            assert m["properties"]["color"] == f"blue-{i}"


@pytest.mark.parametrize("mode", ["sync", "async", "oneway", "batch"])
def test_java_producer_modes_and_push_consumer(cluster, unique, mode):
    namesrv, _ = cluster
    topic = unique("T")
    count = 12
    if mode == "oneway":
        run_java_driver(["produce", "--topic", topic, "--count", str(count), "--tags", "TagA",
                         "--prop", "color=blue-{i}", "--mode", "oneway"], namesrv=namesrv.addr)
    else:
        java_produce(namesrv.addr, topic, count, "--mode", mode)
    received = messages(run_java_driver(["push-consume", "--topic", topic, "--count", str(count),
                                         "--group", unique("G"), "--timeout", "60"], namesrv=namesrv.addr))
    assert_delivered(received, count)


def test_java_send_to_chosen_queue_and_tag_filter(cluster, unique):
    namesrv, _ = cluster
    topic = unique("T")
    created = run_java_driver(["admin", "create-topic", "--topic", topic, "--queues", "4"], namesrv=namesrv.addr)
    assert any(e["event"] == "create-topic" for e in created)
    results = java_produce(namesrv.addr, topic, 6, "--queue-id", "2")
    assert {r["queueId"] for r in results} == {2}
    assert [r["queueOffset"] for r in results] == list(range(6))
    run_java_driver(["produce", "--topic", topic, "--count", "4", "--tags", "TagB", "--body", "other-{i}"],
                    namesrv=namesrv.addr)
    received = messages(run_java_driver(["push-consume", "--topic", topic, "--count", "6", "--expr", "TagA",
                                         "--group", unique("G"), "--timeout", "60", "--linger-ms", "1500"],
                                        namesrv=namesrv.addr))
    assert_delivered(received, 6)
    assert {m["queueId"] for m in received} == {2}


def test_java_broadcasting_delivers_to_every_consumer(cluster, unique):
    namesrv, _ = cluster
    topic = unique("T")
    group = unique("G")
    java_produce(namesrv.addr, topic, 8)
    args = ["push-consume", "--topic", topic, "--count", "8", "--group", group, "--model", "broadcasting",
            "--timeout", "60"]
    with start_java_driver(args, namesrv=namesrv.addr) as first, start_java_driver(args, namesrv=namesrv.addr) as second:
        for consumer in (first, second):
            assert_delivered(messages(consumer.wait(90)), 8)


def test_java_lite_pull_consumer(cluster, unique):
    namesrv, _ = cluster
    topic = unique("T")
    java_produce(namesrv.addr, topic, 10)
    received = messages(run_java_driver(["lite-pull-consume", "--topic", topic, "--count", "10",
                                         "--group", unique("G"), "--timeout", "60"], namesrv=namesrv.addr))
    assert_delivered(received, 10)


def test_java_group_resumes_from_committed_offset_after_broker_restart(tmp_path, unique, interop_ready):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr)
    try:
        topic, group = unique("T"), unique("G")
        java_produce(namesrv.addr, topic, 10)
        first = messages(run_java_driver(["push-consume", "--topic", topic, "--count", "10", "--group", group,
                                          "--timeout", "60", "--linger-ms", "500"], namesrv=namesrv.addr))
        assert_delivered(first, 10)
        assert broker.terminate() == 0
        broker = start_broker(tmp_path / "broker", namesrv.addr, port=broker.port)
        run_java_driver(["produce", "--topic", topic, "--count", "5", "--tags", "TagA", "--body", "late-{i}"],
                        namesrv=namesrv.addr)
        second = messages(run_java_driver(["push-consume", "--topic", topic, "--count", "5", "--group", group,
                                           "--timeout", "60", "--linger-ms", "1500"], namesrv=namesrv.addr))
        assert sorted(m["body"] for m in second) == sorted(f"late-{i}" for i in range(5))
    finally:
        broker.kill()
        namesrv.kill()


def _consume(client: str, namesrv: str, topic: str, group: str, count: int) -> list[dict]:
    if client == "cpp":
        return messages(cpp_push_consume(namesrv, topic, count, group=group))
    return messages(run_go_driver(["push-consume", "--topic", topic, "--count", str(count), "--group", group,
                                   "--timeout", "60"], namesrv=namesrv))


@pytest.mark.parametrize("client", ["cpp", "go"])
def test_cpp_and_go_groups_resume_from_committed_offset_after_broker_restart(tmp_path, unique, interop_ready,
                                                                              client):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr)
    try:
        topic, group = unique("T"), unique("G")
        java_produce(namesrv.addr, topic, 10)
        first = _consume(client, namesrv.addr, topic, group, 10)
        assert sorted(m["body"] for m in first) == sorted(f"body-{i}" for i in range(10))
        assert broker.terminate() == 0
        broker = start_broker(tmp_path / "broker", namesrv.addr, port=broker.port)
        run_java_driver(["produce", "--topic", topic, "--count", "5", "--tags", "TagA", "--body", "late-{i}"],
                        namesrv=namesrv.addr)
        # Only the five new messages: the group's committed offsets survived the restart.
        second = _consume(client, namesrv.addr, topic, group, 5)
        assert sorted(m["body"] for m in second) == sorted(f"late-{i}" for i in range(5))
    finally:
        broker.kill()
        namesrv.kill()


def test_cpp_producer_push_and_pull_consumers(cluster, unique):
    namesrv, _ = cluster
    topic = unique("T")
    events = cpp_produce(namesrv.addr, topic, 10, tags="TagA", props={"color": "blue-{i}"})
    assert sum(1 for e in events if e.get("event") == "send") == 10
    pushed = messages(cpp_push_consume(namesrv.addr, topic, 10, group=unique("G"), want_props=["color"]))
    pulled = messages(cpp_pull_consume(namesrv.addr, topic, 10, group=unique("G"), want_props=["color"]))
    for received in (pushed, pulled):
        assert sorted(m["body"] for m in received) == sorted(f"body-{i}" for i in range(10))
        for m in received:
            i = m["body"].split("-")[1]
            assert (m["tags"], m["keys"]) == ("TagA", f"key-{i}")


def test_go_producer_and_push_consumer(cluster, unique):
    namesrv, _ = cluster
    topic = unique("T")
    events = run_go_driver(["produce", "--topic", topic, "--count", "10", "--tags", "TagA",
                            "--prop", "color=blue-{i}"], namesrv=namesrv.addr)
    assert sum(1 for e in events if e.get("event") == "send" and e.get("status") == "SEND_OK") == 10
    received = messages(run_go_driver(["push-consume", "--topic", topic, "--count", "10", "--group", unique("G"),
                                       "--timeout", "60"], namesrv=namesrv.addr))
    assert_delivered(received, 10)


def test_java_client_reads_what_cpp_and_go_sent(cluster, unique):
    namesrv, _ = cluster
    topic = unique("T")
    cpp_produce(namesrv.addr, topic, 5, tags="TagA", body="cpp-{i}")
    run_go_driver(["produce", "--topic", topic, "--count", "5", "--tags", "TagA", "--body", "go-{i}"],
                  namesrv=namesrv.addr)
    received = messages(run_java_driver(["push-consume", "--topic", topic, "--count", "10", "--group", unique("G"),
                                         "--timeout", "60"], namesrv=namesrv.addr))
    assert sorted(m["body"] for m in received) == sorted([f"cpp-{i}" for i in range(5)] + [f"go-{i}" for i in range(5)])
