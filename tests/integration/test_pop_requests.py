"""POP's other requests against a real broker, over remoting with upstream's headers and codes:
BATCH_ACK_MESSAGE (bitset body), PEEK_MESSAGE, NOTIFICATION (long polling), POLLING_INFO, orderly
(FIFO) POP — the next message of a queue only after the previous one is acked or its invisible
time is over — and SQL92 filters; bad input gets upstream's codes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest

from pocketmq.client.admin import Admin
from pocketmq.protocol import message as pm
from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.protocol.pop import (
    ORDER_REVIVE_QUEUE, BatchAck, ExtraInfo, order_count_of, parse_offset_info,
    parse_order_count_info, retry_flag,
)
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.cluster import create_topic, send_raw
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call

TOPIC = "PopReqTopic"


def pop(addr: str, group: str, invisible_ms: int, max_nums: int = 32, poll_ms: int = 0, order: bool = False,
        exp_type: str = "TAG", exp: str = "*", queue_id: int = -1):
    fields = {"consumerGroup": group, "topic": TOPIC, "queueId": str(queue_id), "maxMsgNums": str(max_nums),
              "invisibleTime": str(invisible_ms), "pollTime": str(poll_ms), "bornTime": str(int(time.time() * 1000)),
              "initMode": "0", "expType": exp_type, "exp": exp, "order": "true" if order else "false"}
    response = call(addr, RequestCode.POP_MESSAGE, fields, timeout=5 + poll_ms / 1000)
    messages = pm.decode_messages(response.body) if response.code == ResponseCode.SUCCESS else []
    return response, messages


def extra_info(response, msg: pm.MessageExt) -> str:
    if "POP_CK" in msg.properties:  # popped from the retry topic: the broker says how to ack it
        return msg.properties["POP_CK"]
    fields = response.ext_fields
    flag = retry_flag(msg.topic)
    start = int(parse_offset_info(fields["startOffsetInfo"])[f"{flag}@{msg.queue_id}"])
    return ExtraInfo(start, int(fields["popTime"]), int(fields["invisibleTime"]), int(fields["reviveQid"]), flag,
                     "broker-a", msg.queue_id, msg.queue_offset).encode()


def ack(addr: str, group: str, response, msg: pm.MessageExt):
    return call(addr, RequestCode.ACK_MESSAGE, {
        "consumerGroup": group, "topic": TOPIC, "queueId": str(msg.queue_id),
        "extraInfo": extra_info(response, msg), "offset": str(msg.queue_offset)})


def bodies(messages) -> list[bytes]:
    return [bytes(m.body) for m in messages]


def popped_again(addr: str, group: str, **kw):
    return wait_until(lambda: (lambda r: r if r[1] else None)(pop(addr, group, **kw)), 20, 0.2, "a redelivery")


@pytest.fixture()
def broker(tmp_path: Path):
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as b:
        create_topic(b.addr, TOPIC, queues=1)
        b.namesrv = ns
        yield b


def test_batch_ack_acks_the_bits_set_and_the_rest_comes_back(broker) -> None:
    for i in range(4):
        assert send_raw(broker.addr, TOPIC, f"b{i}".encode()).code == ResponseCode.SUCCESS
    response, first = pop(broker.addr, "GB", invisible_ms=2000)
    assert bodies(first) == [b"b0", b"b1", b"b2", b"b3"]
    fields = response.ext_fields
    start = first[0].queue_offset
    batch = BatchAck("GB", TOPIC, "0", start, 0, int(fields["reviveQid"]), int(fields["popTime"]),
                     int(fields["invisibleTime"]), (start, start + 2, start + 3))
    body = orjson.dumps({"acks": [batch.to_dict()], "brokerName": "broker-a"})
    assert call(broker.addr, RequestCode.BATCH_ACK_MESSAGE, body=body).code == ResponseCode.SUCCESS
    _, back = popped_again(broker.addr, "GB", invisible_ms=60_000)
    assert bodies(back) == [b"b1"] and back[0].reconsume_times == 1
    empty = call(broker.addr, RequestCode.BATCH_ACK_MESSAGE, body=orjson.dumps({"acks": []}))
    assert empty.code == ResponseCode.NO_MESSAGE
    garbage = call(broker.addr, RequestCode.BATCH_ACK_MESSAGE, body=b"{not json")
    assert garbage.code == ResponseCode.SYSTEM_ERROR


def test_ack_twice_and_bad_acks(broker) -> None:
    assert send_raw(broker.addr, TOPIC, b"once").code == ResponseCode.SUCCESS
    response, [msg] = pop(broker.addr, "GA", invisible_ms=1500)
    assert ack(broker.addr, "GA", response, msg).code == ResponseCode.SUCCESS
    assert ack(broker.addr, "GA", response, msg).code == ResponseCode.SUCCESS  # as upstream: idempotent
    bad_queue = call(broker.addr, RequestCode.ACK_MESSAGE, {
        "consumerGroup": "GA", "topic": TOPIC, "queueId": "7", "extraInfo": extra_info(response, msg),
        "offset": str(msg.queue_offset)})
    assert bad_queue.code == ResponseCode.MESSAGE_ILLEGAL
    unknown = call(broker.addr, RequestCode.ACK_MESSAGE, {
        "consumerGroup": "GA", "topic": "NoSuchTopicHere", "queueId": "0", "extraInfo": extra_info(response, msg),
        "offset": "0"})
    assert unknown.code == ResponseCode.TOPIC_NOT_EXIST
    # the acked message must not come back, well past its invisible time and the revive margin
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        assert pop(broker.addr, "GA", invisible_ms=60_000, poll_ms=500)[1] == []


def test_peek_notification_and_polling_info(broker) -> None:
    base = {"consumerGroup": "GP", "topic": TOPIC, "queueId": "-1"}
    peek = call(broker.addr, RequestCode.PEEK_MESSAGE, {**base, "maxMsgNums": "8"})
    assert peek.code == ResponseCode.PULL_NOT_FOUND
    notified = call(broker.addr, RequestCode.NOTIFICATION, {**base, "pollTime": "0", "bornTime": "0"})
    assert notified.code == ResponseCode.SUCCESS and notified.ext_fields["hasMsg"] == "false"

    # A pop held by long polling shows in POLLING_INFO; a NOTIFICATION held is woken by a send.
    held = threading.Thread(target=pop, args=(broker.addr, "GP", 60_000), kwargs={"poll_ms": 8000})
    held.start()
    try:
        wait_until(lambda: call(broker.addr, RequestCode.POLLING_INFO, base).ext_fields.get("pollingNum") == "1",
                   10, 0.1, "the held pop in POLLING_INFO")
        answers = []
        waiter = threading.Thread(target=lambda: answers.append(call(
            broker.addr, RequestCode.NOTIFICATION, {**base, "pollTime": "8000", "bornTime": "0"}, timeout=15)))
        waiter.start()
        # Notifications are held by a polling service of their own (upstream NotificationProcessor's):
        # POLLING_INFO counts pops only. Held or not yet, the send below answers it.
        assert call(broker.addr, RequestCode.POLLING_INFO, base).ext_fields.get("pollingNum") == "1"
        assert send_raw(broker.addr, TOPIC, b"peeked").code == ResponseCode.SUCCESS
        waiter.join(15)
        assert answers and answers[0].code == ResponseCode.SUCCESS
    finally:
        held.join(15)
    assert call(broker.addr, RequestCode.POLLING_INFO, base).ext_fields["pollingNum"] == "0"
    assert send_raw(broker.addr, TOPIC, b"peek-me").code == ResponseCode.SUCCESS
    for _ in range(2):  # peeking neither moves the offset nor hides the message
        peek = call(broker.addr, RequestCode.PEEK_MESSAGE, {**base, "consumerGroup": "GP2", "maxMsgNums": "8"})
        assert peek.code == ResponseCode.SUCCESS
        assert b"peek-me" in bodies(pm.decode_messages(peek.body))
    assert b"peek-me" in bodies(pop(broker.addr, "GP2", 60_000)[1])
    bad = call(broker.addr, RequestCode.PEEK_MESSAGE, {**base, "queueId": "5", "maxMsgNums": "1"})
    assert bad.code == ResponseCode.INVALID_PARAMETER
    missing = call(broker.addr, RequestCode.POLLING_INFO, {**base, "topic": "NoSuchTopicHere"})
    assert missing.code == ResponseCode.TOPIC_NOT_EXIST


def test_orderly_pop_blocks_the_queue_until_ack_or_invisible_time(broker) -> None:
    with Admin(broker.namesrv.addr) as admin:
        admin.create_subscription_group(SubscriptionGroupConfig("GO", consumeMessageOrderly=True),
                                        broker_addr=broker.addr)
    for i in range(3):
        assert send_raw(broker.addr, TOPIC, f"o{i}".encode()).code == ResponseCode.SUCCESS
    response, [m0] = pop(broker.addr, "GO", invisible_ms=60_000, max_nums=1, order=True)
    assert bytes(m0.body) == b"o0" and response.ext_fields["reviveQid"] == str(ORDER_REVIVE_QUEUE)
    assert pop(broker.addr, "GO", invisible_ms=60_000, order=True)[1] == []  # blocked: o0 in flight
    assert ack(broker.addr, "GO", response, m0).code == ResponseCode.SUCCESS
    response, [m1] = pop(broker.addr, "GO", invisible_ms=1500, max_nums=1, order=True)
    assert bytes(m1.body) == b"o1"
    counts = parse_order_count_info(response.ext_fields["orderCountInfo"])
    assert order_count_of(counts, m1.topic, m1.queue_id, m1.queue_offset) == 0
    # not acked: after its invisible time the same message again, from the queue, counted once more
    again, [m1b] = popped_again(broker.addr, "GO", invisible_ms=60_000, max_nums=1, order=True)
    assert bytes(m1b.body) == b"o1" and m1b.topic == TOPIC
    counts = parse_order_count_info(again.ext_fields["orderCountInfo"])
    assert order_count_of(counts, m1b.topic, m1b.queue_id, m1b.queue_offset) == 1
    stale = ack(broker.addr, "GO", response, m1)  # the first delivery's receipt: an older pop, ignored
    assert stale.code == ResponseCode.SUCCESS
    assert pop(broker.addr, "GO", invisible_ms=60_000, order=True)[1] == []  # still blocked
    not_in_flight = call(broker.addr, RequestCode.ACK_MESSAGE, {
        "consumerGroup": "GO", "topic": TOPIC, "queueId": "0", "extraInfo": extra_info(again, m1b),
        "offset": str(m1b.queue_offset + 1)})  # o2: never delivered by this pop
    assert not_in_flight.code == ResponseCode.MESSAGE_ILLEGAL
    assert ack(broker.addr, "GO", again, m1b).code == ResponseCode.SUCCESS
    _, rest = pop(broker.addr, "GO", invisible_ms=60_000, order=True)
    assert bodies(rest) == [b"o2"]


def test_sql92_filter(broker) -> None:
    for i in range(4):
        assert send_raw(broker.addr, TOPIC, f"s{i}".encode(), props={"a": str(i), "TAGS": "T"}).code == 0
    _, got = pop(broker.addr, "GS", 60_000, exp_type="SQL92", exp="a >= 2 AND TAGS = 'T'")
    assert bodies(got) == [b"s2", b"s3"]
    bad = pop(broker.addr, "GS2", 60_000, exp_type="SQL92", exp="a >>> 2")[0]
    assert bad.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
    odd = pop(broker.addr, "GS3", 60_000, exp_type="XPATH", exp="/a")[0]
    assert odd.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED


def test_unknown_group_without_auto_create(tmp_path: Path) -> None:
    with start_namesrv(tmp_path / "ns") as ns, \
            start_broker(tmp_path / "b", ns.addr, extra={"autoCreateSubscriptionGroup": "false"}) as b:
        create_topic(b.addr, TOPIC, queues=1)
        assert pop(b.addr, "GNone", 60_000)[0].code == ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST
        peek = call(b.addr, RequestCode.PEEK_MESSAGE, {"consumerGroup": "GNone", "topic": TOPIC, "queueId": "0",
                                                       "maxMsgNums": "1"})
        assert peek.code == ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST
        notified = call(b.addr, RequestCode.NOTIFICATION, {"consumerGroup": "GNone", "topic": TOPIC, "queueId": "0",
                                                           "pollTime": "0", "bornTime": "0"})
        assert notified.code == ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST
        missing = call(b.addr, RequestCode.POP_MESSAGE, {"consumerGroup": "GNone", "topic": TOPIC})
        assert missing.code == ResponseCode.SYSTEM_ERROR  # a header without its required fields


def test_tag_filter(broker) -> None:
    for i, tag in enumerate(["TagA", "TagB", "TagA", "TagC"]):
        assert send_raw(broker.addr, TOPIC, f"t{i}".encode(), props={"TAGS": tag}).code == ResponseCode.SUCCESS
    _, got = pop(broker.addr, "GT", 60_000, exp="TagA || TagC")
    assert bodies(got) == [b"t0", b"t2", b"t3"]
    _, none = pop(broker.addr, "GT", 60_000, exp="TagA || TagC")
    assert none == []  # the TagB message was passed over, not left in the way
