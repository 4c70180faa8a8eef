"""Pure client pieces: message properties on the wire, pulled message decoding (with a
compressed body), the process queue's commit offset, the fault strategy, queue selection and
the name server address parsing."""

import time
import zlib

import pytest

from pocketmq.client.config import parse_namesrv_addr
from pocketmq.client.errors import MQClientError
from pocketmq.client.fault import FaultStrategy, TopicPublishInfo, publish_queues
from pocketmq.client.message import Message
from pocketmq.client.process_queue import ProcessQueue
from pocketmq.client.producer import check_topic, select_by_hash
from pocketmq.protocol import message as pm
from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.route import BrokerData, QueueData, TopicRouteData


def test_parse_namesrv_addr(monkeypatch):
    assert parse_namesrv_addr("a:1;b:2") == ["a:1", "b:2"]
    assert parse_namesrv_addr("a:1, b:2") == ["a:1", "b:2"]
    monkeypatch.setenv("NAMESRV_ADDR", "c:3")
    assert parse_namesrv_addr(None) == ["c:3"]
    monkeypatch.delenv("NAMESRV_ADDR")
    with pytest.raises(MQClientError):
        parse_namesrv_addr(None)


def test_wire_properties():
    msg = Message("T", "x", tags="TagA", keys=["a", "b"], delay_level=3, properties={"u": "1"})
    assert msg.wire_properties() == {"TAGS": "TagA", "KEYS": "a b", "WAIT": "true", "DELAY": "3", "u": "1"}


def test_decode_pulled_compressed_message():
    body = b"y" * 5000
    raw = pm.encode_message(topic="T", body=zlib.compress(body), sys_flag=pm.COMPRESSED_FLAG, queue_offset=7,
                            properties={"TAGS": "a", "UNIQ_KEY": "ABC"})
    (msg,) = pm.decode_messages(raw + b"", decompress=True)
    assert msg.body == body and msg.tags == "a" and msg.uniq_key == "ABC" and msg.queue_offset == 7


def _msgs(offsets):
    return [pm.decode_message(pm.encode_message(topic="T", body=b"x", queue_offset=o)) for o in offsets]


def test_process_queue_commit_offset_is_lowest_unconsumed():
    pq = ProcessQueue()
    msgs = _msgs(range(5))
    pq.put(msgs)
    assert pq.msg_count == 5 and pq.span() == 4
    assert pq.remove([msgs[1], msgs[2]]) == 0
    assert pq.remove([msgs[0]]) == 3
    assert pq.remove([msgs[3], msgs[4]]) == 5
    assert pq.msg_count == 0 and pq.msg_size == 0


def test_process_queue_orderly_take_commit_rollback():
    pq = ProcessQueue()
    msgs = _msgs(range(4))
    assert pq.put(msgs) is True
    assert pq.put(_msgs([4])) is False  # already dispatched
    taken = pq.take(2)
    assert [m.queue_offset for m in taken] == [0, 1]
    pq.rollback()
    assert [m.queue_offset for m in pq.take(3)] == [0, 1, 2]
    assert pq.commit() == 3
    assert pq.msg_count == 2


def _route():
    return TopicRouteData(
        queueDatas=[QueueData("b", 4, 2, 6), QueueData("a", 4, 3, 6), QueueData("c", 4, 2, 4)],
        brokerDatas=[BrokerData("C", "a", {0: "a:1"}), BrokerData("C", "b", {0: "b:1"}), BrokerData("C", "c", {0: "c:1"})])


def test_publish_queues_sorted_writable_with_master():
    route = _route()
    route.brokerDatas[1].brokerAddrs = {1: "b:2"}  # b lost its master
    queues, order = publish_queues("T", route)
    assert [(q.brokerName, q.queueId) for q in queues] == [("a", 0), ("a", 1), ("a", 2)]
    assert not order
    route.orderTopicConf = "b:2;a:1"
    queues, order = publish_queues("T", route)
    assert order and [(q.brokerName, q.queueId) for q in queues] == [("b", 0), ("b", 1), ("a", 0)]


def test_fault_strategy_avoids_failed_broker():
    queues, _ = publish_queues("T", _route())
    info = TopicPublishInfo(queues)
    fault = FaultStrategy(True)
    fault.update("a", 10, isolation=True)
    picks = {fault.select(info, None).brokerName for _ in range(20)}
    assert picks == {"b"}
    assert fault.select(info, "b").brokerName == "b"  # the only available one
    fault.update("b", 10, isolation=True)
    assert fault.select(info, None).brokerName in {"a", "b"}  # least bad when all are out
    assert FaultStrategy.not_available_duration(600) == 30000
    assert FaultStrategy.not_available_duration(40) == 0


def test_publish_info_skips_last_broker():
    info = TopicPublishInfo(publish_queues("T", _route())[0])
    assert all(info.select("a").brokerName == "b" for _ in range(10))


def test_select_by_hash_is_stable_java_style():
    queues = [MessageQueue("T", "a", i) for i in range(4)]
    assert select_by_hash(queues, None, "order-1") == select_by_hash(queues, None, "order-1")
    assert select_by_hash(queues, None, "TagA") == queues[abs(2598919) % 4]
    assert select_by_hash(queues, None, -7) == queues[7 % 4]


def test_check_topic():
    check_topic("Good_topic-1")
    check_topic("%RETRY%" + "g" * 248)  # a group's retry and DLQ topics may be 255 long, as upstream 5
    for bad in ("", "bad topic", "x" * 128, "%RETRY%" + "g" * 249, "%DLQ%" + "g" * 251):
        with pytest.raises(MQClientError):
            check_topic(bad)
