"""Message semantics at the request level against a real mqbroker (no Java): orderly-consumer
locks (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ), CHECK_CLIENT_CONFIG for SQL92 subscriptions, and
consumer send-back routing (retry via SCHEDULE_TOPIC_XXXX level 3 + reconsumeTimes, DLQ for
delayLevel -1 or a group whose retryMaxTimes is reached)."""

from __future__ import annotations

import itertools
import os

import orjson
import pytest

from pocketmq.protocol.message import MESSAGE_MAGIC_CODE_V2, decode_messages
from pocketmq.remoting.codes import RequestCode as RC, ResponseCode
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call

_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_names)}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    home = tmp_path_factory.mktemp("semantics")
    namesrv = start_namesrv(home / "namesrv")
    broker = start_broker(home / "broker", namesrv.addr, extra={"enablePropertyFilter": "true"})
    try:
        yield broker
    finally:
        broker.kill()
        namesrv.kill()


# ---------------------------------------------------------------------------------- locks
def _lock_body(group: str, client: str, topic: str, queue_ids: list[int]) -> bytes:
    return orjson.dumps({"consumerGroup": group, "clientId": client,
                         "mqSet": [{"topic": topic, "brokerName": "broker-a", "queueId": q} for q in queue_ids]})


def lock(broker, group, client, topic, queue_ids) -> list[int]:
    response = call(broker.addr, RC.LOCK_BATCH_MQ, body=_lock_body(group, client, topic, queue_ids))
    assert response.code == ResponseCode.SUCCESS, response.remark
    return sorted(mq["queueId"] for mq in orjson.loads(response.body_bytes())["lockOKMQSet"])


def unlock(broker, group, client, topic, queue_ids) -> None:
    response = call(broker.addr, RC.UNLOCK_BATCH_MQ, body=_lock_body(group, client, topic, queue_ids))
    assert response.code == ResponseCode.SUCCESS, response.remark


def test_a_queue_lock_is_held_by_one_client_per_group(broker):
    group, topic = unique("GID_lock"), unique("TLock")
    assert lock(broker, group, "c1", topic, [0, 1]) == [0, 1]
    assert lock(broker, group, "c2", topic, [1, 2]) == [2]          # queue 1 belongs to c1
    assert lock(broker, group, "c1", topic, [0, 1]) == [0, 1]       # renewal by the holder
    assert lock(broker, unique("GID_other"), "c2", topic, [0, 1]) == [0, 1]  # locks are per group
    unlock(broker, group, "c2", topic, [1])                         # not c2's: no effect
    assert lock(broker, group, "c2", topic, [1]) == []
    unlock(broker, group, "c1", topic, [1])
    assert lock(broker, group, "c2", topic, [1]) == [1]


# --------------------------------------------------------------------------------- SQL92
def _check_client(broker, expression: str, expression_type: str = "SQL92"):
    body = orjson.dumps({"clientId": "c1", "group": unique("GID_check"), "subscriptionData": {
        "topic": "T", "subString": expression, "expressionType": expression_type, "tagsSet": [], "codeSet": [],
        "subVersion": 1, "classFilterMode": False}})
    return call(broker.addr, RC.CHECK_CLIENT_CONFIG, body=body)


def test_check_client_config_compiles_sql92(broker):
    assert _check_client(broker, "a > 5 AND b IN ('x', 'y')").code == ResponseCode.SUCCESS
    assert _check_client(broker, "TagA || TagB", "TAG").code == ResponseCode.SUCCESS
    bad = _check_client(broker, "a > 5 AND")
    assert bad.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED
    assert "Invalid MessageSelector" in bad.remark and "unexpected end of expression" in bad.remark


# ------------------------------------------------------------------------------ send-back
def _send(broker, topic: str) -> int:
    """Store one message; returns its commit-log offset (from the offset message id)."""
    response = call(broker.addr, RC.SEND_MESSAGE, {
        "producerGroup": "PID_sem", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "1",
        "queueId": "0", "sysFlag": "0", "bornTimestamp": "1", "flag": "0",
        "properties": "UNIQ_KEY\u0001ABCDEF\u0002TAGS\u0001t\u0002"}, body=b"payload")
    assert response.code == ResponseCode.SUCCESS, response.remark
    return int(response.ext_fields["msgId"][-16:], 16)


