"""The broker as a real `mqbroker` process, spoken to over TCP with our own remoting layer:
the request codes, statuses and error codes an official client relies on."""

from __future__ import annotations

import os
import socket
import threading
import time

import orjson
import pytest

from pocketmq.protocol import fastjson
from pocketmq.protocol.message import decode_messages, encode_batch_body, BatchRecord, properties_to_string
from pocketmq.protocol.message_id import decode_offset_message_id
from pocketmq.remoting.codes import RequestCode as RC, ResponseCode
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import RpcSession, call


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("broker")
    namesrv = start_namesrv(home / "ns")
    broker = start_broker(home / "broker", namesrv.addr)
    yield namesrv, broker
    broker.kill()
    namesrv.kill()


def send(addr: str, topic: str, body: bytes, queue_id: int = 0, tags: str | None = None, keys: str | None = None,
         v2: bool = True, extra: dict[str, str] | None = None) -> object:
    props = {"WAIT": "true"}
    if tags:
        props["TAGS"] = tags
    if keys:
        props["KEYS"] = keys
    props.update(extra or {})
    long = {"producerGroup": "PG", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
            "queueId": str(queue_id), "sysFlag": "0", "bornTimestamp": str(int(time.time() * 1000)), "flag": "0",
            "properties": properties_to_string(props), "reconsumeTimes": "0", "unitMode": "false", "batch": "false"}
    if not v2:
        return call(addr, RC.SEND_MESSAGE, long, body)
    short = dict(zip("abcdefghijkm", (long[k] for k in ("producerGroup", "topic", "defaultTopic",
                "defaultTopicQueueNums", "queueId", "sysFlag", "bornTimestamp", "flag", "properties",
                "reconsumeTimes", "unitMode", "batch")), strict=True))
    return call(addr, RC.SEND_MESSAGE_V2, short, body)


def pull(addr: str, topic: str, queue_id: int, offset: int, expression: str = "*", max_nums: int = 32,
         suspend_ms: int = 0, session: RpcSession | None = None, group: str = "CG"):
    sys_flag = 0x4 | (0x2 if suspend_ms else 0)
    fields = {"consumerGroup": group, "topic": topic, "queueId": str(queue_id), "queueOffset": str(offset),
              "maxMsgNums": str(max_nums), "sysFlag": str(sys_flag), "commitOffset": "0",
              "suspendTimeoutMillis": str(suspend_ms), "subscription": expression, "subVersion": "0",
              "expressionType": "TAG"}
    runner = session.call if session else call
    return runner(addr, RC.PULL_MESSAGE, fields, None, timeout=max(5.0, suspend_ms / 1000 + 5))


def test_send_v1_v2_and_pull_back_the_same_bytes(cluster):
    _, broker = cluster
    first = send(broker.addr, "SendPull", b"hello-v2", tags="TagA", keys="k1 k2")
    second = send(broker.addr, "SendPull", b"hello-v1", v2=False)
    for response in (first, second):
        assert response.code == ResponseCode.SUCCESS, response.remark
        assert response.ext_fields["MSG_REGION"] == "DefaultRegion" and response.ext_fields["TRACE_ON"] == "true"
    assert (first.ext_fields["queueOffset"], second.ext_fields["queueOffset"]) == ("0", "1")
    got = pull(broker.addr, "SendPull", 0, 0)
    assert got.code == ResponseCode.SUCCESS and got.remark == "FOUND"
    assert got.ext_fields["nextBeginOffset"] == "2" and got.ext_fields["maxOffset"] == "2"
    msgs = decode_messages(got.body_bytes())
    assert [m.body for m in msgs] == [b"hello-v2", b"hello-v1"]
    assert msgs[0].properties["TAGS"] == "TagA" and msgs[0].properties["CLUSTER"] == "DefaultCluster"
    assert "WAIT" not in msgs[0].properties  # 4.9.x stores no WAIT=true
    assert msgs[0].msg_id == first.ext_fields["msgId"]
    ip, port, offset = decode_offset_message_id(first.ext_fields["msgId"])
    assert (f"{ip}:{port}", offset) == (broker.addr, msgs[0].commit_log_offset)


