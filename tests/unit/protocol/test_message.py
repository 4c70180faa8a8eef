"""Stored-entry layout, properties, batch body, tagsCode and message ids."""

import ipaddress
import struct
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from pocketmq.protocol import message as m
from pocketmq.protocol.message_id import (
    UniqKeyGenerator, create_offset_message_id, decode_offset_message_id,
)


def reference_java_hash(text: str) -> int:
    h = 0
    raw = text.encode("utf-16-be")
    for (unit,) in struct.iter_unpack(">H", raw):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def test_tags_code_known_value():
    assert m.tags_string_to_tags_code("TagA") == 2598919
    assert m.tags_string_to_tags_code(None) == 0
    assert m.java_string_hash("") == 0


@given(st.text(max_size=300))
def test_java_hash_matches_reference(text):
    assert m.java_string_hash(text) == reference_java_hash(text)
    assert m.java_string_hash_py(text) == reference_java_hash(text)


def test_java_hash_long_string():
    text = "x€\U0001F600" * 3000
    assert m.java_string_hash(text) == reference_java_hash(text)
    assert m.java_string_hash_py(text) == reference_java_hash(text)


def test_the_compiled_java_hash_is_in_use():
    """`pip install -e .` builds pocketmq/_speedups.c (optional there, so a machine without a
    compiler still installs); on this project's machines the broker must get the fast one."""
    from pocketmq import _speedups

    assert m.java_string_hash is _speedups.java_string_hash
    with pytest.raises(TypeError):
        _speedups.java_string_hash(b"bytes")


def test_ipv4_layout_offsets():
    body = b"hello"
    raw = m.encode_message(topic="TopicA", body=body, queue_id=3, flag=7, queue_offset=11,
                           physical_offset=0x1234, sys_flag=0, born_timestamp=1000,
                           born_host=("10.0.0.2", 5555), store_timestamp=2000,
                           store_host=("192.168.0.1", 10911), reconsume_times=2,
                           prepared_transaction_offset=99, properties={"TAGS": "TagA"})
    props = "TAGS\x01TagA".encode()
    assert len(raw) == 91 + len(body) + len("TopicA") + len(props)
    assert struct.unpack_from(">i", raw, 0)[0] == len(raw)
    assert struct.unpack_from(">i", raw, 4)[0] == -626843481
    assert struct.unpack_from(">i", raw, 8)[0] == zlib.crc32(body) & 0x7FFFFFFF
    assert struct.unpack_from(">iiqq", raw, 12) == (3, 7, 11, 0x1234)
    assert struct.unpack_from(">iq", raw, 36) == (0, 1000)
    assert raw[48:52] == bytes([10, 0, 0, 2]) and struct.unpack_from(">i", raw, 52)[0] == 5555
    assert struct.unpack_from(">q", raw, 56)[0] == 2000
    assert raw[64:68] == bytes([192, 168, 0, 1]) and struct.unpack_from(">i", raw, 68)[0] == 10911
    assert struct.unpack_from(">iqi", raw, 72) == (2, 99, 5)
    assert raw[88:93] == body
    assert raw[93] == 6 and raw[94:100] == b"TopicA"
    assert struct.unpack_from(">h", raw, 100)[0] == len(props) and raw[102:] == props


def test_ipv6_hosts_add_12_bytes_each_and_set_flags():
    raw = m.encode_message(topic="T", body=b"", born_host=("::1", 1), store_host=("fe80::1", 2))
    assert len(raw) == 91 + 1 + 24
    msg = m.decode_message(raw)
    assert msg.sys_flag & (m.BORNHOST_V6_FLAG | m.STOREHOSTADDRESS_V6_FLAG) == 0x30
    assert msg.born_host == ("::1", 1) and msg.store_host == ("fe80::1", 2)
    assert len(msg.msg_id) == 56


hosts = st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
).flatmap(lambda ip: st.tuples(st.just(ip), st.integers(0, 65535)))
prop_text = st.text(alphabet=st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)),
                    min_size=1, max_size=20)


@settings(max_examples=200)
@given(body=st.binary(max_size=2000), topic=st.text(alphabet="abcXYZ_%-0123", min_size=1, max_size=127),
       queue_id=st.integers(0, 2**31 - 1), flag=st.integers(-2**31, 2**31 - 1),
       queue_offset=st.integers(0, 2**62), phy=st.integers(0, 2**62),
       sys_flag=st.sampled_from([0, 1, 2, 4, 8, 12, 0x301]), born=hosts, store=hosts,
       ts=st.integers(0, 2**45), props=st.dictionaries(prop_text, prop_text, max_size=5))
