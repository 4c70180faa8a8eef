"""POP with official clients against PocketMQ: the RocketMQ 5 Java client (gRPC, through
`mqproxy`) as FIFO PushConsumers — two of them in one group, consuming at once — sees every
message group in its send order; the RocketMQ 5 Java remoting client (rocketmq-client 5.3.3) as a
DefaultMQPushConsumer in POP mode (`mqadmin setConsumeMode ... -m POP`) consumes over
POP_MESSAGE / ACK_MESSAGE, and what its listener fails comes back through
CHANGE_MESSAGE_INVISIBLETIME and the POP retry topic."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pytest

from clients import run_java5_driver, run_java5r_driver, sends
from pocketmq.client.admin import Admin
from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.tools import mqadmin
from tests.support.cluster import create_topic
from tests.support.processes import start_broker, start_namesrv, start_proxy

pytestmark = pytest.mark.interop


class Env:
    def __init__(self, namesrv: str, broker: str, endpoint: str) -> None:
        self.namesrv, self.broker, self.endpoint = namesrv, broker, endpoint


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, interop_ready: None) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("pop-clients")
    with start_namesrv(tmp / "ns") as ns, start_broker(tmp / "broker", ns.addr) as broker, \
            start_proxy(tmp / "proxy", ns.addr) as proxy:
        yield Env(ns.addr, broker.addr, proxy.endpoint)


def test_java5_fifo_push_consumers_keep_each_message_group_in_order(env: Env, unique) -> None:
    topic, group = unique("T"), unique("GID")
    create_topic(env.broker, topic, queues=4)
    with Admin(env.namesrv) as admin:
        admin.create_subscription_group(SubscriptionGroupConfig(group, consumeMessageOrderly=True),
                                        broker_addr=env.broker)
    sent = []
    for name in ("g-a", "g-b", "g-c"):
        sent += sends(run_java5_driver(["produce", "--topic", topic, "--count", 6, "--body", name, "--group", name],
                                       endpoints=env.endpoint))
    assert len(sent) == 18
    events = run_java5_driver(["push-consume", "--topic", topic, "--group", group, "--count", 18,
                               "--consumers", 2, "--timeout", 120], endpoints=env.endpoint, timeout=180)
    assert events[-1] == {"event": "done", "count": 18}, events[-5:]
    got = [e for e in events if e["event"] == "msg"]
    for name in ("g-a", "g-b", "g-c"):
        deliveries = sorted((e for e in got if e["group"] == name), key=lambda e: e["ts"])
        first = []
        for e in deliveries:  # at least once: a redelivery may repeat what came before
            if e["body"] not in first:
                first.append(e["body"])
        assert first == [f"{name}-{i}" for i in range(6)], deliveries


def test_java5_remoting_push_consumer_in_pop_mode(env: Env, unique) -> None:
    topic, group = unique("T"), unique("GID")
    create_topic(env.broker, topic, queues=2)
    out, err = io.StringIO(), io.StringIO()
    assert mqadmin.run(["updateSubGroup", "-b", env.broker, "-g", group, "-n", env.namesrv], out, err) == 0, err
    assert mqadmin.run(["setConsumeMode", "-b", env.broker, "-t", topic, "-g", group, "-m", "POP",
                        "-n", env.namesrv], out, err) == 0, err.getvalue()
    produced = sends(run_java5r_driver(["produce", "--topic", topic, "--count", 8, "--body", "pop"],
                                       namesrv=env.namesrv))
    assert len(produced) == 8
    events = run_java5r_driver(["pop-consume", "--topic", topic, "--group", group, "--count", 8, "--timeout", 120,
                                "--fail-first", "true"], namesrv=env.namesrv, timeout=180)
    assert events[-1] == {"event": "done", "count": 8}, events[-5:]
    got = [e for e in events if e["event"] == "msg"]
    assert {e["msgId"] for e in got} == {e["msgId"] for e in produced}
    assert all(e["popCk"] for e in got)  # delivered by POP: the message carries its POP_CK
    # each first delivery failed (the client changes its invisible time): it came back, retried once
    for msg_id in {e["msgId"] for e in produced}:
        attempts = [(e["reconsumeTimes"], e["status"]) for e in got if e["msgId"] == msg_id]
        assert attempts[0] == (0, "RECONSUME_LATER") and (1, "SUCCESS") in attempts, attempts
