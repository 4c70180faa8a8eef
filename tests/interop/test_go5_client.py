"""The official RocketMQ 5 Go client (github.com/apache/rocketmq-clients/golang/v5 v5.1.2, gRPC,
driven by tests/interop/go5) against PocketMQ's gRPC endpoint in both of upstream's modes —
`mqproxy` in front of a broker (cluster mode) and `mqbroker --enable-proxy` (local mode): normal
send and SimpleConsumer receive/ack, FIFO message groups in order (sent, and received by a
consumeMessageOrderly group), a delivery time honoured, transaction commit/rollback and an orphan
checked back over Telemetry, a message not acked delivered again after its invisible time (also
after ChangeInvisibleDuration). Every test of the `env` fixture runs against Apache RocketMQ
5.3.3's local-mode proxy too, the oracle. Then: the client adopts the proxy's max_body_size from
its Telemetry settings, takes TLS (its default) and plaintext on one port, and signs its calls
as `enableACL=true` checks them.

v5.1.2 dials TLS on every endpoint and no option reaches its connections; the driver swaps in
plaintext by default (see go5/main.go), --tls keeps the client's own TLS. It has no PushConsumer,
so nothing here pushes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from apache5 import apache5_broker, apache5_namesrv  # type: ignore[import-not-found]
from clients import messages, run_go5_driver, run_java_driver, sends
from pocketmq.client.admin import Admin
from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.rpc import call
from tests.support.acl import write_acl
from tests.support.tls import make_cert, tls_args
from tests.support.cluster import create_topic
from tests.support.processes import free_port, start_broker, start_namesrv, start_proxy, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]

# A half message left alone is checked back after about a second (upstream: 6 s and 60 s).
FAST_CHECK = {"transactionCheckInterval": 1000, "transactionTimeOut": 1000}


class Env:
    def __init__(self, namesrv: str, broker: str, endpoint: str) -> None:
        self.namesrv, self.broker, self.endpoint = namesrv, broker, endpoint

    def topic(self, name: str, kind: str = "NORMAL") -> str:
        """Create ``name`` (4 queues) for messages of ``kind`` — RocketMQ 5's `message.type`
        attribute: Apache's proxy accepts only that type on the topic, PocketMQ's every type — and
        wait until the Go client's producer finds its route (a producer that sends nothing)."""
        fields = {"topic": name, "defaultTopic": "TBW102", "readQueueNums": "4", "writeQueueNums": "4",
                  "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
                  "attributes": f"+message.type={kind}"}
        response = call(self.broker, RequestCode.UPDATE_AND_CREATE_TOPIC, fields)
        assert response.code == ResponseCode.SUCCESS, response.remark
        wait_until(lambda: run_go5_driver(["produce", "--topic", name, "--count", 0], endpoints=self.endpoint,
                                          check=False)[-1:] == [{"event": "done", "count": 0}],
                   60, 0.5, f"a route for {name} through {self.endpoint}")
        return name

    def fifo_group(self, name: str) -> str:
        """A consumer group with consumeMessageOrderly: its receives are FIFO (as upstream)."""
        with Admin(self.namesrv) as admin:
            admin.create_subscription_group(SubscriptionGroupConfig(name, consumeMessageOrderly=True),
                                            broker_addr=self.broker)
        return name