def _max_offset(broker, topic: str, queue_id: int = 0) -> int:
    response = call(broker.addr, RC.GET_MAX_OFFSET, {"topic": topic, "queueId": str(queue_id)})
    return int(response.ext_fields["offset"]) if response.code == ResponseCode.SUCCESS else -1


def _send_back(broker, offset: int, group: str, delay_level: int, **extra: str):
    return call(broker.addr, RC.CONSUMER_SEND_MSG_BACK, {
        "offset": str(offset), "group": group, "delayLevel": str(delay_level), "originMsgId": "ABCDEF", **extra})


def test_send_back_goes_to_retry_through_the_schedule_topic(broker):
    topic, group = unique("TBack"), unique("GID_back")
    offset = _send(broker, topic)
    level3_before = _max_offset(broker, "SCHEDULE_TOPIC_XXXX", 2)
    response = _send_back(broker, offset, group, 0)
    assert response.code == ResponseCode.SUCCESS, response.remark
    # delay level 3 + reconsumeTimes(0): parked in SCHEDULE_TOPIC_XXXX queue 2, not yet in %RETRY%
    assert _max_offset(broker, "SCHEDULE_TOPIC_XXXX", 2) == max(level3_before, 0) + 1
    assert _max_offset(broker, f"%RETRY%{group}") <= 0
    assert _max_offset(broker, f"%DLQ%{group}") <= 0


def test_send_back_of_a_long_group_reaches_its_retry_and_dlq_topics(broker):
    """A 200-character group: its %RETRY% and %DLQ% topics are over 127 bytes and are stored in
    version-2 entries, as upstream 5 stores them, both put directly (DLQ) and re-put by the
    schedule service when the delay ends (retry)."""
    topic, group = unique("TLong"), unique("GID_long").ljust(200, "g")
    offset = _send(broker, topic)
    assert _send_back(broker, offset, group, -1).code == ResponseCode.SUCCESS
    assert _max_offset(broker, f"%DLQ%{group}") == 1
    assert _send_back(broker, offset, group, 1).code == ResponseCode.SUCCESS  # delay level 1: 1 s
    wait_until(lambda: _max_offset(broker, f"%RETRY%{group}") == 1, 20, 0.2, "the retry after its delay")
    pulled = call(broker.addr, RC.PULL_MESSAGE, {
        "consumerGroup": group, "topic": f"%RETRY%{group}", "queueId": "0", "queueOffset": "0",
        "maxMsgNums": "4", "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0",
        "subscription": "*", "subVersion": "0", "expressionType": "TAG"})
    assert pulled.code == ResponseCode.SUCCESS, pulled.remark
    [retried] = decode_messages(pulled.body)
    assert retried.topic == f"%RETRY%{group}" and retried.magic_code == MESSAGE_MAGIC_CODE_V2
    assert retried.body == b"payload" and retried.properties["RETRY_TOPIC"] == topic


def test_send_back_with_negative_level_or_exhausted_retries_goes_to_the_dlq(broker):
    topic = unique("TDead")
    offset = _send(broker, topic)
    group = unique("GID_dead")
    assert _send_back(broker, offset, group, -1).code == ResponseCode.SUCCESS
    assert _max_offset(broker, f"%DLQ%{group}") == 1

    group = unique("GID_no_retry")
    config = {"groupName": group, "consumeEnable": True, "consumeFromMinEnable": True,
              "consumeBroadcastEnable": True, "retryQueueNums": 1, "retryMaxTimes": 0, "brokerId": 0,
              "whichBrokerWhenConsumeSlowly": 1, "notifyConsumerIdsChangedEnable": True}
    assert call(broker.addr, RC.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, body=orjson.dumps(config)).code == 0
    assert _send_back(broker, offset, group, 0).code == ResponseCode.SUCCESS
    assert _max_offset(broker, f"%DLQ%{group}") == 1
    # the header's maxReconsumeTimes wins over the group's setting (clients >= 3.4.9)
    group = unique("GID_header_max")
    assert _send_back(broker, offset, group, 0, maxReconsumeTimes="0").code == ResponseCode.SUCCESS
    assert _max_offset(broker, f"%DLQ%{group}") == 1