def test_pull_statuses(cluster):
    _, broker = cluster
    send(broker.addr, "Statuses", b"one", tags="TagA")
    overflow_one = pull(broker.addr, "Statuses", 0, 1)
    assert (overflow_one.code, overflow_one.remark) == (ResponseCode.PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE")
    badly = pull(broker.addr, "Statuses", 0, 50)
    # As upstream's DefaultMessageStore: past the end with minOffset 0, the correction is minOffset.
    assert (badly.code, badly.remark, badly.ext_fields["nextBeginOffset"]) == (
        ResponseCode.PULL_OFFSET_MOVED, "OFFSET_OVERFLOW_BADLY", "0")
    empty_queue = pull(broker.addr, "Statuses", 3, 0)
    assert empty_queue.code == ResponseCode.PULL_NOT_FOUND
    unmatched = pull(broker.addr, "Statuses", 0, 0, expression="TagB")
    assert (unmatched.code, unmatched.remark) == (ResponseCode.PULL_RETRY_IMMEDIATELY, "NO_MATCHED_MESSAGE")
    assert unmatched.ext_fields["nextBeginOffset"] == "1"
    unknown_topic = pull(broker.addr, "NoSuchTopicHere", 0, 0)
    assert unknown_topic.code == ResponseCode.TOPIC_NOT_EXIST
    bad_queue = pull(broker.addr, "Statuses", 99, 0)
    assert bad_queue.code == ResponseCode.SYSTEM_ERROR and "queueId[99] is illegal" in bad_queue.remark
    negative = pull(broker.addr, "Statuses", 0, -5)  # as upstream: below the queue's minimum
    assert (negative.code, negative.remark, negative.ext_fields["nextBeginOffset"]) == (
        ResponseCode.PULL_OFFSET_MOVED, "OFFSET_TOO_SMALL", "0")


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_each_new_consume_queue_costs_the_broker_one_file_descriptor(cluster):
    # Python's mmap keeps a descriptor of its own: the store must not keep a second one per file,
    # or a broker with a few thousand queues runs out of descriptors long before the JVM would.
    _, broker = cluster
    before = open_descriptors(broker.proc.pid)
    topics, queues = 20, 4
    for t in range(topics):
        for queue_id in range(queues):
            assert send(broker.addr, f"DescriptorT{t}", b"x", queue_id=queue_id).code == ResponseCode.SUCCESS
    grown = open_descriptors(broker.proc.pid) - before
    assert topics * queues <= grown <= topics * queues + 8, grown


def test_pull_before_the_consumers_first_heartbeat(cluster):
    """As the Java client pulls by default: no subscription in the request (sysFlag without the
    subscription bit) from a group this broker has no heartbeat of. A TAG pull is answered
    unfiltered (the client filters by tag); SQL92, which the client cannot apply, is refused."""
    _, broker = cluster
    send(broker.addr, "EarlyPull", b"a", tags="TagA")
    send(broker.addr, "EarlyPull", b"b", tags="TagB")
    fields = {"consumerGroup": "CG_never_heartbeat", "topic": "EarlyPull", "queueId": "0", "queueOffset": "0",
              "maxMsgNums": "32", "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0",
              "subVersion": "1", "expressionType": "TAG"}
    got = call(broker.addr, RC.PULL_MESSAGE, fields)
    assert got.code == ResponseCode.SUCCESS, got.remark
    assert [m.body for m in decode_messages(got.body_bytes())] == [b"a", b"b"]
    sql = call(broker.addr, RC.PULL_MESSAGE, {**fields, "expressionType": "SQL92"})
    assert (sql.code, sql.remark) == (ResponseCode.SUBSCRIPTION_NOT_EXIST,
                                      "the consumer's group info not exist, group: CG_never_heartbeat")


def test_long_poll_is_woken_by_a_new_message(cluster):
    _, broker = cluster
    send(broker.addr, "LongPoll", b"first")
    result: dict[str, object] = {}

    def hold() -> None:
        started = time.monotonic()
        result["response"] = pull(broker.addr, "LongPoll", 0, 1, suspend_ms=10_000)
        result["waited"] = time.monotonic() - started

    waiter = threading.Thread(target=hold)
    waiter.start()
    time.sleep(0.5)  # the pull must be parked before the message arrives; nothing to wait on from outside
    assert waiter.is_alive(), "a pull at the end of the queue must be held"
    send(broker.addr, "LongPoll", b"second")
    waiter.join(15)
    response = result["response"]
    assert response.code == ResponseCode.SUCCESS
    assert [m.body for m in decode_messages(response.body_bytes())] == [b"second"]
    assert result["waited"] < 9, "the held pull was answered by the timeout, not by the arrival"


def test_long_poll_times_out_with_not_found(cluster):
    _, broker = cluster
    send(broker.addr, "LongPollIdle", b"only")
    started = time.monotonic()
    response = pull(broker.addr, "LongPollIdle", 0, 1, suspend_ms=1000)
    assert response.code == ResponseCode.PULL_NOT_FOUND
    assert time.monotonic() - started >= 0.9


def test_batch_send(cluster):
    _, broker = cluster
    records = [BatchRecord(body=f"b{i}".encode(), properties=properties_to_string({"KEYS": f"bk{i}", "UNIQ_KEY": f"U{i}"}),
                           flag=0) for i in range(5)]
    fields = {"a": "PG", "b": "Batched", "c": "TBW102", "d": "4", "e": "1", "f": "0",
              "g": str(int(time.time() * 1000)), "h": "0", "i": properties_to_string({"WAIT": "true"}), "m": "true"}
    response = call(broker.addr, RC.SEND_BATCH_MESSAGE, fields, encode_batch_body(records))
    assert response.code == ResponseCode.SUCCESS, response.remark
    assert len(response.ext_fields["msgId"].split(",")) == 5 and response.ext_fields["queueOffset"] == "0"
    got = decode_messages(pull(broker.addr, "Batched", 1, 0).body_bytes())
    assert [m.body for m in got] == [f"b{i}".encode() for i in range(5)]
    assert [m.queue_offset for m in got] == list(range(5))
    assert all(m.properties["CLUSTER"] == "DefaultCluster" for m in got)


def test_topic_checks_on_send(cluster):
    _, broker = cluster
    bad = send(broker.addr, "bad topic!", b"x")
    assert bad.code == ResponseCode.SYSTEM_ERROR and "illegal characters" in bad.remark
    forbidden = send(broker.addr, "SCHEDULE_TOPIC_XXXX", b"x")
    assert (forbidden.code, forbidden.remark) == (ResponseCode.NO_PERMISSION,
                                                  "Sending message to topic[SCHEDULE_TOPIC_XXXX] is forbidden.")
    big_queue = send(broker.addr, "QueueCheck", b"x", queue_id=0)
    assert big_queue.code == 0
    too_big = send(broker.addr, "QueueCheck", b"x", queue_id=64)
    assert too_big.code == ResponseCode.SYSTEM_ERROR and "queueId[64] is illegal" in too_big.remark
    missing = call(broker.addr, RC.SEND_MESSAGE_V2, {"a": "PG"}, b"x")
    assert missing.code == ResponseCode.SYSTEM_ERROR and "<topic>" in missing.remark
    oversize = send(broker.addr, "Oversize", b"x" * (4 * 1024 * 1024 + 1))
    assert oversize.code == ResponseCode.MESSAGE_ILLEGAL


def test_unknown_topic_without_auto_create(tmp_path):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "b", namesrv.addr, extra={"autoCreateTopicEnable": "false"})
    try:
        response = send(broker.addr, "NeverCreated", b"x")
        assert response.code == ResponseCode.TOPIC_NOT_EXIST
        assert response.remark.startswith("topic[NeverCreated] not exist, apply first please!")
    finally:
        broker.kill()
        namesrv.kill()