@pytest.fixture(scope="module", params=["mqproxy", "enable-proxy", "apache-5.3.3"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, interop_ready: None) -> Iterator[Env]:
    """PocketMQ in both modes, and Apache RocketMQ 5.3.3's local-mode proxy as the oracle."""
    if request.param == "apache-5.3.3":
        with apache5_namesrv() as ns, apache5_broker(ns.addr, enable_proxy=True, **FAST_CHECK) as broker:
            yield Env(ns.addr, broker.addr, broker.extra["grpc_addr"])
        return
    tmp: Path = tmp_path_factory.mktemp("go5")
    with start_namesrv(tmp / "ns") as ns:
        if request.param == "mqproxy":
            with start_broker(tmp / "broker", ns.addr, extra=FAST_CHECK) as broker, \
                    start_proxy(tmp / "proxy", ns.addr) as proxy:
                yield Env(ns.addr, broker.addr, proxy.endpoint)
        else:
            port = free_port()
            with start_broker(tmp / "broker", ns.addr, extra={**FAST_CHECK, "grpcServerPort": port},
                              flags=["--enable-proxy"]) as broker:
                yield Env(ns.addr, broker.addr, f"127.0.0.1:{port}")


def received(events: list[dict]) -> list[dict]:
    return messages(events, status=None)


def test_send_and_simple_consume(env: Env, unique) -> None:
    topic = env.topic(unique("T"))
    ok = sends(run_go5_driver(["produce", "--topic", topic, "--count", 5, "--body", "go5", "--tag", "TagA",
                               "--keys", "k-1", "--prop", "color=blue"], endpoints=env.endpoint))
    assert len(ok) == 5
    events = run_go5_driver(["simple-consume", "--topic", topic, "--group", unique("G"), "--count", 5],
                            endpoints=env.endpoint)
    assert events[-1] == {"event": "done", "count": 5}, events
    got = {m["msgId"]: m for m in received(events)}
    assert set(got) == {e["msgId"] for e in ok}
    for e in ok:
        m = got[e["msgId"]]
        assert (m["body"], m["tag"], m["keys"], m["properties"], m["attempt"]) == \
            (e["body"], "TagA", ["k-1"], {"color": "blue"}, 1)


def test_fifo_message_group_keeps_its_order(env: Env, unique) -> None:
    topic = env.topic(unique("T"), "FIFO")
    ok = sends(run_go5_driver(["produce", "--topic", topic, "--count", 6, "--body", "step", "--group", "order-7"],
                              endpoints=env.endpoint))
    assert len(ok) == 6
    # Read back in queue order by the Java 4.9 client (orderly): one queue, the order sent.
    consumed = messages(run_java_driver(["push-consume", "--topic", topic, "--group", unique("G"), "--count", 6,
                                         "--orderly", "--timeout", 90], namesrv=env.namesrv))
    assert len({m["queueId"] for m in consumed}) == 1
    assert [m["msgId"] for m in consumed] == [e["msgId"] for e in ok]
    assert [m["body"] for m in consumed] == [f"step-{i}" for i in range(6)]


def test_fifo_group_receives_each_message_group_in_order_again_when_not_acked(env: Env, unique) -> None:
    """A consumeMessageOrderly group: each message group reaches the Go SimpleConsumer in the
    order sent, and what is left unacked (its invisible time cut to 1 s) comes back in that order
    again, each message once more with attempt 2. (Apache 5.3.3 and PocketMQ both hand out a
    group's consecutive messages in one batch, and the whole batch again when it is not acked.)"""
    topic, group = env.topic(unique("T"), "FIFO"), env.fifo_group(unique("G"))
    sent = {name: sends(run_go5_driver(["produce", "--topic", topic, "--count", 3, "--body", name, "--group", name],
                                       endpoints=env.endpoint)) for name in ("g-a", "g-b")}
    assert [len(s) for s in sent.values()] == [3, 3]
    events = run_go5_driver(["simple-consume", "--topic", topic, "--group", group, "--count", 6, "--skip-ack-first",
                             "--change-invisible", 1, "--timeout", 90], endpoints=env.endpoint, timeout=150)
    assert events[-1] == {"event": "done", "count": 6}, events[-3:]
    got = received(events)
    for name, ok in sent.items():
        deliveries = [(m["msgId"], m["attempt"]) for m in got if m.get("group") == name]
        ids = [e["msgId"] for e in ok]
        for attempt in (1, 2):
            assert [i for i, a in deliveries if a == attempt] == ids, deliveries
        assert len(deliveries) == 6, deliveries


def test_delivery_time_is_honoured(env: Env, unique) -> None:
    topic = env.topic(unique("T"), "DELAY")
    sent_at = time.time()
    [sent] = sends(run_go5_driver(["produce", "--topic", topic, "--body", "later", "--delay-ms", 3000],
                                  endpoints=env.endpoint))
    events = run_go5_driver(["simple-consume", "--topic", topic, "--group", unique("G"), "--timeout", 60],
                            endpoints=env.endpoint)
    [m] = received(events)
    assert m["msgId"] == sent["msgId"]
    assert m["receivedAt"] / 1000 >= sent_at + 3  # never before the time asked for


def test_transactions_commit_and_rollback(env: Env, unique) -> None:
    topic = env.topic(unique("T"), "TRANSACTION")
    committed = sends(run_go5_driver(["produce", "--topic", topic, "--count", 3, "--body", "yes",
                                      "--transaction", "commit", "--check", "commit"], endpoints=env.endpoint))
    rolled_back = sends(run_go5_driver(["produce", "--topic", topic, "--count", 2, "--body", "no",
                                        "--transaction", "rollback", "--check", "rollback"], endpoints=env.endpoint))
    assert len(committed) == 3 and len(rolled_back) == 2
    group = unique("G")
    events = run_go5_driver(["simple-consume", "--topic", topic, "--group", group, "--count", 3],
                            endpoints=env.endpoint)
    assert events[-1]["event"] == "done", events
    assert {m["msgId"] for m in received(events)} == {e["msgId"] for e in committed}
    # the rolled-back ones never come: a further receive finds nothing
    more = run_go5_driver(["simple-consume", "--topic", topic, "--group", group, "--count", 1, "--timeout", 8],
                          endpoints=env.endpoint)
    assert more[-1] == {"event": "timeout", "count": 0} and not received(more), more


def test_orphan_transaction_is_checked_back_over_telemetry(env: Env, unique) -> None:
    """A half message nobody commits: the broker's check-back reaches the live Go producer over
    its Telemetry stream, the checker says COMMIT, and the consumer gets the message."""
    topic = env.topic(unique("T"), "TRANSACTION")
    events = run_go5_driver(["produce", "--topic", topic, "--body", "orphan", "--transaction", "orphan",
                             "--check", "commit", "--wait-check", 60], endpoints=env.endpoint)
    [sent] = sends(events)
    assert [e["msgId"] for e in events if e["event"] == "check"][:1] == [sent["msgId"]]
    consumed = received(run_go5_driver(["simple-consume", "--topic", topic, "--group", unique("G")],
                                       endpoints=env.endpoint))
    # at least once: Apache's broker checks a half again while the answer to the last check is on
    # its way, and each COMMIT of a check stores the message (same id) once more
    assert {(m["msgId"], m["body"]) for m in consumed} == {(sent["msgId"], "orphan")}


def test_message_not_acked_comes_back_after_its_invisible_time(env: Env, unique) -> None:
    topic = env.topic(unique("T"))
    [sent] = sends(run_go5_driver(["produce", "--topic", topic, "--body", "again"], endpoints=env.endpoint))
    events = run_go5_driver(["simple-consume", "--topic", topic, "--group", unique("G"), "--count", 1,
                             "--invisible", 10, "--skip-ack-first", "--timeout", 60], endpoints=env.endpoint)
    assert events[-1] == {"event": "done", "count": 1}, events
    first, again = received(events)
    assert first["msgId"] == again["msgId"] == sent["msgId"]
    assert (first["attempt"], again["attempt"]) == (1, 2)
    # not before the invisible time (10 s: the least a receive may ask for, as upstream)
    assert again["receivedAt"] - first["receivedAt"] >= 10_000 - 100


def test_change_invisible_duration_brings_a_message_back_sooner(env: Env, unique) -> None:
    topic = env.topic(unique("T"))
    [sent] = sends(run_go5_driver(["produce", "--topic", topic, "--body", "sooner"], endpoints=env.endpoint))
    started = time.monotonic()
    events = run_go5_driver(["simple-consume", "--topic", topic, "--group", unique("G"), "--count", 1,
                             "--invisible", 120, "--skip-ack-first", "--change-invisible", 2, "--timeout", 60],
                            endpoints=env.endpoint)
    assert events[-1] == {"event": "done", "count": 1}, events
    first, again = received(events)
    assert first.get("changed") is True, first
    assert first["msgId"] == again["msgId"] == sent["msgId"] and again["attempt"] == 2
    assert time.monotonic() - started < 90  # well before the 120 s of the receive
    assert again["receivedAt"] - first["receivedAt"] >= 2000 - 100


def test_producer_adopts_the_max_body_size_of_the_proxys_settings(tmp_path: Path, unique, interop_ready: None) -> None:
    """The Go client takes its publishing settings from the Telemetry answer: behind an `mqproxy`
    with maxMessageSize=1024 it refuses a larger body itself, quoting the server's limit (its
    own default is 4 MiB). The answer lands a moment after the producer has started, so its first
    send is refused by the server: the next ones show the client's own refusal."""
    topic = unique("T")
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as broker, \
            start_proxy(tmp_path / "proxy", ns.addr, extra={"maxMessageSize": 1024}) as proxy:
        create_topic(broker.addr, topic, queues=4)
        assert len(sends(run_go5_driver(["produce", "--topic", topic, "--body-size", 1000],
                                        endpoints=proxy.endpoint))) == 1

        def refused_by_the_client() -> bool:
            events = run_go5_driver(["produce", "--topic", topic, "--body-size", 2000, "--count", 5, "--keep-going"],
                                    endpoints=proxy.endpoint)
            errors = [e["error"] for e in events if e["event"] == "send-error"]
            assert not sends(events) and len(errors) == 5, events  # never stored, whoever refuses it
            assert all("max size=1024 bytes" in e or "MESSAGE_BODY_TOO_LARGE" in e for e in errors), errors
            return any("message body size exceeds the threshold, max size=1024 bytes" in e for e in errors)

        wait_until(refused_by_the_client, 60, 0.5, "the client's own refusal at the server's limit")


def test_go5_over_tls_its_default_and_plaintext_on_one_port(tmp_path: Path, unique, interop_ready: None) -> None:
    """With a certificate, `mqproxy` takes the Go client as it comes (TLS, the certificate not
    checked) and plaintext on the same port."""
    topic = unique("T")
    cert, key = make_cert(tmp_path / "tls")
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as broker, \
            start_proxy(tmp_path / "proxy", ns.addr, extra=tls_args("permissive", cert, key)) as proxy:
        create_topic(broker.addr, topic, queues=4)
        over_tls = sends(run_go5_driver(["produce", "--topic", topic, "--count", 3, "--body", "tls", "--tls"],
                                        endpoints=proxy.endpoint))
        plain = sends(run_go5_driver(["produce", "--topic", topic, "--count", 3, "--body", "plain"],
                                     endpoints=proxy.endpoint))
        assert len(over_tls) == 3 and len(plain) == 3
        events = run_go5_driver(["simple-consume", "--topic", topic, "--group", unique("G"), "--count", 6, "--tls"],
                                endpoints=proxy.endpoint)
        assert events[-1] == {"event": "done", "count": 6}, events
        assert {m["msgId"]: m["body"] for m in received(events)} == {e["msgId"]: e["body"] for e in over_tls + plain}


GO_ACL_YML = """\
accounts:
  - accessKey: rocketmq2
    secretKey: "12345678"
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - SecTopicGo=PUB|SUB
"""


def test_go5_signed_calls_under_acl(tmp_path: Path, unique, interop_ready: None) -> None:
    """`mqproxy` with enableACL=true reads the Go client's authorization header (its Credential
    is `<accessKey>//Rocketmq`, the region left empty): the right keys send and receive, a wrong
    secret and a topic the account may not publish to are refused."""
    write_acl(tmp_path / "proxy", GO_ACL_YML)
    creds = ["--access-key", "rocketmq2", "--secret-key", "12345678"]
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as broker, \
            start_proxy(tmp_path / "proxy", ns.addr,
                        extra={"enableACL": "true", "rocketmqHome": tmp_path / "proxy"}) as proxy:
        for topic in ("SecTopicGo", "SecDenied"):
            create_topic(broker.addr, topic, queues=2)
        ok = sends(run_go5_driver(["produce", "--topic", "SecTopicGo", "--count", 2, "--body", "signed", *creds],
                                  endpoints=proxy.endpoint))
        assert len(ok) == 2
        events = run_go5_driver(["simple-consume", "--topic", "SecTopicGo", "--group", unique("G"), "--count", 2,
                                 *creds], endpoints=proxy.endpoint)
        assert {m["msgId"] for m in received(events)} == {e["msgId"] for e in ok}
        wrong = run_go5_driver(["produce", "--topic", "SecTopicGo", "--access-key", "rocketmq2", "--secret-key",
                                "wrong"], endpoints=proxy.endpoint, check=False)
        assert wrong[-1]["event"] == "error" and not sends(wrong), wrong
        assert "UNAUTHORIZED" in wrong[-1]["error"] and "signature" in wrong[-1]["error"], wrong
        denied = run_go5_driver(["produce", "--topic", "SecDenied", *creds], endpoints=proxy.endpoint, check=False)
        assert denied[-1]["event"] == "error" and not sends(denied), denied
        assert "UNAUTHORIZED" in denied[-1]["error"] and "SecDenied" in denied[-1]["error"], denied
