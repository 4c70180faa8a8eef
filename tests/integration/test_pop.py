"""POP consumption over remoting against a real broker: POP_MESSAGE / ACK_MESSAGE /
CHANGE_MESSAGE_INVISIBLETIME with upstream's headers; what is not acked comes back from the POP
retry topic with reconsumeTimes + 1 after its invisible time — also across a broker restart
(checkpoints live in the revive topic) — and lands in the DLQ after retryMaxTimes + 1 attempts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pocketmq.client.admin import Admin
from pocketmq.protocol import message as pm
from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.protocol.pop import ExtraInfo, parse_offset_info, retry_flag
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.cluster import create_topic, pull_all, send_raw
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call

TOPIC = "PopTopic"


def pop(addr: str, group: str, invisible_ms: int, max_nums: int = 32, poll_ms: int = 0, topic: str = TOPIC,
        exp: str = "*"):
    fields = {"consumerGroup": group, "topic": topic, "queueId": "-1", "maxMsgNums": str(max_nums),
              "invisibleTime": str(invisible_ms), "pollTime": str(poll_ms), "bornTime": str(int(time.time() * 1000)),
              "initMode": "0", "expType": "TAG", "exp": exp}
    response = call(addr, RequestCode.POP_MESSAGE, fields, timeout=5 + poll_ms / 1000)
    messages = pm.decode_messages(response.body) if response.code == ResponseCode.SUCCESS else []
    return response, messages


def extra_info(response, msg: pm.MessageExt, broker_name: str = "broker-a") -> str:
    """What a client builds for each popped message from the response header (ExtraInfoUtil)."""
    if "POP_CK" in msg.properties:  # popped from the retry topic: the broker says how to ack it
        return msg.properties["POP_CK"]
    fields = response.ext_fields
    flag = retry_flag(msg.topic)
    start = int(parse_offset_info(fields["startOffsetInfo"])[f"{flag}@{msg.queue_id}"])
    return ExtraInfo(start, int(fields["popTime"]), int(fields["invisibleTime"]), int(fields["reviveQid"]), flag,
                     broker_name, msg.queue_id, msg.queue_offset).encode()


def ack(addr: str, group: str, response, msg: pm.MessageExt, extra: str | None = None):
    fields = {"consumerGroup": group, "topic": TOPIC, "queueId": str(msg.queue_id),
              "extraInfo": extra if extra is not None else extra_info(response, msg),
              "offset": str(msg.queue_offset)}
    return call(addr, RequestCode.ACK_MESSAGE, fields)


def bodies(messages: list[pm.MessageExt]) -> set[bytes]:
    return {bytes(m.body) for m in messages}


# A 130-character group makes a 146-byte POP retry topic, stored as a version-2 entry (upstream 5).
@pytest.mark.parametrize("group", ["G1", "G" * 130], ids=["short-group", "long-group"])
def test_pop_ack_and_redelivery_after_the_invisible_time(tmp_path: Path, group: str) -> None:
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as broker:
        create_topic(broker.addr, TOPIC, queues=2)
        for i in range(3):
            assert send_raw(broker.addr, TOPIC, f"m{i}".encode(), queue_id=i % 2,
                            props={"UNIQ_KEY": f"UNIQ{i}"}).code == ResponseCode.SUCCESS
        response, first = pop(broker.addr, group, invisible_ms=2000)
        assert response.code == ResponseCode.SUCCESS
        assert bodies(first) == {b"m0", b"m1", b"m2"}
        again, none = pop(broker.addr, group, invisible_ms=2000)
        assert (again.code, again.remark) == (ResponseCode.POLLING_TIMEOUT, "NO_MESSAGE_IN_QUEUE")  # as 5.3.3
        assert none == []  # invisible, offsets moved on
        [acked] = [m for m in first if m.body == b"m1"]
        assert ack(broker.addr, group, response, acked).code == ResponseCode.SUCCESS

        def redelivered():
            resp, msgs = pop(broker.addr, group, invisible_ms=60_000)
            return (resp, msgs) if msgs else None

        resp, back = wait_until(redelivered, 15, 0.2, "the un-acked messages to come back")
        more = wait_until(lambda: pop(broker.addr, group, invisible_ms=60_000)[1] or None, 5, 0.2, "the other") \
            if len(back) < 2 else []
        back = back + list(more)
        assert bodies(back) == {b"m0", b"m2"}
        for msg in back:
            # upstream (popResponseReturnActualRetryTopic=false): shown under the topic asked for,
            # acked through the receipt in POP_CK, which names the retry topic (flag 1)
            assert msg.topic == TOPIC
            assert ExtraInfo.decode(msg.properties["POP_CK"]).retry == "1"
            assert msg.reconsume_times == 1
            assert int(msg.properties["1ST_POP_TIME"]) == int(response.ext_fields["popTime"])  # as upstream
            assert msg.properties["UNIQ_KEY"] == "UNIQ" + msg.body.decode()[1:]  # the message id stays
            assert ack(broker.addr, group, resp, msg).code == ResponseCode.SUCCESS
        # a second group has its own offsets: it sees everything once
        _, other = pop(broker.addr, "G2", invisible_ms=60_000)
        assert bodies(other) == {b"m0", b"m1", b"m2"}


@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_checkpoints_survive_a_restart(tmp_path: Path, stop: str) -> None:
    """Popped, not acked, broker stopped (SIGTERM, or kill -9 before offsets are flushed): after
    the restart the message is delivered again — never lost (with kill -9 possibly twice: once
    from the queue, whose offset had not reached the disk, once revived)."""
    with start_namesrv(tmp_path / "ns") as ns:
        home = tmp_path / "b"
        with start_broker(home, ns.addr) as broker:
            port = broker.port
            create_topic(broker.addr, TOPIC, queues=1)
            assert send_raw(broker.addr, TOPIC, b"survivor").code == ResponseCode.SUCCESS
            _, popped = pop(broker.addr, "GR", invisible_ms=3000)
            assert bodies(popped) == {b"survivor"}
            if stop == "terminate":
                assert broker.terminate() == 0
            else:
                broker.kill()
        with start_broker(home, ns.addr, port=port) as broker:
            def delivered():
                _, msgs = pop(broker.addr, "GR", 60_000)
                return [m for m in msgs if m.reconsume_times == 1] or None

            back = wait_until(delivered, 20, 0.3, "the message popped before the restart, revived")
            assert bodies(back) == {b"survivor"}


def test_change_invisible_time_and_bad_extra_info(tmp_path: Path) -> None:
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as broker:
        create_topic(broker.addr, TOPIC, queues=1)
        assert send_raw(broker.addr, TOPIC, b"later").code == ResponseCode.SUCCESS
        response, [msg] = pop(broker.addr, "GC", invisible_ms=600_000)
        fields = {"consumerGroup": "GC", "topic": TOPIC, "queueId": str(msg.queue_id),
                  "extraInfo": extra_info(response, msg), "offset": str(msg.queue_offset), "invisibleTime": "1000"}
        changed = call(broker.addr, RequestCode.CHANGE_MESSAGE_INVISIBLETIME, fields)
        assert changed.code == ResponseCode.SUCCESS, changed.remark
        assert changed.ext_fields["invisibleTime"] == "1000"
        _, back = wait_until(lambda: (lambda r: r if r[1] else None)(pop(broker.addr, "GC", 60_000)), 15, 0.2,
                             "the message after its shortened invisible time")
        assert bodies(back) == {b"later"}
        bad = ack(broker.addr, "GC", response, msg, extra="not an extra info")
        assert bad.code == ResponseCode.MESSAGE_ILLEGAL
        far = call(broker.addr, RequestCode.ACK_MESSAGE, {
            "consumerGroup": "GC", "topic": TOPIC, "queueId": "0", "extraInfo": extra_info(response, msg),
            "offset": "999"})
        assert far.code == ResponseCode.NO_MESSAGE
        unknown = pop(broker.addr, "GC", 1000, topic="NoSuchPopTopic")[0]
        assert unknown.code == ResponseCode.TOPIC_NOT_EXIST


def test_dlq_after_retry_max_times_plus_one_attempts(tmp_path: Path) -> None:
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as broker:
        create_topic(broker.addr, TOPIC, queues=1)
        with Admin(ns.addr) as admin:
            admin.create_subscription_group(SubscriptionGroupConfig("GD", retryMaxTimes=1), broker_addr=broker.addr)
        assert send_raw(broker.addr, TOPIC, b"poison").code == ResponseCode.SUCCESS
        attempts = []
        for _ in range(2):  # retryMaxTimes + 1 deliveries, none acked
            _, got = wait_until(lambda: (lambda r: r if r[1] else None)(pop(broker.addr, "GD", 1000)), 15, 0.2,
                                "a delivery")
            attempts += got
        assert [m.reconsume_times for m in attempts] == [0, 1]
        dead = wait_until(lambda: pull_all(broker.addr, "%DLQ%GD", 0), 15, 0.3, "the message in the DLQ")
        assert [bytes(m.body) for m in dead] == [b"poison"] and dead[0].reconsume_times == 2
        assert dead[0].properties["RETRY_TOPIC"] == TOPIC  # revived twice: once from the retry topic
        assert pop(broker.addr, "GD", 1000)[1] == []