def test_offsets_view_and_query_by_key(cluster):
    _, broker = cluster
    sent = [send(broker.addr, "Lookups", f"m{i}".encode(), keys=f"order-{i}", extra={"UNIQ_KEY": f"UNIQ{i}"})
            for i in range(3)]
    assert call(broker.addr, RC.GET_MAX_OFFSET, {"topic": "Lookups", "queueId": "0"}).ext_fields["offset"] == "3"
    assert call(broker.addr, RC.GET_MIN_OFFSET, {"topic": "Lookups", "queueId": "0"}).ext_fields["offset"] == "0"
    earliest = int(call(broker.addr, RC.GET_EARLIEST_MSG_STORETIME, {"topic": "Lookups", "queueId": "0"}).ext_fields["timestamp"])
    assert abs(earliest - time.time() * 1000) < 60_000
    by_time = call(broker.addr, RC.SEARCH_OFFSET_BY_TIMESTAMP, {"topic": "Lookups", "queueId": "0", "timestamp": "0"})
    assert by_time.ext_fields["offset"] == "0"
    _, _, phy = decode_offset_message_id(sent[1].ext_fields["msgId"])
    viewed = call(broker.addr, RC.VIEW_MESSAGE_BY_ID, {"offset": str(phy)})
    assert decode_messages(viewed.body_bytes())[0].body == b"m1"
    missing = call(broker.addr, RC.VIEW_MESSAGE_BY_ID, {"offset": str(10**12)})
    assert missing.code == ResponseCode.SYSTEM_ERROR
    query = {"topic": "Lookups", "key": "order-2", "maxNum": "32", "beginTimestamp": "0",
             "endTimestamp": str(2**62)}
    found = call(broker.addr, RC.QUERY_MESSAGE, query)
    assert [m.body for m in decode_messages(found.body_bytes())] == [b"m2"]
    by_uniq = call(broker.addr, RC.QUERY_MESSAGE, {**query, "key": "UNIQ0", "_UNIQUE_KEY_QUERY": "true"})
    assert [m.body for m in decode_messages(by_uniq.body_bytes())] == [b"m0"]
    none = call(broker.addr, RC.QUERY_MESSAGE, {**query, "key": "nope"})
    assert none.code == ResponseCode.QUERY_NOT_FOUND


