"""The inspecting admin requests (issue 14) given bad or odd input over the wire: each gets an
upstream error code and remark, and the broker lives on. (Their good answers are compared with
Apache RocketMQ's in tests/interop/test_admin_inspect_interop.py.)"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from pocketmq.client import Message, Producer
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import make_request
from pocketmq.tools.admin_ext import AdminExt
from tests.support.processes import start_broker, start_namesrv

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    home = tmp_path_factory.mktemp("inspect-bad")
    ns = start_namesrv(home / "ns")
    broker = start_broker(home / "broker", ns.addr)
    try:
        yield ns, broker
    finally:
        broker.kill()
        ns.kill()


def ask(ns: str, addr: str, code: int, fields: dict[str, str]):  # noqa: ANN201
    async def go():  # noqa: ANN202
        admin = await AdminExt([ns]).start()
        try:
            return await admin.api.invoke(addr, make_request(code, fields, language="JAVA"), 5.0)
        finally:
            await admin.shutdown()

    return asyncio.run(go())


@pytest.mark.parametrize("code, fields, remark", [
    (RequestCode.VIEW_BROKER_STATS_DATA, {"statsName": "TOPIC_PUT_NUMS"}, "the custom field <statsKey> is null"),
    (RequestCode.VIEW_BROKER_STATS_DATA, {"statsName": "NO_SUCH_SET", "statsKey": "T"},
     "The stats <NO_SUCH_SET> <T> not exist"),
    (RequestCode.QUERY_CONSUME_QUEUE, {"topic": "T", "queueId": "zero", "index": "0", "count": "1"},
     "the custom field <queueId> has a bad value 'zero'"),
    (RequestCode.QUERY_CONSUME_QUEUE, {"queueId": "0", "index": "0", "count": "1"}, "the custom field <topic> is null"),
    (RequestCode.QUERY_CONSUME_QUEUE, {"topic": "T", "queueId": "99999", "index": "0", "count": "1"},
     "99999@T is not exist!"),
    (RequestCode.QUERY_CONSUME_TIME_SPAN, {"topic": "NoSuchTopic", "group": "G"}, "topic[NoSuchTopic] not exist"),
    (RequestCode.QUERY_CORRECTION_OFFSET, {"filterGroups": "a,b"}, "the custom field <topic> is null"),
    (RequestCode.RESUME_CHECK_HALF_MESSAGE, {"msgId": "not-hex"},
     "Exception was thrown when putting message back to RMQ_SYS_TRANS_HALF_TOPIC."),
    (RequestCode.RESUME_CHECK_HALF_MESSAGE, {"msgId": "7F000001000051AF7FFFFFFFFFFFFFFF"},
     "Exception was thrown when putting message back to RMQ_SYS_TRANS_HALF_TOPIC."),
    (RequestCode.INVOKE_BROKER_TO_GET_CONSUMER_STATUS, {"topic": "T", "group": "Nobody"},
     "No Any Consumer online in the consumer group: [Nobody]"),
])
def test_bad_input_gets_an_error_and_a_remark(broker, code, fields, remark):
    ns, b = broker
    response = ask(ns.addr, b.addr, code, fields)
    assert response.code in (ResponseCode.SYSTEM_ERROR, ResponseCode.TOPIC_NOT_EXIST)
    assert response.remark == remark


def test_empty_answers_and_the_broker_lives_on(broker):
    ns, b = broker
    producers = ask(ns.addr, b.addr, RequestCode.GET_ALL_PRODUCER_INFO, {})
    assert producers.code == ResponseCode.SUCCESS and orjson.loads(producers.body_bytes()) == {"data": {}}
    correction = ask(ns.addr, b.addr, RequestCode.QUERY_CORRECTION_OFFSET,
                     {"topic": "T", "compareGroup": "G", "filterGroups": ""})
    assert correction.code == ResponseCode.SUCCESS and orjson.loads(correction.body_bytes()) == {"correctionOffsets": {}}
    with Producer("InspectBadProducers", ns.addr) as producer:
        queue_id = producer.send(Message("InspectBadTopic", b"x")).message_queue.queueId
    negative = ask(ns.addr, b.addr, RequestCode.QUERY_CONSUME_QUEUE,
                   {"topic": "InspectBadTopic", "queueId": str(queue_id), "index": "-5", "count": "3"})
    assert negative.code == ResponseCode.SUCCESS and negative.body_bytes() == b""
    assert negative.remark == f"Index -5 of {queue_id}@InspectBadTopic is not exist!"
    huge = ask(ns.addr, b.addr, RequestCode.QUERY_CONSUME_QUEUE,
               {"topic": "InspectBadTopic", "queueId": str(queue_id), "index": "0", "count": str(2 ** 40)})
    assert [u["physicSize"] > 0 for u in orjson.loads(huge.body_bytes())["queueData"]] == [True]
    assert ask(ns.addr, b.addr, RequestCode.GET_BROKER_RUNTIME_INFO, {}).code == ResponseCode.SUCCESS
