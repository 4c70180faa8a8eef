"""The gRPC endpoint's pure parts: the wire contract of messaging.proto (numbers that must match
apache/rocketmq-apis), message conversion and checks, delay levels, settings answers."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from pocketmq.proxy.config import ProxyConfig
from pocketmq.proxy.convert import to_outgoing
from pocketmq.proxy.service import permission_queues
from pocketmq.proxy.settings import ClientSettings
from pocketmq.proxy.status import ProxyError
from pocketmq.proxy.stubs import pb

NOW = 1_700_000_000_000

# (message, field, number) pairs of apache/rocketmq-apis that the official clients depend on.
CONTRACT = [
    ("Message", "topic", 1), ("Message", "user_properties", 2), ("Message", "system_properties", 3),
    ("Message", "body", 4), ("SystemProperties", "tag", 1), ("SystemProperties", "keys", 2),
    ("SystemProperties", "message_id", 3), ("SystemProperties", "body_digest", 4),
    ("SystemProperties", "delivery_timestamp", 11), ("SystemProperties", "receipt_handle", 12),
    ("SystemProperties", "message_group", 17), ("SystemProperties", "priority", 22),
    ("Settings", "client_type", 1), ("Settings", "publishing", 5), ("Settings", "subscription", 6),
    ("Settings", "user_agent", 7), ("Settings", "client_properties", 9),
    ("TelemetryCommand", "status", 1), ("TelemetryCommand", "settings", 2),
    ("TelemetryCommand", "recover_orphaned_transaction_command", 5),
    ("TelemetryCommand", "notify_unsubscribe_lite_command", 9),
    ("MessageQueue", "accept_message_types", 5), ("SendResultEntry", "recall_handle", 5),
    ("ReceiveMessageRequest", "attempt_id", 8), ("ReceiveMessageResponse", "delivery_timestamp", 3),
    ("ChangeInvisibleDurationRequest", "suspend", 7), ("Subscription", "long_polling_timeout", 5),
]


@pytest.mark.parametrize("message, field, number", CONTRACT)
def test_field_numbers_match_the_upstream_contract(message: str, field: str, number: int) -> None:
    assert pb.DESCRIPTOR.message_types_by_name[message].fields_by_name[field].number == number


def test_service_and_codes_match_the_upstream_contract() -> None:
    service = pb.DESCRIPTOR.services_by_name["MessagingService"]
    assert service.full_name == "apache.rocketmq.v2.MessagingService"
    assert len(service.methods) == 17
    telemetry = service.methods_by_name["Telemetry"]
    assert telemetry.client_streaming and telemetry.server_streaming
    assert (pb.TOPIC_NOT_FOUND, pb.MESSAGE_CORRUPTED, pb.ILLEGAL_DELIVERY_TIME, pb.NOT_IMPLEMENTED) == \
        (40402, 40016, 40012, 50100)


def message(body: bytes = b"hi", **system: object) -> pb.Message:
    props = pb.SystemProperties(message_id="ID1", body_digest=pb.Digest(
        type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper()), **system)
    return pb.Message(topic=pb.Resource(name="T"), body=body, system_properties=props)


def test_a_normal_message_becomes_upstream_properties() -> None:
    msg = message(tag="A", keys=["k1", "k2"])
    msg.system_properties.born_timestamp.FromMilliseconds(NOW - 5)
    msg.user_properties["u"] = "v"
    out = to_outgoing(msg, ProxyConfig(), NOW, "10.0.0.1:5000")
    assert out.properties == {"u": "v", "TAGS": "A", "KEYS": "k1 k2", "UNIQ_KEY": "ID1", "RECONSUME_TIME": "0",
                              "PGROUP": "T", "__BORNHOST": "10.0.0.1:5000", "BORN_TIMESTAMP": str(NOW - 5)}
    assert out.born_timestamp_ms == NOW - 5 and out.sys_flag == 0 and out.body == b"hi"


def test_md5_digest_is_checked_upper_case_and_lower_case_alike() -> None:
    msg = message()
    msg.system_properties.body_digest.checksum = msg.system_properties.body_digest.checksum.lower()
    to_outgoing(msg, ProxyConfig(), NOW, "")
    msg.system_properties.body_digest.checksum = "00" * 16
    with pytest.raises(ProxyError) as err:
        to_outgoing(msg, ProxyConfig(), NOW, "")
    assert err.value.code == pb.MESSAGE_CORRUPTED


def test_a_gzip_body_is_stored_plain_and_bad_gzip_is_corrupted() -> None:
    packed = gzip.compress(b"plain text")
    out = to_outgoing(message(packed, body_encoding=pb.GZIP), ProxyConfig(), NOW, "")
    assert out.body == b"plain text"
    with pytest.raises(ProxyError) as err:
        to_outgoing(message(b"not gzip", body_encoding=pb.GZIP), ProxyConfig(), NOW, "")
    assert err.value.code == pb.MESSAGE_CORRUPTED


@pytest.mark.parametrize("delay_ms, level", [(1, 1), (999, 1), (1000, 2), (4000, 2), (60_000, 6),
                                              (7_200_000, 18), (20 * 3_600_000, 18)])
def test_with_use_delay_level_delivery_timestamp_maps_to_upstreams_delay_level(delay_ms: int, level: int) -> None:
    msg = message()
    msg.system_properties.delivery_timestamp.FromMilliseconds(NOW + delay_ms)
    out = to_outgoing(msg, ProxyConfig(useDelayLevel=True), NOW, "")
    assert out.properties["DELAY"] == str(level)
    assert "TIMER_DELIVER_MS" not in out.properties


@pytest.mark.parametrize("delay_ms", [-1000, 1, 999, 7_200_001])
def test_delivery_timestamp_becomes_timer_deliver_ms(delay_ms: int) -> None:
    msg = message()
    msg.system_properties.delivery_timestamp.FromMilliseconds(NOW + delay_ms)
    out = to_outgoing(msg, ProxyConfig(), NOW, "")
    assert out.properties["TIMER_DELIVER_MS"] == str(NOW + delay_ms)  # the broker's timer wheel
    assert "DELAY" not in out.properties


def test_with_use_delay_level_a_delivery_time_in_the_past_is_delivered_now() -> None:
    msg = message()
    msg.system_properties.delivery_timestamp.FromMilliseconds(NOW - 1000)
    assert "DELAY" not in to_outgoing(msg, ProxyConfig(useDelayLevel=True), NOW, "").properties


def test_too_many_or_too_large_user_properties() -> None:
    config = ProxyConfig(userPropertyMaxNum=2, maxUserPropertySize=10)
    msg = message()
    msg.user_properties.update({"a": "1", "b": "2", "c": "3"})
    with pytest.raises(ProxyError) as err:
        to_outgoing(msg, config, NOW, "")
    assert err.value.code == pb.MESSAGE_PROPERTIES_TOO_LARGE
    msg = message()
    msg.user_properties["key"] = "x" * 20
    with pytest.raises(ProxyError) as err:
        to_outgoing(msg, config, NOW, "")
    assert err.value.code == pb.MESSAGE_PROPERTIES_TOO_LARGE


def test_control_characters_and_long_message_groups_are_refused() -> None:
    msg = message()
    msg.user_properties["k"] = "a\u0001b"
    with pytest.raises(ProxyError) as err:
        to_outgoing(msg, ProxyConfig(), NOW, "")
    assert err.value.code == pb.ILLEGAL_MESSAGE_PROPERTY_KEY
    with pytest.raises(ProxyError) as err:
        to_outgoing(message(message_group="g" * 65), ProxyConfig(), NOW, "")
    assert err.value.code == pb.ILLEGAL_MESSAGE_GROUP


def test_permission_split_as_upstream() -> None:
    assert permission_queues(6, 4, 4) == [pb.READ_WRITE] * 4
    assert permission_queues(6, 4, 2) == [pb.READ] * 2 + [pb.READ_WRITE] * 2
    assert permission_queues(2, 4, 3) == [pb.WRITE] * 3
    assert permission_queues(0, 4, 4) == [pb.NONE] * 4


def test_settings_answer_keeps_what_the_client_said_and_adds_the_servers_view() -> None:
    registry = ClientSettings(ProxyConfig(maxMessageSize=1024))
    said = pb.Settings(client_type=pb.PRODUCER, publishing=pb.Publishing(topics=[pb.Resource(name="T")]))
    answer = registry.update("c1", said)
    assert answer.client_type == pb.PRODUCER and [t.name for t in answer.publishing.topics] == ["T"]
    assert answer.publishing.max_body_size == 1024
    assert answer.backoff_policy.exponential_backoff.max.ToMilliseconds() == 1000
    assert answer.metric.on is False
    assert registry.get("c1") == answer
    assert registry.remove("c1") == answer and registry.get("c1") is None


def test_an_invalid_delivery_timestamp_is_an_illegal_delivery_time() -> None:
    msg = message()
    msg.system_properties.delivery_timestamp.seconds = NOW  # milliseconds in the seconds field
    with pytest.raises(ProxyError) as err:
        to_outgoing(msg, ProxyConfig(), NOW, "")
    assert err.value.code == pb.ILLEGAL_DELIVERY_TIME


def test_a_transactional_message_is_a_prepared_half() -> None:
    msg = message(message_type=pb.TRANSACTION)
    msg.system_properties.orphaned_transaction_recovery_duration.FromSeconds(30)
    out = to_outgoing(msg, ProxyConfig(), NOW, "")
    assert out.sys_flag & 0xC == 0x4  # TRANSACTION_PREPARED_TYPE
    assert out.properties["TRAN_MSG"] == "true"
    assert out.properties["CHECK_IMMUNITY_TIME_IN_SECONDS"] == "30"


def test_transaction_table_forgets_what_expired_and_what_was_taken() -> None:
    from pocketmq.clock import ManualClock  # noqa: PLC0415
    from pocketmq.proxy.transactions import TransactionTable  # noqa: PLC0415

    clock = ManualClock(NOW)
    table = TransactionTable(expire_ms=30_000, clock=clock)
    table.add("T", "tx1", "127.0.0.1:10911", 5, 1000, "ID1")
    table.add("T", "tx2", "127.0.0.1:10911", 6, 2000, "ID2", keep_ms=120_000)
    assert table.take("T", "tx1").commit_log_offset == 1000
    assert table.take("T", "tx1") is None
    clock.advance(60_000)
    assert table.take("T", "tx2").tran_state_table_offset == 6  # kept for its recovery duration
    table.add("T", "tx3", "a", 1, 1, "ID3")
    clock.advance(30_001)
    assert table.take("T", "tx3") is None


def stored(properties: dict[str, str]):
    from pocketmq.protocol import message as pm
    return pm.MessageExt(store_size=0, body_crc=0, queue_id=0, flag=0, queue_offset=7, commit_log_offset=0,
                         sys_flag=0, born_timestamp=NOW - 5000, born_host=("127.0.0.1", 1), store_timestamp=NOW,
                         store_host=("127.0.0.1", 2), reconsume_times=0, prepared_transaction_offset=0,
                         body=b"b", topic="T", properties={"UNIQ_KEY": "U1", **properties}, msg_id="M")


def test_a_received_timer_message_is_a_delay_message_with_its_delivery_timestamp() -> None:
    from pocketmq.proxy.convert import to_grpc_message
    out = to_grpc_message(stored({"TIMER_DELIVER_MS": str(NOW), "TIMER_OUT_MS": str(NOW - 1000)}))
    assert out.system_properties.message_type == pb.DELAY
    assert out.system_properties.delivery_timestamp.ToMilliseconds() == NOW
    assert "TIMER_OUT_MS" not in out.user_properties
    plain = to_grpc_message(stored({"TIMER_DELIVER_MS": "not a number"}))
    assert not plain.system_properties.HasField("delivery_timestamp")
    assert to_grpc_message(stored({})).system_properties.message_type == pb.NORMAL
