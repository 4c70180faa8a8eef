"""gRPC receive paths over POP through a real `mqproxy`: a FIFO group (consumeMessageOrderly)
gets the next message of a message group only after the previous one is acked, its consumers
are told ``fifo`` over Telemetry and a FIFO message past its attempts goes to the DLQ;
ForwardMessageToDeadLetterQueue moves a received message to ``%DLQ%<group>`` and acks it; SQL92
filter expressions select by user property; bad input gets upstream's status codes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from pocketmq.client.admin import Admin
from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.proxy.stubs import pb, pb_grpc
from tests.support import grpc_calls
from tests.support.cluster import create_topic, pull_all
from tests.support.processes import start_broker, start_namesrv, start_proxy, wait_until

CLIENT = (("x-mq-client-id", "pytest-receive-1"),)
TOPIC = "ProxyRecvTopic"


class Env:
    def __init__(self, ns, broker, proxy) -> None:  # noqa: ANN001
        self.ns, self.broker, self.proxy = ns, broker, proxy
        self.channel = grpc.insecure_channel(proxy.endpoint)
        self.stub = pb_grpc.MessagingServiceStub(self.channel)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("proxy-recv")
    with start_namesrv(tmp / "ns") as ns, start_broker(tmp / "broker", ns.addr) as broker, \
            start_proxy(tmp / "proxy", ns.addr, extra={"minInvisibleTimeMillsForRecv": 1000}) as proxy:
        create_topic(broker.addr, TOPIC, queues=2)
        with Admin(ns.addr) as admin:
            admin.create_subscription_group(SubscriptionGroupConfig("GID_FIFO", consumeMessageOrderly=True, retryMaxTimes=1),
                                            broker_addr=broker.addr)
        env = Env(ns, broker, proxy)
        route = pb.QueryRouteRequest(topic=pb.Resource(name=TOPIC), endpoints=pb.Endpoints(
            scheme=pb.IPv4, addresses=[pb.Address(host="127.0.0.1", port=1)]))
        wait_until(lambda: env.stub.QueryRoute(route, metadata=CLIENT).status.code == pb.OK, 20, 0.2, "the route")
        yield env
        env.channel.close()


def send(env: Env, body: bytes, message_id: str, **system: object) -> None:
    props = pb.SystemProperties(message_id=message_id, message_type=pb.FIFO if "message_group" in system
                                else pb.NORMAL,
                                body_digest=pb.Digest(type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper()),
                                body_encoding=pb.IDENTITY, **system)
    msg = pb.Message(topic=pb.Resource(name=TOPIC), body=body, system_properties=props)
    answer = env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)
    assert answer.status.code == pb.OK, answer.status.message


def receive(env: Env, group: str, batch: int = 16, invisible_s: int = 30, poll_s: int = 2,
            expression: pb.FilterExpression | None = None) -> tuple[list[int], list[pb.Message]]:
    return grpc_calls.receive(env.stub, CLIENT, TOPIC, group, batch=batch, invisible_s=invisible_s, poll_s=poll_s,
                              expression=expression)


def ack(env: Env, group: str, msg: pb.Message) -> int:
    request = pb.AckMessageRequest(group=pb.Resource(name=group), topic=pb.Resource(name=TOPIC), entries=[
        pb.AckMessageEntry(message_id=msg.system_properties.message_id,
                           receipt_handle=msg.system_properties.receipt_handle)])
    return env.stub.AckMessage(request, metadata=CLIENT).status.code


def bodies(messages: list[pb.Message]) -> list[bytes]:
    return [m.body for m in messages]


def test_fifo_group_gets_the_next_message_only_after_the_ack(env: Env) -> None:
    settings = pb.Settings(client_type=pb.SIMPLE_CONSUMER, subscription=pb.Subscription(
        group=pb.Resource(name="GID_FIFO"), subscriptions=[pb.SubscriptionEntry(
            topic=pb.Resource(name=TOPIC), expression=pb.FilterExpression(type=pb.TAG, expression="*"))]))
    call = env.stub.Telemetry(iter([pb.TelemetryCommand(settings=settings)]),
                              metadata=(("x-mq-client-id", "fifo-consumer"),))
    answer = next(call).settings
    assert answer.subscription.fifo is True and answer.backoff_policy.max_attempts == 2  # the group's
    call.cancel()
    for i in range(3):
        send(env, f"f{i}".encode(), f"FIFO{i:012d}", message_group="order-1")
    codes, [first] = receive(env, "GID_FIFO", batch=1)
    assert first.body == b"f0" and first.system_properties.delivery_attempt == 1
    assert receive(env, "GID_FIFO", poll_s=1) == ([pb.MESSAGE_NOT_FOUND], [])  # f1 waits for f0's ack
    assert ack(env, "GID_FIFO", first) == pb.OK
    _, [second] = receive(env, "GID_FIFO", batch=1, invisible_s=2)
    assert second.body == b"f1"
    # not acked: after its invisible time f1 again (not f2), as a second attempt, then (the
    # group's retryMaxTimes is 1: two attempts) to the DLQ, and f2 comes
    _, [again] = wait_until(lambda: (lambda r: r if r[1] else None)(
        receive(env, "GID_FIFO", batch=1, invisible_s=2, poll_s=5)), 40, 0.2, "f1 again")
    assert again.body == b"f1" and again.system_properties.delivery_attempt == 2
    _, [third] = wait_until(lambda: (lambda r: r if r[1] else None)(receive(env, "GID_FIFO", batch=1, poll_s=5)),
                            60, 0.2, "the next message once f1 is in the DLQ")
    assert third.body == b"f2"
    dead = wait_until(lambda: pull_all(env.broker.addr, "%DLQ%GID_FIFO", 0) or None, 20, 0.3, "f1 in the DLQ")
    assert [m.body for m in dead] == [b"f1"]


def test_forward_message_to_dead_letter_queue(env: Env) -> None:
    send(env, b"poison", "DLQ000000000001", tag="Poison")
    _, [msg] = receive(env, "GID_DLQ", expression=pb.FilterExpression(type=pb.TAG, expression="Poison"))
    request = pb.ForwardMessageToDeadLetterQueueRequest(
        group=pb.Resource(name="GID_DLQ"), topic=pb.Resource(name=TOPIC),
        receipt_handle=msg.system_properties.receipt_handle, message_id=msg.system_properties.message_id,
        delivery_attempt=1, max_delivery_attempts=1)
    assert env.stub.ForwardMessageToDeadLetterQueue(request, metadata=CLIENT).status.code == pb.OK
    dead = wait_until(lambda: pull_all(env.broker.addr, "%DLQ%GID_DLQ", 0) or None, 20, 0.3, "the DLQ")
    assert [m.body for m in dead] == [b"poison"]
    assert dead[0].properties["UNIQ_KEY"] == "DLQ000000000001"
    bad = pb.ForwardMessageToDeadLetterQueueRequest(group=pb.Resource(name="GID_DLQ"), topic=pb.Resource(name=TOPIC),
                                                    receipt_handle="not a handle", message_id="X")
    assert env.stub.ForwardMessageToDeadLetterQueue(bad, metadata=CLIENT).status.code == pb.INVALID_RECEIPT_HANDLE
    empty = pb.ForwardMessageToDeadLetterQueueRequest()
    assert env.stub.ForwardMessageToDeadLetterQueue(empty, metadata=CLIENT).status.code != pb.OK


def test_sql92_filter_over_grpc(env: Env) -> None:
    for i in range(4):
        body = f"q{i}".encode()
        props = pb.SystemProperties(message_id=f"SQL{i:013d}", message_type=pb.NORMAL, body_encoding=pb.IDENTITY,
                                    body_digest=pb.Digest(type=pb.MD5,
                                                          checksum=hashlib.md5(body).hexdigest().upper()))
        msg = pb.Message(topic=pb.Resource(name=TOPIC), body=body, system_properties=props,
                         user_properties={"level": str(i)})
        assert env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT).status.code == pb.OK
    sql = pb.FilterExpression(type=pb.SQL, expression="level >= 2")
    got: list[pb.Message] = []
    wait_until(lambda: got.extend(receive(env, "GID_SQL", expression=sql)[1]) or len(got) >= 2, 20, 0.2,
               "the matching messages")
    assert sorted(bodies(got)) == [b"q2", b"q3"]
    bad = receive(env, "GID_SQL2", expression=pb.FilterExpression(type=pb.SQL, expression="level >>> 2"))
    assert bad == ([pb.ILLEGAL_FILTER_EXPRESSION], [])


def test_ack_twice_and_unknown_group(env: Env, tmp_path: Path) -> None:
    send(env, b"twice", "TWICE0000000001", tag="Twice")
    _, [msg] = receive(env, "GID_TWICE", expression=pb.FilterExpression(type=pb.TAG, expression="Twice"))
    assert ack(env, "GID_TWICE", msg) == pb.OK
    assert ack(env, "GID_TWICE", msg) == pb.OK  # as upstream: acking again changes nothing
    with start_namesrv(tmp_path / "ns") as ns, \
            start_broker(tmp_path / "b", ns.addr, extra={"autoCreateSubscriptionGroup": "false"}) as broker, \
            start_proxy(tmp_path / "p", ns.addr) as proxy:
        create_topic(broker.addr, TOPIC, queues=1)
        other = Env(ns, broker, proxy)
        route = pb.QueryRouteRequest(topic=pb.Resource(name=TOPIC), endpoints=pb.Endpoints(
            scheme=pb.IPv4, addresses=[pb.Address(host="127.0.0.1", port=1)]))
        wait_until(lambda: other.stub.QueryRoute(route, metadata=CLIENT).status.code == pb.OK, 20, 0.2, "the route")
        assert receive(other, "GID_NOBODY", poll_s=1)[0] == [pb.CONSUMER_GROUP_NOT_FOUND]
        other.channel.close()


def test_a_redelivered_message_keeps_its_topic_and_its_receipt_acks_it(env: Env) -> None:
    """Not acked: it comes back from the POP retry topic under its own topic (the broker's
    POP_CK receipt, as upstream's proxy uses it), as a second attempt, and that receipt acks it."""
    send(env, b"again", "AGAIN0000000001", tag="Again")
    tags = pb.FilterExpression(type=pb.TAG, expression="Again")
    _, [first] = receive(env, "GID_AGAIN", invisible_s=1, expression=tags)
    assert first.system_properties.delivery_attempt == 1
    _, [back] = wait_until(lambda: (lambda r: r if r[1] else None)(
        receive(env, "GID_AGAIN", expression=tags)), 30, 0.2, "the redelivery")
    assert back.body == b"again" and back.topic.name == TOPIC
    assert back.system_properties.delivery_attempt == 2
    assert back.system_properties.message_id == first.system_properties.message_id
    assert "POP_CK" not in back.user_properties
    assert ack(env, "GID_AGAIN", back) == pb.OK
    assert receive(env, "GID_AGAIN", poll_s=1, expression=tags)[1] == []
    # acked for good: nothing more after the first receipt's invisible time either
    _, later = receive(env, "GID_AGAIN", poll_s=4, expression=tags)
    assert later == []


def test_polling_full_is_too_many_requests(tmp_path: Path) -> None:
    """A broker holding maxPopPollingSize pops already answers POLLING_FULL; a gRPC receive gets
    TOO_MANY_REQUESTS "polling full" (upstream ReceiveMessageResponseStreamWriter's mapping, read
    from 5.3.3's source: not compared with its proxy here)."""
    import threading

    from pocketmq.remoting.codes import RequestCode
    from tests.support.rpc import call

    with start_namesrv(tmp_path / "ns") as ns, \
            start_broker(tmp_path / "b", ns.addr, extra={"maxPopPollingSize": 1}) as broker, \
            start_proxy(tmp_path / "p", ns.addr) as proxy:
        create_topic(broker.addr, "FullTopic", queues=1)
        other = Env(ns, broker, proxy)
        route = pb.QueryRouteRequest(topic=pb.Resource(name="FullTopic"), endpoints=pb.Endpoints(
            scheme=pb.IPv4, addresses=[pb.Address(host="127.0.0.1", port=1)]))
        wait_until(lambda: other.stub.QueryRoute(route, metadata=CLIENT).status.code == pb.OK, 20, 0.2, "the route")
        held = threading.Thread(target=grpc_calls.receive, args=(other.stub, CLIENT, "FullTopic", "GID_FULL"),
                                kwargs={"poll_s": 8}, daemon=True)
        held.start()
        info = {"consumerGroup": "GID_FULL", "topic": "FullTopic", "queueId": "-1"}
        wait_until(lambda: call(broker.addr, RequestCode.POLLING_INFO, info).ext_fields.get("pollingNum") == "1",
                   20, 0.1, "the held receive at the broker")
        codes, got = grpc_calls.receive(other.stub, CLIENT, "FullTopic", "GID_FULL", poll_s=5)
        assert (codes, got) == ([pb.TOO_MANY_REQUESTS], [])
        held.join(20)
        other.channel.close()
