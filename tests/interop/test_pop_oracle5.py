"""POP against the oracle: the same raw remoting requests to a real Apache RocketMQ 5.3.3 broker
and to a PocketMQ broker, both with maxPopPollingSize=1, get the same answers —

- a message popped again from the POP retry topic comes back under the topic asked for, with
  reconsumeTimes 1, 1ST_POP_TIME (no RETRY_TOPIC) and its receipt (naming the retry topic) in
  POP_CK, and an ack with that receipt succeeds, also when group and topic make a retry topic
  over 127 bytes;
- with one pop held in long polling, the next pop answers POLLING_FULL (remark
  NO_MESSAGE_IN_QUEUE) and, with one notification held, the next NOTIFICATION answers
  ``pollingFull=true`` at once; POLLING_INFO counts the held pop;
- a pop that finds nothing, at once or after its long polling, answers POLLING_TIMEOUT
  (remark NO_MESSAGE_IN_QUEUE);
- POP_ROLLBACK (200056) answers SUCCESS (remark "not set any response code", as 5.3.3's)."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from apache5 import apache5_broker, apache5_namesrv  # type: ignore[import-not-found]
from pocketmq.protocol import message as pm
from pocketmq.protocol.pop import ExtraInfo
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.cluster import create_topic, send_raw
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call

pytestmark = [pytest.mark.interop, pytest.mark.timeout(400)]

CONFIG = {"maxPopPollingSize": 1}
_counter = itertools.count()


@pytest.fixture(scope="module")
def brokers(tmp_path_factory: pytest.TempPathFactory, interop_ready: None) -> Iterator[dict[str, str]]:
    tmp: Path = tmp_path_factory.mktemp("pop-oracle")
    with apache5_namesrv() as ans, apache5_broker(ans.addr, **CONFIG) as apache, \
            start_namesrv(tmp / "ns") as ns, start_broker(tmp / "b", ns.addr, extra=CONFIG) as ours:
        yield {"apache": apache.addr, "pocketmq": ours.addr}


def topic_on_both(brokers: dict[str, str], topic: str) -> None:
    def created(addr: str) -> bool:
        try:
            create_topic(addr, topic, queues=1)
            return True
        except AssertionError:
            return False

    for addr in brokers.values():
        wait_until(lambda: created(addr), 60, 1.0, f"topic {topic} on {addr}")


def pop(addr: str, topic: str, group: str, invisible_ms: int = 60_000, poll_ms: int = 0):
    fields = {"consumerGroup": group, "topic": topic, "queueId": "-1", "maxMsgNums": "32",
              "invisibleTime": str(invisible_ms), "pollTime": str(poll_ms),
              "bornTime": str(int(time.time() * 1000)), "initMode": "0", "expType": "TAG", "exp": "*",
              "order": "false"}
    response = call(addr, RequestCode.POP_MESSAGE, fields, timeout=10 + poll_ms / 1000)
    return response, (pm.decode_messages(response.body) if response.code == ResponseCode.SUCCESS else [])


def notification(addr: str, topic: str, group: str, poll_ms: int):
    fields = {"consumerGroup": group, "topic": topic, "queueId": "-1", "pollTime": str(poll_ms),
              "bornTime": str(int(time.time() * 1000)), "order": "false"}
    return call(addr, RequestCode.NOTIFICATION, fields, timeout=10 + poll_ms / 1000)


def polling_num(addr: str, topic: str, group: str) -> int:
    response = call(addr, RequestCode.POLLING_INFO, {"consumerGroup": group, "topic": topic, "queueId": "-1"})
    assert response.code == ResponseCode.SUCCESS, response.remark
    return int(response.ext_fields["pollingNum"])


def test_pop_rollback_answers_success(brokers) -> None:
    answers = {name: call(addr, RequestCode.POP_ROLLBACK) for name, addr in brokers.items()}
    assert {name: (r.code, r.remark) for name, r in answers.items()} == \
        {"apache": (ResponseCode.SUCCESS, "not set any response code"),
         "pocketmq": (ResponseCode.SUCCESS, "not set any response code")}


def redelivered(addr: str, topic: str, group: str) -> pm.MessageExt:
    """Pop the one message without acking it, then wait for it from the POP retry topic."""
    assert send_raw(addr, topic, b"again", props={"UNIQ_KEY": "POPORACLE1"}).code == ResponseCode.SUCCESS
    _, first = wait_until(lambda: (lambda r: r if r[1] else None)(pop(addr, topic, group, 2000)), 30, 0.5,
                          f"the first pop on {addr}")
    assert [m.body for m in first] == [b"again"]
    _, back = wait_until(lambda: (lambda r: r if r[1] else None)(pop(addr, topic, group)), 120, 1.0,
                         f"the redelivery on {addr} ({topic})")
    assert len(back) == 1
    return back[0]


def short(prefix: str) -> str:
    """A unique name, short enough for ``%RETRY%<group>_<topic>`` to stay within 127 bytes."""
    return f"{prefix}{os.getpid() % 100000}{next(_counter)}"


# With a 130-character group the POP retry topic is over 127 bytes: stored in version-2 entries.
@pytest.mark.parametrize("group_length", [0, 130], ids=["short-group", "long-group"])
def test_a_message_from_the_retry_topic_is_answered_under_its_own_topic(brokers, group_length: int) -> None:
    topic, group = short("PopRetryT"), short("PopRetryG")
    group += "x" * max(0, group_length - len(group))
    topic_on_both(brokers, topic)
    seen = {}
    for name, addr in brokers.items():
        msg = redelivered(addr, topic, group)
        receipt = ExtraInfo.decode(msg.properties["POP_CK"])
        seen[name] = {"topic": msg.topic, "retryTopic": msg.properties.get("RETRY_TOPIC"),
                      "firstPopTime": "1ST_POP_TIME" in msg.properties,
                      "reconsumeTimes": msg.reconsume_times, "uniqKey": msg.properties.get("UNIQ_KEY"),
                      "receiptRetryFlag": receipt.retry, "receiptOffset": receipt.queue_offset == msg.queue_offset}
        acked = call(addr, RequestCode.ACK_MESSAGE, {
            "consumerGroup": group, "topic": topic, "queueId": str(msg.queue_id),
            "extraInfo": msg.properties["POP_CK"], "offset": str(msg.queue_offset)})
        seen[name]["ack"] = (acked.code, acked.remark)
    assert seen["pocketmq"] == seen["apache"]
    assert seen["apache"] == {"topic": topic, "retryTopic": None, "firstPopTime": True, "reconsumeTimes": 1, "uniqKey": "POPORACLE1",
                              "receiptRetryFlag": "1", "receiptOffset": True, "ack": (ResponseCode.SUCCESS, None)}


def held_in_background(action) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def full_notification(addr: str, topic: str, group: str, holders: list[threading.Thread]):
    """One notification held (8 s, started again if it came back), then a short one: its answer
    when it says pollingFull, else None (the short one may have come first and been held)."""
    if not holders or not holders[-1].is_alive():
        holders.append(held_in_background(lambda: notification(addr, topic, group, 8000)))
    response = notification(addr, topic, group, 300)
    return response if response.ext_fields.get("pollingFull") == "true" else None


def test_polling_full(brokers) -> None:
    topic, group = short("PopFullT"), short("PopFullG")
    topic_on_both(brokers, topic)
    answers = {}
    for name, addr in brokers.items():
        assert pop(addr, topic, group)[0].code != ResponseCode.SUCCESS  # the group exists, nothing there
        holder = held_in_background(lambda: pop(addr, topic, group, poll_ms=8000))
        wait_until(lambda: polling_num(addr, topic, group) == 1 or None, 30, 0.2, f"a held pop on {addr}")
        full, _ = pop(addr, topic, group, poll_ms=5000)
        holder.join(30)
        holders: list[threading.Thread] = []
        refused = wait_until(lambda: full_notification(addr, topic, group, holders), 30, 0.2,
                             f"a full notification service on {addr}")
        for thread in holders:
            thread.join(30)
        answers[name] = {"pop": (full.code, full.remark),
                         "notification": (refused.code, refused.ext_fields.get("hasMsg"),
                                          refused.ext_fields.get("pollingFull"))}
    assert answers["pocketmq"] == answers["apache"]
    assert answers["apache"] == {"pop": (ResponseCode.POLLING_FULL, "NO_MESSAGE_IN_QUEUE"),
                                 "notification": (ResponseCode.SUCCESS, "false", "true")}


def test_an_empty_pop(brokers) -> None:
    topic, group = short("PopEmptyT"), short("PopEmptyG")
    topic_on_both(brokers, topic)
    answers = {}
    for name, addr in brokers.items():
        answers[name] = [(r.code, r.remark) for r in (pop(addr, topic, group)[0],
                                                      pop(addr, topic, group, poll_ms=1000)[0])]
    assert answers["pocketmq"] == answers["apache"]
    assert answers["apache"] == [(ResponseCode.POLLING_TIMEOUT, "NO_MESSAGE_IN_QUEUE")] * 2