def test_consumer_offsets_persist_across_restart(tmp_path):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "b", namesrv.addr)
    try:
        fields = {"consumerGroup": "G1", "topic": "Offsets", "queueId": "2"}
        assert call(broker.addr, RC.UPDATE_CONSUMER_OFFSET, {**fields, "commitOffset": "42"}).code == 0
        assert call(broker.addr, RC.QUERY_CONSUMER_OFFSET, fields).ext_fields["offset"] == "42"
        assert broker.terminate() == 0
        broker = start_broker(tmp_path / "b", namesrv.addr, port=broker.port)
        assert call(broker.addr, RC.QUERY_CONSUMER_OFFSET, fields).ext_fields["offset"] == "42"
        offsets = fastjson.loads((tmp_path / "b" / "store" / "config" / "consumerOffset.json").read_bytes())
        assert offsets["offsetTable"]["Offsets@G1"] == {2: 42} or offsets["offsetTable"]["Offsets@G1"] == {"2": 42}
    finally:
        broker.kill()
        namesrv.kill()


def heartbeat(client_id: str, group: str, topic: str) -> bytes:
    return orjson.dumps({"clientID": client_id, "consumerDataSet": [{
        "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET", "consumeType": "CONSUME_PASSIVELY", "groupName": group,
        "messageModel": "CLUSTERING", "subscriptionDataSet": [{"classFilterMode": False, "codeSet": [],
            "expressionType": "TAG", "subString": "*", "subVersion": 1, "tagsSet": [], "topic": topic}],
        "unitMode": False}], "producerDataSet": [{"groupName": "PG-" + group}]})


def test_heartbeat_consumer_list_connections_and_notify(cluster):
    _, broker = cluster
    with RpcSession() as first:
        notified: list[str] = []
        first.client.dispatcher.register(RC.NOTIFY_CONSUMER_IDS_CHANGED,
                                         lambda request, channel: notified.append(request.field("consumerGroup")))
        assert first.call(broker.addr, RC.HEART_BEAT, body=heartbeat("c1", "HG", "HT")).version == 409
        listed = orjson.loads(call(broker.addr, RC.GET_CONSUMER_LIST_BY_GROUP, {"consumerGroup": "HG"}).body)
        assert listed == {"consumerIdList": ["c1"]}
        connections = orjson.loads(call(broker.addr, RC.GET_CONSUMER_CONNECTION_LIST, {"consumerGroup": "HG"}).body)
        assert connections["messageModel"] == "CLUSTERING" and list(connections["subscriptionTable"]) == ["HT"]
        producers = orjson.loads(call(broker.addr, RC.GET_PRODUCER_CONNECTION_LIST, {"producerGroup": "PG-HG"}).body)
        assert [c["clientId"] for c in producers["connectionSet"]] == ["c1"]
        with RpcSession() as second:
            second.call(broker.addr, RC.HEART_BEAT, body=heartbeat("c2", "HG", "HT"))
            listed = orjson.loads(call(broker.addr, RC.GET_CONSUMER_LIST_BY_GROUP, {"consumerGroup": "HG"}).body)
            assert sorted(listed["consumerIdList"]) == ["c1", "c2"]
            wait_until(lambda: "HG" in notified, message="NOTIFY_CONSUMER_IDS_CHANGED to the first consumer")
        wait_until(lambda: orjson.loads(call(broker.addr, RC.GET_CONSUMER_LIST_BY_GROUP,
                                             {"consumerGroup": "HG"}).body)["consumerIdList"] == ["c1"],
                   message="the closed consumer to leave the group")
    gone = call(broker.addr, RC.GET_CONSUMER_LIST_BY_GROUP, {"consumerGroup": "HG"})
    assert gone.code == ResponseCode.SYSTEM_ERROR and "no consumer for this group" in gone.remark


