"""RocketMQ 5's ``message.type`` topic attribute against the oracle: the same requests to a real
Apache RocketMQ 5.3.3 (broker with its local-mode proxy) and to PocketMQ (broker and `mqproxy`
with enableTopicMessageTypeCheck=true) get the same answers —

- UPDATE_AND_CREATE_TOPIC's ``attributes`` (``+message.type=FIFO``) is stored with the topic and
  shown by GET_TOPIC_CONFIG; a value outside the set, MIXED (enableMixedMessageType=false), an
  unsigned key are refused with upstream's codes; ``-message.type`` removes it;
- the official Python 5 client sends a FIFO message to the FIFO topic, and refuses to send a
  NORMAL one there (the route accepts FIFO only);
- a raw gRPC SendMessage of a FIFO message to a topic without the attribute (NORMAL) answers
  MESSAGE_PROPERTY_CONFLICT_WITH_TYPE with upstream's text."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path
from typing import Iterator

import grpc
import orjson
import pytest

from apache5 import apache5_broker, apache5_namesrv  # type: ignore[import-not-found]
from clients import run_py5_driver, sends
from pocketmq.proxy.stubs import pb, pb_grpc
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.processes import start_broker, start_namesrv, start_proxy, wait_until
from tests.support.rpc import call

pytestmark = [pytest.mark.interop, pytest.mark.timeout(400)]

_counter = itertools.count()


def name(prefix: str) -> str:
    return f"{prefix}{os.getpid() % 100000}x{next(_counter)}"


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory, interop_ready: None) -> Iterator[dict[str, dict[str, str]]]:
    tmp: Path = tmp_path_factory.mktemp("message-type-oracle")
    with apache5_namesrv() as ans, apache5_broker(ans.addr, enable_proxy=True) as apache, \
            start_namesrv(tmp / "ns") as ns, start_broker(tmp / "b", ns.addr) as ours, \
            start_proxy(tmp / "p", ns.addr, extra={"enableTopicMessageTypeCheck": "true"}) as proxy:
        yield {"apache": {"broker": apache.addr, "grpc": apache.extra["grpc_addr"]},
               "pocketmq": {"broker": ours.addr, "grpc": proxy.endpoint}}


def update_topic(addr: str, topic: str, attributes: str | None):
    fields = {"topic": topic, "defaultTopic": "TBW102", "readQueueNums": "2", "writeQueueNums": "2", "perm": "6",
              "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}
    if attributes is not None:
        fields["attributes"] = attributes
    response = call(addr, RequestCode.UPDATE_AND_CREATE_TOPIC, fields)
    return response.code, response.remark


def topic_attributes(addr: str, topic: str) -> dict[str, str] | None:
    response = call(addr, RequestCode.GET_TOPIC_CONFIG, {"topic": topic})
    assert response.code == ResponseCode.SUCCESS, response.remark
    return orjson.loads(response.body_bytes()).get("attributes")


def test_attributes_are_stored_shown_and_checked_as_upstream(sides) -> None:
    topic = name("TypeAttr")
    answers: dict[str, list] = {}
    for side, addrs in sides.items():
        broker = addrs["broker"]
        answers[side] = [
            update_topic(broker, topic, "+message.type=FIFO"),
            topic_attributes(broker, topic),
            update_topic(broker, topic, "+message.type=DELAY"),  # changeable
            topic_attributes(broker, topic),
            update_topic(broker, topic, "-message.type"),
            topic_attributes(broker, topic),
            update_topic(broker, name("TypeBad"), "+message.type=MIXED")[0],
            update_topic(broker, name("TypeBad"), "+message.type=WRONG")[0],
            update_topic(broker, name("TypeBad"), "message.type=FIFO"),
            update_topic(broker, name("TypeBad"), "-message.type")[0],
        ]
    # (5.3.3 leaves "not set any response code" on a successful update, 4.9.7 and PocketMQ none:
    # the codes of those are compared)
    for both in (answers["pocketmq"], answers["apache"]):
        for i in (0, 2, 4):
            both[i] = both[i][0]
    assert answers["pocketmq"] == answers["apache"]
    assert answers["apache"][:6] == [ResponseCode.SUCCESS, {"message.type": "FIFO"},
                                     ResponseCode.SUCCESS, {"message.type": "DELAY"}, ResponseCode.SUCCESS, {}]
    assert answers["apache"][6:8] == [ResponseCode.INVALID_PARAMETER, ResponseCode.SYSTEM_ERROR]


def fifo_message(topic: str, body: bytes) -> pb.Message:
    props = pb.SystemProperties(message_id=f"01{hashlib.md5(body).hexdigest()[:30].upper()}", message_type=pb.FIFO,
                                message_group="g1", body_encoding=pb.IDENTITY,
                                body_digest=pb.Digest(type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper()))
    return pb.Message(topic=pb.Resource(name=topic), body=body, system_properties=props)


def raw_send(endpoint: str, message: pb.Message) -> pb.Status:
    with grpc.insecure_channel(endpoint) as channel:
        stub = pb_grpc.MessagingServiceStub(channel)
        answer = stub.SendMessage(pb.SendMessageRequest(messages=[message]), timeout=30,
                                  metadata=(("x-mq-client-id", "type-check-client"), ("x-mq-language", "PYTHON"),
                                            ("x-mq-protocol", "v2")))
    return answer.status


def test_message_type_against_the_topics_type(sides) -> None:
    fifo_topic, normal_topic = name("TypeFifo"), name("TypeNormal")
    answers = {}
    for side, addrs in sides.items():
        assert update_topic(addrs["broker"], fifo_topic, "+message.type=FIFO")[0] == ResponseCode.SUCCESS
        assert update_topic(addrs["broker"], normal_topic, None)[0] == ResponseCode.SUCCESS
        fifo = wait_until(lambda: sends(run_py5_driver(
            ["produce", "--topic", fifo_topic, "--count", 1, "--group", "g1", "--keep-going"],
            endpoints=addrs["grpc"])), 60, 1.0, f"a FIFO send on {side}")
        normal = run_py5_driver(["produce", "--topic", fifo_topic, "--count", 1, "--keep-going"],
                                endpoints=addrs["grpc"])
        status = raw_send(addrs["grpc"], fifo_message(normal_topic, b"fifo to a normal topic"))
        answers[side] = {"fifoSent": len(fifo), "normalRefused": [e["event"] for e in normal],
                         "rawFifoToNormal": (status.code, status.message)}
    assert answers["pocketmq"] == answers["apache"]
    assert answers["apache"]["fifoSent"] == 1
    assert answers["apache"]["normalRefused"] == ["send-error", "done"]
    assert answers["apache"]["rawFifoToNormal"] == (
        pb.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
        "org.apache.rocketmq.proxy.common.ProxyException: "
        "TopicMessageType validate failed, the expected type is NORMAL, but actual type is FIFO")
