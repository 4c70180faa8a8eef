"""Frame codec: upstream byte vectors, round trips and a fuzz of the decoder."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocketmq.remoting.codec import (
    FrameDecoder, ProtocolError, decode_binary_header, decode_json_header, encode_binary_header,
    encode_frame_bytes,
)
from pocketmq.remoting.codes import SerializeType
from pocketmq.remoting.command import RemotingCommand

# Java 4.9.8 client asking the name server for a route (reference section 1.2).
JAVA_ROUTE_REQUEST = bytes.fromhex("0000008700000083") + (
    b'{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":1,'
    b'"serializeTypeCurrentRPC":"JSON","version":409}')

# The same request in the ROCKETMQ binary serialization (reference section 1.4).
BINARY_ROUTE_REQUEST = bytes.fromhex(
    "0000002d 01000029 0069 00 0199 00000001 00000000 00000000 00000014 0005 746f706963 00000009 546f70696354657374"
    .replace(" ", ""))


def decode_all(data: bytes, max_frame_length: int = 16 * 1024 * 1024) -> list[RemotingCommand]:
    decoder = FrameDecoder(max_frame_length)
    decoder.feed(data)
    commands = []
    while (cmd := decoder.next_command()) is not None:
        commands.append(cmd)
    return commands


def test_java_json_request_decodes():
    [cmd] = decode_all(JAVA_ROUTE_REQUEST)
    assert (cmd.code, cmd.language, cmd.version, cmd.opaque, cmd.flag) == (105, "JAVA", 409, 1, 0)
    assert cmd.ext_fields == {"topic": "TopicTest"}
    assert cmd.serialize_type == SerializeType.JSON
    assert cmd.body is None


def test_java_json_request_encodes_to_the_same_bytes():
    cmd = RemotingCommand(code=105, language="JAVA", version=409, opaque=1, ext_fields={"topic": "TopicTest"})
    assert encode_frame_bytes(cmd) == JAVA_ROUTE_REQUEST


def test_binary_request_decodes_and_encodes_to_the_same_bytes():
    [cmd] = decode_all(BINARY_ROUTE_REQUEST)
    assert (cmd.code, cmd.language, cmd.version, cmd.opaque, cmd.flag) == (105, "JAVA", 409, 1, 0)
    assert cmd.ext_fields == {"topic": "TopicTest"}
    assert cmd.remark is None
    assert cmd.serialize_type == SerializeType.ROCKETMQ
    assert encode_frame_bytes(cmd) == BINARY_ROUTE_REQUEST


def test_cpp_numbers_and_booleans_in_ext_fields_become_strings():
    header = (b'{"code":11,"extFields":{"queueId":3,"maxMsgNums":32,"unitMode":false,"x":null},'
              b'"flag":0,"language":"CPP","opaque":7,"remark":"","version":333}')
    cmd = decode_json_header(header)
    assert cmd.ext_fields == {"queueId": "3", "maxMsgNums": "32", "unitMode": "false"}
    assert cmd.language == "CPP"


def test_body_follows_header_and_split_feeding_yields_one_command():
    cmd = RemotingCommand(code=310, opaque=9, ext_fields={"a": "g"}, body=b"hello body")
    frame = encode_frame_bytes(cmd)
    decoder = FrameDecoder()
    for i in range(len(frame)):
        decoder.feed(frame[i:i + 1])
        got = decoder.next_command()
        if i < len(frame) - 1:
            assert got is None
    assert got is not None and got.body == b"hello body" and got.ext_fields == {"a": "g"}


def test_response_flag_and_remark_round_trip_in_json():
    cmd = RemotingCommand(code=17, opaque=3, flag=1, remark="No topic route info")
    [back] = decode_all(encode_frame_bytes(cmd))
    assert back.is_response and not back.is_oneway and back.remark == "No topic route info"


@pytest.mark.parametrize("frame, problem", [
    (bytes.fromhex("7fffffff00000000"), "frame length"),           # huge
    (bytes.fromhex("ffffff9c00000000"), "frame length"),           # negative
    (bytes.fromhex("0000000800000010") + b"\0" * 4, "header length"),  # header longer than frame
    (bytes.fromhex("0000000602000002") + b"{}", "serialize type"),  # unknown serialize type
    (bytes.fromhex("0000000600000002") + b"{x", "JSON"),            # bad JSON
    (bytes.fromhex("0000000600000002") + b"[]", "object"),          # JSON not an object
])
def test_malformed_frames_raise_protocol_error(frame, problem):
    with pytest.raises(ProtocolError, match=problem):
        decode_all(frame)


def test_frame_larger_than_configured_maximum_is_refused():
    cmd = RemotingCommand(code=10, body=b"x" * 2000)
    with pytest.raises(ProtocolError):
        decode_all(encode_frame_bytes(cmd), max_frame_length=1024)


ext_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
commands = st.builds(
    RemotingCommand,
    code=st.integers(-32768, 32767),
    language=st.sampled_from(["JAVA", "CPP", "GO", "PYTHON"]),
    version=st.integers(-32768, 32767),
    opaque=st.integers(-(2**31), 2**31 - 1),
    flag=st.integers(0, 3),
    remark=st.one_of(st.none(), ext_text),
    ext_fields=st.one_of(st.none(), st.dictionaries(ext_text, ext_text, max_size=5)),
    body=st.one_of(st.none(), st.binary(min_size=1, max_size=300)),
    serialize_type=st.sampled_from([SerializeType.JSON, SerializeType.ROCKETMQ]),
)


@given(st.lists(commands, min_size=1, max_size=4))
def test_round_trip_of_any_commands(cmds):
    stream = b"".join(encode_frame_bytes(cmd) for cmd in cmds)
    decoded = decode_all(stream)
    assert len(decoded) == len(cmds)
    for original, back in zip(cmds, decoded):
        assert (back.code, back.language, back.version, back.opaque, back.flag, back.body, back.serialize_type) == (
            original.code, original.language, original.version, original.opaque, original.flag,
            original.body, original.serialize_type)
        expected_fields = original.ext_fields
        if original.serialize_type == SerializeType.ROCKETMQ and not expected_fields:
            expected_fields = None  # the binary form cannot tell {} from null
        assert back.ext_fields == expected_fields
        assert (back.remark or None) == (original.remark or None)


@settings(max_examples=400)
@given(st.binary(max_size=200), st.integers(0, 2**31 - 1))
def test_fuzz_random_bytes_yield_commands_or_protocol_error(noise, seed):
    _decode_or_protocol_error(noise)


@settings(max_examples=400)
@given(commands, st.data())
def test_fuzz_mutated_frames_yield_commands_or_protocol_error(cmd, data):
    frame = bytearray(encode_frame_bytes(cmd))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(frame) - 1))
        frame[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(frame)))
    _decode_or_protocol_error(bytes(frame[:cut]))


def _decode_or_protocol_error(data: bytes) -> None:
    try:
        for cmd in decode_all(data):
            assert isinstance(cmd, RemotingCommand)
    except ProtocolError:
        pass


def test_json_header_keys_are_sorted_like_fastjson():
    cmd = RemotingCommand(code=0, opaque=5, flag=1, remark="ok", ext_fields={"b": "1", "a": "2"})
    header = encode_frame_bytes(cmd)[8:]
    assert list(orjson.loads(header)) == sorted(orjson.loads(header))


def test_binary_header_length_is_21_plus_remark_plus_fields():
    cmd = RemotingCommand(code=105, opaque=1, ext_fields={"topic": "TopicTest"})
    assert len(encode_binary_header(cmd)) == 41
    assert decode_binary_header(encode_binary_header(cmd)).ext_fields == {"topic": "TopicTest"}