def test_admin_topic_stats_runtime_info_and_config(cluster):
    namesrv, broker = cluster
    created = call(broker.addr, RC.UPDATE_AND_CREATE_TOPIC, {"topic": "AdminT", "defaultTopic": "TBW102",
                   "readQueueNums": "2", "writeQueueNums": "2", "perm": "6", "topicFilterType": "SINGLE_TAG",
                   "topicSysFlag": "0", "order": "false"})
    assert created.code == 0
    wait_until(lambda: call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "AdminT"}).code == 0,
               message="the new topic registered with the name server")
    send(broker.addr, "AdminT", b"x", queue_id=1)
    stats = fastjson.loads(call(broker.addr, RC.GET_TOPIC_STATS_INFO, {"topic": "AdminT"}).body)
    offsets = {key.fields["queueId"]: value["maxOffset"] for key, value in stats["offsetTable"].items()}
    assert offsets == {0: 0, 1: 1}
    assert all(key.fields["brokerName"] == broker.name for key in stats["offsetTable"])
    for _ in range(20):
        send(broker.addr, "AdminT", b"tps", queue_id=0)
    info = wait_until(lambda: (lambda table: table if float(table["putTps"].split()[0]) > 0 else None)(
        orjson.loads(call(broker.addr, RC.GET_BROKER_RUNTIME_INFO).body)["table"]),
        timeout=15, interval=0.5, message="a non-zero putTps after sends")
    assert int(info["msgPutTotalTodayNow"]) >= 21
    for key in ("brokerVersionDesc", "putTps", "getTransferedTps", "msgPutTotalTodayNow", "commitLogDiskRatio",
                "earliestMessageTimeStamp", "pageCacheLockTimeMills", "sendThreadPoolQueueSize"):
        assert key in info, key
    assert info["brokerVersionDesc"] == "V4_9_8" and len(info["putTps"].split()) == 3
    config = call(broker.addr, RC.GET_BROKER_CONFIG)
    assert f"listenPort={broker.port}" in config.body_bytes().decode().splitlines()
    assert "counter" in orjson.loads(config.ext_fields["version"])
    refused = call(broker.addr, RC.UPDATE_BROKER_CONFIG, body=b"brokerConfigPath=/tmp/x\n")
    assert refused.code == ResponseCode.NO_PERMISSION
    assert call(broker.addr, RC.UPDATE_BROKER_CONFIG, body=b"traceOn=false\n").code == 0
    assert send(broker.addr, "AdminT", b"y").ext_fields["TRACE_ON"] == "false"
    call(broker.addr, RC.UPDATE_BROKER_CONFIG, body=b"traceOn=true\n")
    assert call(broker.addr, RC.DELETE_TOPIC_IN_BROKER, {"topic": "AdminT"}).code == 0
    assert call(broker.addr, RC.GET_TOPIC_STATS_INFO, {"topic": "AdminT"}).code == ResponseCode.TOPIC_NOT_EXIST


def test_fast_port_serves_sends_but_not_pulls(cluster):
    _, broker = cluster
    fast = f"127.0.0.1:{broker.port - 2}"
    assert send(fast, "FastPort", b"x").code == 0
    refused = pull(fast, "FastPort", 0, 0)
    assert refused.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED


@pytest.mark.parametrize("garbage", [
    b"\x7f\xff\xff\xff", b"\x00\x00\x00\x08\x00\x00\x00\x04{bad", bytes(range(256)) * 4,
])
def test_bad_frames_close_the_connection_and_the_broker_survives(cluster, garbage):
    _, broker = cluster
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""
    assert send(broker.addr, "StillAlive", b"x").code == 0


def test_unknown_code_and_bad_bodies(cluster):
    _, broker = cluster
    assert call(broker.addr, 7777).code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
    assert call(broker.addr, RC.HEART_BEAT, body=b"{not json").code == ResponseCode.SYSTEM_ERROR
    assert call(broker.addr, RC.LOCK_BATCH_MQ, body=b"[1,2]").code == ResponseCode.SYSTEM_ERROR
    bad_batch = call(broker.addr, RC.SEND_BATCH_MESSAGE, {"a": "PG", "b": "BadBatch", "c": "TBW102", "d": "4",
                     "e": "0", "f": "0", "g": "0", "h": "0", "m": "true"}, b"\x00\x00\x00\x05garbage")
    assert bad_batch.code == ResponseCode.MESSAGE_ILLEGAL
    assert send(broker.addr, "StillAlive", b"x").code == 0
