"""Bad input to `mqproxy`, each answered with upstream's status code and nothing lost or crashed:
a send to an unknown topic, a receive for a group the broker does not know
(autoCreateSubscriptionGroup=false), an ack twice, a receipt handle whose invisible time is over,
a 5 MB body over max_body_size. (Malformed protobuf, Telemetry streams broken mid-way, bad
receipt handles and bad names are in test_proxy_grpc.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from pocketmq.proxy.stubs import pb, pb_grpc
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.cluster import call, create_topic
from tests.support.processes import Broker, Proxy, start_broker, start_namesrv, start_proxy, wait_until

TOPIC = "BadInputTopic"
GROUP = "GID_BAD_INPUT"
CLIENT = (("x-mq-client-id", "bad-input-client"),)


class Env:
    def __init__(self, broker: Broker, proxy: Proxy) -> None:
        self.broker, self.proxy = broker, proxy
        self.channel = grpc.insecure_channel(proxy.endpoint)
        self.stub = pb_grpc.MessagingServiceStub(self.channel)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("badinput")
    with start_namesrv(tmp / "ns") as ns, \
            start_broker(tmp / "broker", ns.addr, extra={"autoCreateSubscriptionGroup": "false"}) as broker, \
            start_proxy(tmp / "proxy", ns.addr) as proxy:
        create_topic(broker.addr, TOPIC, queues=1)
        made = call(broker.addr, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
                    body=(b'{"groupName":"%s","consumeEnable":true,"consumeBroadcastEnable":true,'
                          b'"retryQueueNums":1,"retryMaxTimes":16,"brokerId":0,"whichBrokerWhenConsumeSlowly":1}'
                          % GROUP.encode()))
        assert made.code == ResponseCode.SUCCESS, made.remark
        env = Env(broker, proxy)
        wait_until(lambda: env.stub.QueryRoute(route_request(TOPIC), metadata=CLIENT).status.code == pb.OK,
                   20, 0.2, "the topic's route through the proxy")
        yield env
        env.channel.close()
        assert proxy.proc.poll() is None  # nothing sent here stopped it


def route_request(topic: str) -> pb.QueryRouteRequest:
    return pb.QueryRouteRequest(topic=pb.Resource(name=topic), endpoints=pb.Endpoints(
        scheme=pb.IPv4, addresses=[pb.Address(host="127.0.0.1", port=1234)]))


def message(body: bytes, message_id: str, topic: str = TOPIC) -> pb.Message:
    props = pb.SystemProperties(message_id=message_id, message_type=pb.NORMAL, body_encoding=pb.IDENTITY,
                                body_digest=pb.Digest(type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper()))
    return pb.Message(topic=pb.Resource(name=topic), body=body, system_properties=props)


def receive(env: Env, group: str = GROUP, invisible_s: int = 10, poll_s: int = 5) -> tuple[list[int], list[pb.Message]]:
    request = pb.ReceiveMessageRequest(
        group=pb.Resource(name=group), message_queue=pb.MessageQueue(topic=pb.Resource(name=TOPIC), broker=pb.Broker(name="broker-a")),
        filter_expression=pb.FilterExpression(type=pb.TAG, expression="*"), batch_size=16, auto_renew=False)
    request.invisible_duration.FromSeconds(invisible_s)
    request.long_polling_timeout.FromSeconds(poll_s)
    codes, got = [], []
    for response in env.stub.ReceiveMessage(request, metadata=CLIENT, timeout=poll_s + 20):
        if response.WhichOneof("content") == "status":
            codes.append(response.status.code)
        elif response.WhichOneof("content") == "message":
            got.append(response.message)
    return codes, got


def ack(env: Env, msg: pb.Message) -> pb.AckMessageResponse:
    return env.stub.AckMessage(pb.AckMessageRequest(
        group=pb.Resource(name=GROUP), topic=pb.Resource(name=TOPIC),
        entries=[pb.AckMessageEntry(message_id=msg.system_properties.message_id,
                                    receipt_handle=msg.system_properties.receipt_handle)]), metadata=CLIENT)


def send(env: Env, msg: pb.Message) -> pb.SendMessageResponse:
    return env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)


def test_a_send_to_an_unknown_topic_is_topic_not_found(env: Env) -> None:
    response = send(env, message(b"lost", "UNKNOWNTOPIC0001", topic="NoSuchTopicAnywhere"))
    assert response.status.code == pb.TOPIC_NOT_FOUND, response.status.message


def test_a_receive_for_an_unknown_group_is_consumer_group_not_found(env: Env) -> None:
    codes, got = receive(env, group="GID_NOBODY_MADE_THIS")
    assert (codes, got) == ([pb.CONSUMER_GROUP_NOT_FOUND], [])


def test_a_5mb_body_is_message_body_too_large_and_not_stored(env: Env) -> None:
    response = send(env, message(b"x" * (5 * 1024 * 1024), "BIGBODY000000005"))
    assert response.status.code == pb.MESSAGE_BODY_TOO_LARGE, response.status.message
    assert env.stub.QueryRoute(route_request(TOPIC), metadata=CLIENT).status.code == pb.OK


def test_an_ack_twice_and_an_expired_receipt_handle(env: Env) -> None:
    assert send(env, message(b"once", "ACKTWICE00000001")).status.code == pb.OK
    assert send(env, message(b"late", "ACKLATE000000001")).status.code == pb.OK
    codes, got = receive(env, invisible_s=10)
    assert codes == [pb.OK] and {m.body for m in got} == {b"once", b"late"}
    once = next(m for m in got if m.body == b"once")
    late = next(m for m in got if m.body == b"late")
    assert ack(env, once).status.code == pb.OK
    assert ack(env, once).status.code == pb.OK  # as upstream: an ack is idempotent
    wait_until(lambda: receive(env, invisible_s=10, poll_s=2)[1], 40, 0.5,
               "the unacked message back after its invisible time")
    expired = ack(env, late)
    assert expired.status.code == pb.INVALID_RECEIPT_HANDLE, expired.status.message
    assert expired.status.message == "receipt handle is expired"
