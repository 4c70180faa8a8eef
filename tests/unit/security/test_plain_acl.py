"""Plain ACL decisions, sans IO: signatures, yml parsing, white lists, upstream's check order
and remarks, and reloading the file."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from pocketmq.protocol.client_bodies import ConsumerData, HeartbeatData, SubscriptionData
from pocketmq.remoting.codes import RequestCode
from pocketmq.remoting.command import make_request
from pocketmq.security.access import java_hashmap_order, needed_resources
from pocketmq.security.credentials import SessionCredentials, load_tools_yml
from pocketmq.security.permission import PUB, SUB
from pocketmq.security.plain_acl import AclDenied, PlainAcl, parse_plain_acl
from pocketmq.security.remote_address import AclConfigError, address_matcher
from pocketmq.security.server import ServerAcl
from pocketmq.security.signing import calc_signature, sign_request

ACL_YML = """
globalWhiteRemoteAddresses:
  - 10.10.103.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
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
    whiteRemoteAddress: 192.168.1.*
    admin: true
"""

USER = SessionCredentials("RocketMQ", "12345678")
ADMIN = SessionCredentials("rocketmq2", "12345678")


def send_v2(topic: str, creds: SessionCredentials | None = USER, body: bytes = b"hello"):
    request = make_request(RequestCode.SEND_MESSAGE_V2, {"a": "PID_x", "b": topic, "c": "TBW102", "d": "4",
                                                         "e": "0", "f": "0", "g": "1700000000000", "h": "0",
                                                         "i": "", "j": "0", "k": "false", "m": "false"}, body)
    if creds is not None:
        sign_request(request, creds)
    return request


@pytest.fixture
def acl(tmp_path: Path) -> PlainAcl:
    path = tmp_path / "plain_acl.yml"
    path.write_text(ACL_YML)
    return PlainAcl(str(path))


def denied(acl: PlainAcl, request, addr: str = "127.0.0.1:5555") -> str:
    with pytest.raises(AclDenied) as info:
        acl.check(request, addr)
    return info.value.remark


def test_signature_is_hmac_sha1_over_sorted_values_then_body() -> None:
    request = make_request(RequestCode.PULL_MESSAGE, {"topic": "T", "consumerGroup": "G", "queueId": "1"}, b"xy")
    sign_request(request, USER)
    # sorted keys: AccessKey, consumerGroup, queueId, topic
    content = b"RocketMQ" + b"G" + b"1" + b"T" + b"xy"
    expected = base64.b64encode(hmac.new(b"12345678", content, hashlib.sha1).digest()).decode()
    assert request.ext_fields["Signature"] == expected == calc_signature(content, "12345678")
    assert request.ext_fields["AccessKey"] == "RocketMQ"


def test_right_credentials_pass(acl: PlainAcl) -> None:
    acl.check(send_v2("topicB"), "127.0.0.1:5555")


def test_refusals_in_upstream_order_with_upstream_remarks(acl: PlainAcl) -> None:
    assert denied(acl, send_v2("topicB", None)) == (
        "org.apache.rocketmq.acl.common.AclException: No accessKey is configured, "
        "org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:663)")
    assert "No acl config for nobody-here" in denied(acl, send_v2("topicB", SessionCredentials("nobody-here", "x" * 8)))
    assert "Check signature failed for accessKey=RocketMQ" in denied(
        acl, send_v2("topicB", SessionCredentials("RocketMQ", "wrong-secret")))
    tampered = send_v2("topicB")
    tampered.body = b"another body"
    assert "Check signature failed" in denied(acl, tampered)
    assert denied(acl, send_v2("topicC")).startswith(
        "org.apache.rocketmq.acl.common.AclException: No default permission for topic:topicC, ")
    assert "No default permission for topic:other" in denied(acl, send_v2("other"))
    create = make_request(RequestCode.UPDATE_AND_CREATE_TOPIC, {"topic": "x"})
    sign_request(create, USER)
    assert "Need admin permission for request code=17, but accessKey=RocketMQ is not" in denied(acl, create)


def test_admin_and_white_lists(acl: PlainAcl) -> None:
    create = make_request(RequestCode.UPDATE_AND_CREATE_TOPIC, {"topic": "x"})
    sign_request(create, ADMIN)
    acl.check(create, "127.0.0.1:1")
    acl.check(send_v2("anything", None), "10.10.103.7:1")  # global white list: no signature needed
    acl.check(send_v2("anything", SessionCredentials("rocketmq2", "bad-secret")), "192.168.1.9:1")
    assert "Check signature failed" in denied(acl, send_v2("anything", SessionCredentials("rocketmq2", "bad-secret")),
                                             "192.168.2.9:1")


def test_groups_are_retry_topics(acl: PlainAcl) -> None:
    def pull(group: str, topic: str = "topicB"):
        request = make_request(RequestCode.PULL_MESSAGE, {"consumerGroup": group, "topic": topic, "queueId": "0"})
        sign_request(request, USER)
        return request

    acl.check(pull("groupB"), "127.0.0.1:1")
    acl.check(pull("anyGroup"), "127.0.0.1:1")  # defaultGroupPerm SUB
    assert "No default permission for group:groupA" in denied(acl, pull("groupA"))
    heartbeat = HeartbeatData("cid", consumerDataSet=[ConsumerData(
        "groupB", subscriptionDataSet=[SubscriptionData(topic="topicA", subString="*")])])
    request = make_request(RequestCode.HEART_BEAT, None, heartbeat.encode())
    assert needed_resources(request) == {"%RETRY%groupB": SUB, "topicA": SUB}
    sign_request(request, USER)
    assert "No default permission for topic:topicA" in denied(acl, request)


def test_a_body_that_is_not_a_heartbeat_is_a_refusal(acl: PlainAcl) -> None:
    request = make_request(RequestCode.HEART_BEAT, None, b"not json")
    sign_request(request, ADMIN)
    remark = denied(acl, request, "10.10.103.1:1")  # refused before the white list, as upstream
    assert remark.startswith("org.apache.rocketmq.acl.common.AclException: ")
    assert remark.endswith("org.apache.rocketmq.acl.plain.PlainAccessValidator.parse(PlainAccessValidator.java:134)")


def test_bad_signatures_never_raise_anything_but_a_refusal(acl: PlainAcl) -> None:
    for signature in ("%%%not-base64%%%", "\udcff", "A" * (10 * 1024 * 1024), ""):
        request = send_v2("topicB")
        request.ext_fields["Signature"] = signature
        assert "Check signature failed" in denied(acl, request)


def test_send_to_a_retry_topic_needs_the_group() -> None:
    request = send_v2("%RETRY%groupA")
    assert needed_resources(request) == {"%RETRY%PID_x": SUB}
    assert needed_resources(send_v2("T")) == {"T": PUB}


def test_hashmap_order_is_javas() -> None:
    # One-letter keys hash to their code: the bucket is code & 15, ties keep insertion order.
    assert java_hashmap_order(["a", "p"]) == ["p", "a"]  # 'p' = 112 -> bucket 0, 'a' = 97 -> 1
    assert java_hashmap_order(["q", "a"]) == ["q", "a"]  # both in bucket 1


def test_address_matchers() -> None:
    assert address_matcher("192.168.1.*")("192.168.1.200")
    assert not address_matcher("192.168.1.*")("192.168.2.1")
    assert address_matcher("192.168.1-10.*")("192.168.10.1")
    assert not address_matcher("192.168.1-10.*")("192.168.11.1")
    assert address_matcher("192.168.1.{1,2}")("192.168.1.2")
    assert address_matcher("127.0.0.1,10.0.0.1")("10.0.0.1")
    assert address_matcher("*")("::1")
    assert not address_matcher("")("127.0.0.1")
    assert address_matcher("::1")("0:0:0:0:0:0:0:1")
    for bad in ("300.1.1.1", "1.2.3", "1.2.300-1.*", "abc"):
        with pytest.raises(AclConfigError):
            address_matcher(bad)


def test_bad_files_are_refused() -> None:
    with pytest.raises(AclConfigError):
        parse_plain_acl("accounts:\n  - accessKey: short\n    secretKey: 12345678\n")
    with pytest.raises(AclConfigError):
        parse_plain_acl("accounts:\n  - accessKey: longenough\n    secretKey: 12345678\n    topicPerms: [nope]\n")
    with pytest.raises(AclConfigError):
        parse_plain_acl("accounts: [\n")
    assert parse_plain_acl("# all commented\n").accounts == {}


def test_shipped_files_are_commented_out() -> None:
    root = Path(__file__).resolve().parents[3]
    assert parse_plain_acl((root / "conf" / "plain_acl.yml").read_text()).accounts == {}
    assert load_tools_yml(str(root / "conf" / "tools.yml")) is None


def test_tools_yml(tmp_path: Path) -> None:
    path = tmp_path / "tools.yml"
    path.write_text("accessKey: rocketmq2\nsecretKey: 12345678\n")
    assert load_tools_yml(str(path)) == SessionCredentials("rocketmq2", "12345678")
    assert load_tools_yml(str(tmp_path / "missing.yml")) is None


def test_reload_applies_new_rules_and_keeps_old_ones_on_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "plain_acl.yml"
    path.write_text(ACL_YML)
    server_acl = ServerAcl(PlainAcl(str(path)))
    acl = server_acl.acl
    assert not acl.reload_if_changed()
    path.write_text(ACL_YML.replace("topicC=SUB", "topicC=PUB"))
    sleeps: list[float] = []

    async def one_tick(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 1:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(server_acl.watch(sleep=one_tick))
    assert sleeps == [1.0, 1.0]
    acl.check(send_v2("topicC"), "127.0.0.1:1")
    path.write_text("accounts: [\n")
    assert not acl.reload_if_changed()
    acl.check(send_v2("topicC"), "127.0.0.1:1")  # the previous rules stay
    path.unlink()
    assert acl.reload_if_changed()
    assert "No acl config for RocketMQ" in denied(acl, send_v2("topicC"))


def test_signing_skips_none_and_stringifies_values_as_java(acl: PlainAcl) -> None:
    request = make_request(RequestCode.PULL_MESSAGE, {"topic": "topicB", "consumerGroup": "groupB", "queueId": 0,
                                                      "subscription": None, "flag": True})
    sign_request(request, USER)
    assert request.ext_fields["queueId"] == "0" and request.ext_fields["flag"] == "true"
    assert "subscription" not in request.ext_fields
    acl.check(request, "127.0.0.1:1")
