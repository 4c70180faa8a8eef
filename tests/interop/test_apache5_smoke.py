"""The RocketMQ 5 oracle itself, proven: a real Apache RocketMQ 5.3.3 broker with its local-mode
gRPC proxy (what `mqbroker --enable-proxy` runs) takes messages from the official Python and Java 5
clients and gives them back, and the official Java 4.9 client reads them over remoting. If these
fail, a difference between PocketMQ and the oracle means nothing."""

from __future__ import annotations

from typing import Iterator

import pytest

from apache5 import ApacheCluster, apache5_broker, apache5_namesrv  # type: ignore[import-not-found]
from clients import messages, run_java5_driver, run_java_driver, run_py5_driver, sends

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def oracle(interop_ready: None) -> Iterator[ApacheCluster]:
    with apache5_namesrv() as ns, apache5_broker(ns.addr, enable_proxy=True) as broker:
        yield ApacheCluster(ns, [broker])


def grpc(cluster: ApacheCluster) -> str:
    return cluster.broker.extra["grpc_addr"]


def create_topic(cluster: ApacheCluster, topic: str) -> None:
    events = run_java_driver(["admin", "create-topic", "--topic", topic, "--queues", 4],
                             namesrv=cluster.namesrv_addr)
    assert events[0]["event"] == "create-topic", events


def test_python5_send_and_simple_consume_through_apache_proxy(oracle: ApacheCluster, unique) -> None:
    topic, group = unique("T"), unique("G")
    create_topic(oracle, topic)
    ok = sends(run_py5_driver(["produce", "--topic", topic, "--count", 5, "--body", "oracle", "--tag", "TagA"],
                              endpoints=grpc(oracle)))
    assert len(ok) == 5
    got = messages(run_py5_driver(["simple-consume", "--topic", topic, "--group", group, "--count", 5],
                                  endpoints=grpc(oracle)), status=None)
    assert sorted(m["msgId"] for m in got) == sorted(e["msgId"] for e in ok)
    assert {m["tag"] for m in got} == {"TagA"}


def test_java5_send_java4_reads_back_over_remoting(oracle: ApacheCluster, unique) -> None:
    topic = unique("T")
    create_topic(oracle, topic)
    ok = sends(run_java5_driver(["produce", "--topic", topic, "--count", 4, "--body", "j5"],
                                endpoints=grpc(oracle)))
    assert len(ok) == 4
    consumed = run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 4,
                                "--timeout", 90], namesrv=oracle.namesrv_addr)
    assert consumed[-1]["event"] == "done", consumed[-1]
    assert {m["msgId"] for m in messages(consumed)} == {e["msgId"] for e in ok}
