"""Client headers and bodies: extFields round trips with upstream names, V2 short names, and the
fastjson shapes Java writes (MessageQueue object keys, heartbeat layout)."""

from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol import fastjson
from pocketmq.protocol.client_headers import (
    EndTransactionRequestHeader, PullMessageRequestHeader, SendMessageRequestHeader, build_pull_sys_flag,
)
from pocketmq.remoting.header import decode_header, encode_header


def _send_header() -> SendMessageRequestHeader:
    return SendMessageRequestHeader(producerGroup="pg", topic="T", defaultTopic="TBW102", defaultTopicQueueNums=4,
                                    queueId=1, sysFlag=0, bornTimestamp=1700000000000, flag=0,
                                    properties="TAGS\x01a", reconsumeTimes=0, unitMode=False, batch=False)


def test_send_header_v2_short_names():
    fields = encode_header(_send_header(), short_names=True)
    assert fields == {"a": "pg", "b": "T", "c": "TBW102", "d": "4", "e": "1", "f": "0", "g": "1700000000000",
                      "h": "0", "i": "TAGS\x01a", "j": "0", "k": "false", "m": "false"}
    assert decode_header(SendMessageRequestHeader, fields, short_names=True) == _send_header()


def test_send_header_v1_long_names():
    fields = encode_header(_send_header())
    assert fields["producerGroup"] == "pg" and fields["defaultTopicQueueNums"] == "4"
    assert "bname" not in fields and "maxReconsumeTimes" not in fields
    assert decode_header(SendMessageRequestHeader, fields) == _send_header()


def test_pull_header_and_flags():
    flag = build_pull_sys_flag(commit_offset=True, suspend=True, subscription=True)
    assert flag == 0x7
    header = PullMessageRequestHeader(consumerGroup="g", topic="T", queueId=0, queueOffset=5, maxMsgNums=32,
                                      sysFlag=flag, commitOffset=3, suspendTimeoutMillis=15000, subVersion=1,
                                      subscription="*", expressionType="TAG")
    fields = encode_header(header)
    assert fields["queueOffset"] == "5" and fields["sysFlag"] == "7" and fields["expressionType"] == "TAG"
    assert decode_header(PullMessageRequestHeader, fields) == header


def test_end_transaction_header():
    header = EndTransactionRequestHeader(producerGroup="pg", tranStateTableOffset=3, commitLogOffset=100,
                                         commitOrRollback=8, msgId="ABC", fromTransactionCheck=False)
    fields = encode_header(header)
    assert fields == {"producerGroup": "pg", "tranStateTableOffset": "3", "commitLogOffset": "100",
                      "commitOrRollback": "8", "msgId": "ABC", "fromTransactionCheck": "false"}


def test_subscription_tags_and_codes():
    sub = bodies.SubscriptionData.build("T", "TagA || TagB")
    assert sub.tagsSet == ["TagA", "TagB"]
    assert sub.codeSet[0] == 2598919
    assert sub.matches_tag("TagB") and not sub.matches_tag("TagC") and not sub.matches_tag(None)
    everything = bodies.SubscriptionData.build("T", "*")
    assert everything.tagsSet == [] and everything.matches_tag(None)


def test_heartbeat_shape():
    hb = bodies.HeartbeatData("1.2.3.4@1#2", [bodies.ProducerData("pg")],
                              [bodies.ConsumerData("cg", subscriptionDataSet=[bodies.SubscriptionData("T", subVersion=7)])])
    data = fastjson.loads(hb.encode())
    assert data["clientID"] == "1.2.3.4@1#2"
    assert data["consumerDataSet"][0]["messageModel"] == "CLUSTERING"
    assert data["consumerDataSet"][0]["subscriptionDataSet"][0]["subVersion"] == 7
    assert bodies.HeartbeatData.decode(hb.encode()) == hb


def test_consumer_data_accepts_cpp_ordinals():
    data = bodies.ConsumerData.from_dict({"groupName": "g", "consumeType": 1, "messageModel": 0, "consumeFromWhere": 4})
    assert (data.consumeType, data.messageModel, data.consumeFromWhere) == (
        "CONSUME_PASSIVELY", "BROADCASTING", "CONSUME_FROM_FIRST_OFFSET")


def test_consume_stats_with_object_keys_from_java():
    java = (b'{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:'
            b'{"brokerOffset":10,"consumerOffset":4,"lastTimestamp":99}}}')
    stats = bodies.ConsumeStats.decode(java)
    mq = bodies.MessageQueue("T", "broker-a", 0)
    assert stats.offsetTable[mq].brokerOffset == 10 and stats.diff_total() == 6
    assert stats.consumeTps == 1.5
    assert bodies.ConsumeStats.decode(stats.encode()) == stats
    assert stats.encode().startswith(b'{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a"')


def test_lock_batch_bodies():
    mqs = [bodies.MessageQueue("T", "b", 1), bodies.MessageQueue("T", "b", 0)]
    body = bodies.LockBatchRequestBody("g", "cid", mqs).encode()
    assert b'"clientId":"cid"' in body
    assert bodies.LockBatchRequestBody.decode(body).mqSet == mqs
    assert bodies.decode_lock_batch_response(bodies.encode_lock_batch_response(mqs)) == mqs
    assert sorted(mqs)[0].queueId == 0


def test_reset_offset_and_topic_stats_round_trip():
    mq = bodies.MessageQueue("T", "b", 2)
    assert bodies.decode_reset_offset_body(bodies.encode_reset_offset_body({mq: 7})) == {mq: 7}
    table = {mq: bodies.TopicOffset(1, 9, 5)}
    assert bodies.decode_topic_stats(bodies.encode_topic_stats(table)) == table


def test_properties_text():
    assert bodies.parse_properties_text("a=1\n# c\nb = x=y\n") == {"a": "1", "b": "x=y"}
    assert bodies.properties_text({"a": True, "b": 3}) == "a=true\nb=3\n"
