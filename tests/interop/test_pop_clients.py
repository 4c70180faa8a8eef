"""POP with official clients against PocketMQ: the RocketMQ 5 Java client (gRPC, through
`mqproxy`) as FIFO PushConsumers — two of them in one group, consuming at once — sees every
message group in its send order; the RocketMQ 5 Java remoting client (rocketmq-client 5.3.3) as a
DefaultMQPushConsumer in POP mode (`mqadmin setConsumeMode ... -m POP`) consumes over
POP_MESSAGE / ACK_MESSAGE, and what its listener fails comes back through
CHANGE_MESSAGE_INVISIBLETIME and the POP retry topic. The same tests run against Apache RocketMQ
5.3.3 (broker with its local-mode proxy), the oracle: our `mqadmin setConsumeMode` and group
config included."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Iterator

import pytest

from apache5 import apache5_broker, apache5_namesrv  # type: ignore[import-not-found]
from clients import run_java5_driver, run_java5r_driver, sends
from pocketmq.client.admin import Admin
from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.tools import mqadmin
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.rpc import call
from tests.support.processes import start_broker, start_namesrv, start_proxy

pytestmark = [pytest.mark.interop, pytest.mark.timeout(600)]


class Env:
    def __init__(self, namesrv: str, broker: str, endpoint: str) -> None:
        self.namesrv, self.broker, self.endpoint = namesrv, broker, endpoint


@pytest.fixture(scope="module", params=["pocketmq", "apache5"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        interop_ready: None) -> Iterator[Env]:
    if request.param == "apache5":
        with apache5_namesrv() as ns, apache5_broker(ns.addr, enable_proxy=True) as broker:
            yield Env(ns.addr, broker.addr, broker.extra["grpc_addr"])
        return
    tmp: Path = tmp_path_factory.mktemp("pop-clients")
    with start_namesrv(tmp / "ns") as ns, start_broker(tmp / "broker", ns.addr) as broker, \
            start_proxy(tmp / "proxy", ns.addr) as proxy:
        yield Env(ns.addr, broker.addr, proxy.endpoint)


def make_topic(env: Env, topic: str, queues: int, message_type: str = "NORMAL") -> None:
    """The topic on the broker (with RocketMQ 5's message.type attribute, which Apache checks), and
    its route on the name server (an Apache broker registers it a moment later)."""
    fields = {"topic": topic, "defaultTopic": "TBW102", "readQueueNums": str(queues),
              "writeQueueNums": str(queues), "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0",
              "order": "false", "attributes": f"+message.type={message_type}"}
    response = call(env.broker, RequestCode.UPDATE_AND_CREATE_TOPIC, fields)
    assert response.code == ResponseCode.SUCCESS, response.remark
    out, err = io.StringIO(), io.StringIO()
    deadline = time.monotonic() + 60
    while mqadmin.run(["topicRoute", "-t", topic, "-n", env.namesrv], out, err) != 0:
        assert time.monotonic() < deadline, err.getvalue()
        time.sleep(0.5)


def test_java5_fifo_push_consumers_keep_each_message_group_in_order(env: Env, unique) -> None:
    topic, group = unique("T"), unique("GID")
    make_topic(env, topic, queues=4, message_type="FIFO")
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
    make_topic(env, topic, queues=2)
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
