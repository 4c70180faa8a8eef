"""Plain ACL, PocketMQ against Apache RocketMQ 4.9.7 as the oracle: the same plain_acl.yml and
the same list of signed (and badly signed) requests, sent from the same loopback addresses, get
the same allow/deny answers, and refusals the same code and remark."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from apache import start_broker as start_apache_broker, start_namesrv as start_apache_namesrv  # type: ignore[import-not-found]
from pocketmq.protocol.client_bodies import ConsumerData, HeartbeatData, SubscriptionData
from pocketmq.remoting.codes import RequestCode
from pocketmq.security.credentials import SessionCredentials
from tests.support.acl import signed_call, write_acl
from tests.support.processes import start_broker, start_namesrv

ACL_YML = """\
globalWhiteRemoteAddresses:
  - 127.0.0.3
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress: 127.0.0.2
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
  - accessKey: rocketmq2
    secretKey: 12345678
    admin: true
  - accessKey: rangeAccount
    secretKey: 12345678
    whiteRemoteAddress: 127.0.0.7-9
    defaultTopicPerm: pub
  - accessKey: braceAccount
    secretKey: 12345678
    whiteRemoteAddress: 127.0.0.{5,6}
    defaultTopicPerm: SUB|PUB
  - accessKey: limitedAdmin
    secretKey: 12345678
    admin: true
    defaultTopicPerm: PUB
    topicPerms:
      - topicA=DENY