def test_encode_decode_round_trip(body, topic, queue_id, flag, queue_offset, phy, sys_flag, born, store, ts, props):
    raw = m.encode_message(topic=topic, body=body, queue_id=queue_id, flag=flag, queue_offset=queue_offset,
                           physical_offset=phy, sys_flag=sys_flag, born_timestamp=ts, born_host=born,
                           store_timestamp=ts + 1, store_host=store, properties=props)
    msg = m.decode_message(raw)
    assert msg.store_size == len(raw)
    assert (msg.body, msg.topic, msg.queue_id, msg.flag, msg.queue_offset, msg.commit_log_offset) == (
        body, topic, queue_id, flag, queue_offset, phy)
    assert msg.sys_flag & ~m.HOST_FLAGS_MASK == sys_flag
    assert ipaddress.ip_address(msg.born_host[0]) == ipaddress.ip_address(born[0])
    assert ipaddress.ip_address(msg.store_host[0]) == ipaddress.ip_address(store[0])
    assert (msg.born_host[1], msg.store_host[1]) == (born[1], store[1])
    assert msg.store_timestamp == ts + 1 and msg.born_timestamp == ts
    assert msg.properties == props
    assert msg.body_crc == m.body_crc(body)
    assert decode_offset_message_id(msg.msg_id)[2] == phy


def test_decode_messages_concatenation():
    a = m.encode_message(topic="A", body=b"1")
    b = m.encode_message(topic="B", body=b"22")
    assert [x.topic for x in m.decode_messages(a + b)] == ["A", "B"]


def test_decode_rejects_bad_magic_and_length():
    raw = bytearray(m.encode_message(topic="A", body=b"1"))
    bad = bytearray(raw)
    bad[4] ^= 0xFF
    with pytest.raises(m.MessageDecodeError):
        m.decode_message(bad)
    with pytest.raises(m.MessageDecodeError):
        m.decode_message(raw[:-1])


def test_properties_with_and_without_trailing_separator():
    assert m.string_to_properties("a\x01b\x02c\x01d") == {"a": "b", "c": "d"}
    assert m.string_to_properties("a\x01b\x02c\x01d\x02") == {"a": "b", "c": "d"}
    assert m.string_to_properties("a\x01\x02\x01x\x02c\x01d") == {"c": "d"}
    assert m.properties_to_string({"a": "b", "c": "d"}) == "a\x01b\x02c\x01d"


@given(st.dictionaries(prop_text, prop_text, max_size=8))
def test_properties_round_trip(props):
    assert m.string_to_properties(m.properties_to_string(props)) == props
    assert m.string_to_properties(m.properties_to_string(props) + "\x02") == props


def test_batch_body_round_trip_and_layout():
    records = [m.BatchRecord(b"one", "UNIQ_KEY\x01A", 1), m.BatchRecord(b"", "", 0)]
    raw = m.encode_batch_body(records)
    assert struct.unpack_from(">iiiii", raw, 0) == (20 + 3 + 2 + 10, 0, 0, 1, 3)
    assert m.decode_batch_body(raw) == records
    with pytest.raises(m.MessageDecodeError):
        m.decode_batch_body(raw[:-1])


def test_offset_message_id_example():
    assert create_offset_message_id("192.168.0.1", 10911, 0x1234) == "C0A8000100002A9F0000000000001234"
    assert decode_offset_message_id("C0A8000100002A9F0000000000001234") == ("192.168.0.1", 10911, 0x1234)


def test_uniq_key_generator_unique_uppercase():
    gen = UniqKeyGenerator(ip="10.1.2.3", pid=42)
    ids = {gen.create() for _ in range(1000)}
    assert len(ids) == 1000
    one = ids.pop()
    assert len(one) == 32 and one == one.upper() and one.startswith("0A010203002A")


@given(st.dictionaries(prop_text, prop_text, max_size=6), prop_text)
def test_property_from_string_matches_dict(props, name):
    text = m.properties_to_string(props)
    assert m.property_from_string(text, name) == props.get(name)
    assert m.property_from_string(text + "\x02", name) == props.get(name)


@pytest.mark.parametrize(("properties", "wait"), [
    ("", True), ("TAGS\x01A", True), ("WAIT\x01false", False), ("TAGS\x01A\x02WAIT\x01false\x02", False),
    ("WAIT\x01true\x02KEYS\x01k", True), ("XWAIT\x01false", True), ("WAIT\x01\x02TAGS\x01B", True)])
def test_wait_store_msg_ok_reads_the_string_as_the_map_does(properties: str, wait: bool) -> None:
    from_string = m.MessageExtBrokerInner(topic="T", body=b"", properties_string=properties)
    from_map = m.MessageExtBrokerInner(topic="T", body=b"", properties=m.string_to_properties(properties))
    assert from_string.wait_store_msg_ok is wait and from_map.wait_store_msg_ok is wait
    assert from_string.properties is None  # answered without parsing the whole string