"""

USER = SessionCredentials("RocketMQ", "12345678")
ADMIN = SessionCredentials("rocketmq2", "12345678")
RANGE = SessionCredentials("rangeAccount", "12345678")
BRACE = SessionCredentials("braceAccount", "12345678")
LIMITED = SessionCredentials("limitedAdmin", "12345678")
ACL_EXCEPTION = "org.apache.rocketmq.acl.common.AclException"
PARSE_FRAME = "org.apache.rocketmq.acl.plain.PlainAccessValidator.parse(PlainAccessValidator.java:134)"


def send_v1(topic: str, group: str = "PID_acl") -> dict[str, str]:
    return {"producerGroup": group, "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
            "queueId": "0", "sysFlag": "0", "bornTimestamp": str(int(time.time() * 1000)), "flag": "0",
            "properties": "", "reconsumeTimes": "0", "unitMode": "false", "batch": "false"}


def send_v2(topic: str, group: str = "PID_acl") -> dict[str, str]:
    v1 = send_v1(topic, group)
    return {"a": group, "b": topic, "c": "TBW102", "d": "4", "e": "0", "f": "0", "g": v1["bornTimestamp"],
            "h": "0", "i": "", "j": "0", "k": "false", "m": "false"}


def pull(topic: str, group: str) -> dict[str, str]:
    return {"consumerGroup": group, "topic": topic, "queueId": "0", "queueOffset": "0", "maxMsgNums": "1",
            "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*",
            "subVersion": "0", "expressionType": "TAG"}


def heartbeat(group: str, topic: str) -> bytes:
    return HeartbeatData("127.0.0.1@acl", consumerDataSet=[ConsumerData(
        group, subscriptionDataSet=[SubscriptionData(topic=topic, subString="*")])]).encode()


def set_signature(value: str):  # noqa: ANN201
    def mutate(request) -> None:  # noqa: ANN001
        request.ext_fields["Signature"] = value
    return mutate


def replace_body(request) -> None:  # noqa: ANN001
    request.body = b"not what was signed"


S = RequestCode
# name -> (code, fields, body, credentials, source ip, mutate)
CASES = {
    "send v1 allowed topic": (S.SEND_MESSAGE, send_v1("topicB"), b"m", USER, "127.0.0.1", None),
    "send v2 allowed topic": (S.SEND_MESSAGE_V2, send_v2("topicB"), b"m", USER, "127.0.0.1", None),
    "send to a SUB-only topic": (S.SEND_MESSAGE_V2, send_v2("topicC"), b"m", USER, "127.0.0.1", None),
    "send to a DENY topic": (S.SEND_MESSAGE_V2, send_v2("topicA"), b"m", USER, "127.0.0.1", None),
    "send to an unlisted topic": (S.SEND_MESSAGE_V2, send_v2("topicX"), b"m", USER, "127.0.0.1", None),
    "send unsigned": (S.SEND_MESSAGE_V2, send_v2("topicB"), b"m", None, "127.0.0.1", None),
    "send, unknown access key": (S.SEND_MESSAGE_V2, send_v2("topicB"), b"m",
                                 SessionCredentials("Unknown1", "12345678"), "127.0.0.1", None),
    "send, wrong secret": (S.SEND_MESSAGE_V2, send_v2("topicB"), b"m",
                           SessionCredentials("RocketMQ", "wrong-secret"), "127.0.0.1", None),
    "send, body not the signed one": (S.SEND_MESSAGE_V2, send_v2("topicB"), b"m", USER, "127.0.0.1", replace_body),
    "send, malformed base64 signature": (S.SEND_MESSAGE_V2, send_v2("topicB"), b"m", USER, "127.0.0.1",
                                         set_signature("%%not*base64%%")),
    "send, 10 MB signature": (S.SEND_MESSAGE_V2, send_v2("topicB"), b"m", USER, "127.0.0.1",
                              set_signature("A" * (10 * 1024 * 1024))),
    "send from the account's white address, no signature": (
        S.SEND_MESSAGE_V2, {**send_v2("topicA"), "AccessKey": "RocketMQ"}, b"m", None, "127.0.0.2", None),
    "send from the account's white address, wrong secret": (
        S.SEND_MESSAGE_V2, send_v2("topicA"), b"m", SessionCredentials("RocketMQ", "wrong-secret"), "127.0.0.2", None),
    "send from the global white list, unsigned": (S.SEND_MESSAGE_V2, send_v2("topicA"), b"m", None, "127.0.0.3", None),
    "send v1 to a retry topic (upstream reads no group)": (
        S.SEND_MESSAGE, send_v1("%RETRY%groupA"), b"m", USER, "127.0.0.1", None),
    "send v2 to a retry topic of a denied group": (
        S.SEND_MESSAGE_V2, send_v2("%RETRY%groupA", "groupA"), b"m", USER, "127.0.0.1", None),
    "send to the trace topic": (S.SEND_MESSAGE_V2, send_v2("RMQ_SYS_TRACE_TOPIC"), b"m", USER, "127.0.0.1", None),
    "pull, denied group": (S.PULL_MESSAGE, pull("topicB", "groupA"), None, USER, "127.0.0.1", None),
    "pull, denied topic and group": (S.PULL_MESSAGE, pull("topicA", "groupA"), None, USER, "127.0.0.1", None),
    "pull, denied topic": (S.PULL_MESSAGE, pull("topicX", "groupB"), None, USER, "127.0.0.1", None),
    "heartbeat subscribing a denied topic": (S.HEART_BEAT, None, heartbeat("groupB", "topicA"), USER,
                                             "127.0.0.1", None),
    "heartbeat of a denied group": (S.HEART_BEAT, None, heartbeat("groupA", "topicB"), USER, "127.0.0.1", None),
    "create topic, not admin": (S.UPDATE_AND_CREATE_TOPIC, {"topic": "topicZ", "defaultTopic": "TBW102",
                                "readQueueNums": "4", "writeQueueNums": "4", "perm": "6",
                                "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"},
                                None, USER, "127.0.0.1", None),
    "delete group, not admin": (S.DELETE_SUBSCRIPTIONGROUP, {"groupName": "groupB"}, None, USER, "127.0.0.1", None),
    "update broker config, not admin": (S.UPDATE_BROKER_CONFIG, None, b"brokerPermission=6\n", USER,
                                        "127.0.0.1", None),
    "unregister client without clientID": (S.UNREGISTER_CLIENT, {"producerGroup": "p"}, None, ADMIN,
                                           "127.0.0.1", None),
    "query message, denied topic": (S.QUERY_MESSAGE, {"topic": "topicA", "key": "k", "maxNum": "1",
                                    "beginTimestamp": "0", "endTimestamp": "1"}, None, USER, "127.0.0.1", None),
    "update offset, denied topic": (S.UPDATE_CONSUMER_OFFSET, {"consumerGroup": "groupB", "topic": "topicA",
                                    "queueId": "0", "commitOffset": "0"}, None, USER, "127.0.0.1", None),
    "send back, denied group": (S.CONSUMER_SEND_MSG_BACK, {"group": "groupA", "offset": "0", "delayLevel": "0",
                                "originMsgId": "x", "originTopic": "topicB", "unitMode": "false"},
                                None, USER, "127.0.0.1", None),
    "consumer list, denied group": (S.GET_CONSUMER_LIST_BY_GROUP, {"consumerGroup": "groupA"}, None, USER,
                                    "127.0.0.1", None),
    "heartbeat that is not JSON": (S.HEART_BEAT, None, b"not json", ADMIN, "127.0.0.3", None),
    "range white address, inside": (S.SEND_MESSAGE_V2, {**send_v2("topicA"), "AccessKey": "rangeAccount"}, b"m",
                                    None, "127.0.0.8", None),
    "range white address, outside": (S.SEND_MESSAGE_V2, {**send_v2("topicA"), "AccessKey": "rangeAccount"}, b"m",
                                     None, "127.0.0.10", None),
    "lower-case perm is DENY": (S.SEND_MESSAGE_V2, send_v2("topicQ"), b"m", RANGE, "127.0.0.1", None),
    "brace white address, inside": (S.SEND_MESSAGE_V2, {**send_v2("topicA"), "AccessKey": "braceAccount"}, b"m",
                                    None, "127.0.0.6", None),
    "brace white address, outside": (S.SEND_MESSAGE_V2, {**send_v2("topicA"), "AccessKey": "braceAccount"}, b"m",
                                     None, "127.0.0.4", None),
    "SUB|PUB spelling": (S.SEND_MESSAGE_V2, send_v2("topicQ"), b"m", BRACE, "127.0.0.1", None),
    "admin with topic perms, denied topic": (S.SEND_MESSAGE_V2, send_v2("topicA"), b"m", LIMITED, "127.0.0.1", None),
    "admin with topic perms, default topic": (S.SEND_MESSAGE_V2, send_v2("topicQ"), b"m", LIMITED, "127.0.0.1", None),
    "admin with topic perms, group default": (S.PULL_MESSAGE, pull("topicQ", "groupQ"), None, LIMITED, "127.0.0.1",
                                              None),
    "admin with topic perms, create topic": (S.UPDATE_AND_CREATE_TOPIC, {"topic": "topicY", "defaultTopic": "TBW102",
                                             "readQueueNums": "4", "writeQueueNums": "4", "perm": "6",
                                             "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"},
                                             None, LIMITED, "127.0.0.1", None),
    "runtime info, signed": (S.GET_BROKER_RUNTIME_INFO, None, None, USER, "127.0.0.1", None),
    "runtime info, unsigned": (S.GET_BROKER_RUNTIME_INFO, None, None, None, "127.0.0.1", None),
}


def answers(addr: str) -> dict[str, tuple[bool, int, str]]:
    """name -> (refused by the ACL, code, remark of a refusal)."""
    result = {}
    for name, (code, fields, body, creds, ip, mutate) in CASES.items():
        response = signed_call(addr, int(code), fields, body, creds, ip, mutate=mutate)
        remark = response.remark or ""
        refused = remark.startswith(ACL_EXCEPTION)
        if refused and remark.endswith(PARSE_FRAME):  # the JSON parser's own words differ (fastjson)
            remark = f"{ACL_EXCEPTION}: <body parse error>, {PARSE_FRAME}"
        result[name] = (refused, response.code if refused else -1, remark if refused else "")
    return result


@pytest.mark.interop
def test_same_answers_as_apache(tmp_path: Path, interop_ready: None) -> None:
    apache_home = tmp_path / "apache"
    write_acl(apache_home, ACL_YML)
    apache_ns = start_apache_namesrv(tmp_path / "apache-ns")
    try:
        apache = start_apache_broker(apache_home, apache_ns.addr, aclEnable="true")
        try:
            expected = answers(apache.addr)
        finally:
            apache.stop()
    finally:
        apache_ns.stop()

    ours_home = tmp_path / "ours"
    write_acl(ours_home, ACL_YML)
    with start_namesrv(tmp_path / "ns") as ns, \
            start_broker(ours_home, ns.addr, extra={"aclEnable": "true", "rocketmqHome": ours_home}) as broker:
        got = answers(broker.addr)

    assert sum(refused for refused, _, _ in expected.values()) >= 20  # the oracle did refuse
    mismatches = {name: (expected[name], got[name]) for name in CASES if expected[name] != got[name]}
    assert not mismatches, "\n".join(f"{name}:\n  apache: {a}\n  ours:   {o}" for name, (a, o) in mismatches.items())
