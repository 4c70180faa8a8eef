"""The JSON header of every remoting command goes through compiled code (pocketmq._speedups) both
ways, with the pure-Python codec as its twin: encoded (header alone, or the frame up to its
body), the bytes are the same; decoded, the
command (or the ProtocolError) is the same, for the usual headers and for everything unusual a
peer may send (numbers as strings, booleans, out-of-range integers, non-string extFields, strings
JSON must escape, non-ASCII, bad JSON)."""

from __future__ import annotations

import random
import struct
from typing import Any

import orjson
import pytest

from pocketmq import _speedups  # built by `make venv`; the product falls back without it, the tests do not
from pocketmq.remoting import codec
from pocketmq.remoting.codes import RequestCode, ResponseCode

TEXTS = ["", "JAVA", "CPP", "Tópico", "键", "😀", 'quo"te', "back\\slash", "new\nline", "\x01\x02", "\x7f", "/"]
INTS = [0, 1, -1, 310, 2**31 - 1, -2**31, 2**31, -2**31 - 1, 2**40, RequestCode.SEND_MESSAGE_V2, ResponseCode.SUCCESS,
        True, False]


def outcome(function: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", function(*args)
    except (codec.ProtocolError, orjson.JSONEncodeError, TypeError, struct.error) as exc:
        return "error", (type(exc), str(exc))


def test_the_compiled_codec_is_in_use() -> None:
    assert codec.json_header.func is _speedups.json_header
    assert codec.json_frame_head.func is _speedups.json_frame_head
    assert codec.decode_json_header.func is _speedups.json_command


def random_ext_fields(rng: random.Random, unusual: bool) -> dict[str, Any] | None:
    if rng.random() < 0.2:
        return None
    values: list[Any] = TEXTS + (INTS + [True, None, 1.5, ["x"], {"k": "v"}] if unusual else [])
    return {rng.choice(TEXTS + ["a", "b", "msgId"]): rng.choice(values) for _ in range(rng.randrange(6))}


def test_encoded_headers_are_the_same_bytes() -> None:
    rng = random.Random(1)
    for i in range(4000):
        unusual = i % 4 == 0
        args = (rng.choice(INTS), random_ext_fields(rng, unusual), rng.choice(INTS), rng.choice(TEXTS),
                rng.choice(INTS), rng.choice([None, *TEXTS]), rng.choice(INTS))
        assert outcome(codec.json_header, *args) == outcome(codec.json_header_py, *args), args


def test_frame_heads_are_the_same_bytes() -> None:
    rng = random.Random(3)
    for _ in range(1000):
        args = (rng.choice([0, 1, 128, 2**31 - 200, 2**31]), rng.choice(INTS), random_ext_fields(rng, False),
                rng.choice(INTS), rng.choice(TEXTS), rng.choice(INTS), rng.choice([None, *TEXTS]), rng.choice(INTS))
        assert outcome(codec.json_frame_head, *args) == outcome(codec.json_frame_head_py, *args), args


def no_fallback(*args: Any) -> bytes:
    raise AssertionError(f"handed to the Python encoder: {args}")


def test_escapes_and_enum_codes_are_written_by_the_compiled_encoder_itself() -> None:
    ext = {"i": "UNIQ_KEY\x01ABC\x02TAGS\x01a\"b\\c\n", "键": "😀"}
    for code in (310, RequestCode.SEND_MESSAGE_V2, ResponseCode.SYSTEM_ERROR):
        args = (code, ext, 0, "PYTHON", 9, "tab\there", 399)
        assert _speedups.json_header(no_fallback, *args) == codec.json_header_py(*args)


def test_a_lone_surrogate_is_refused_by_both() -> None:
    args = (0, {"k": "\ud800"}, 0, "JAVA", 1, None, 1)
    assert outcome(codec.json_header, *args)[0] == "error"
    assert outcome(codec.json_header, *args) == outcome(codec.json_header_py, *args)


def random_header(rng: random.Random) -> bytes:
    header: dict[str, Any] = {}
    plain = rng.random() < 0.5
    for key in ("code", "language", "version", "opaque", "flag", "remark", "extFields", "serializeTypeCurrentRPC"):
        if rng.random() < (0.95 if plain else 0.7):
            if key == "extFields":
                header[key] = random_ext_fields(rng, not plain)
            elif key in ("language", "remark", "serializeTypeCurrentRPC"):
                header[key] = rng.choice(TEXTS) if plain else rng.choice([*TEXTS, 3, 99, None, True])
            else:
                header[key] = rng.choice(INTS[:7]) if plain else rng.choice([*INTS, "42", "x", True, None, 1.5])
    return orjson.dumps(header)


def test_decoded_headers_are_the_same_commands() -> None:
    rng = random.Random(2)
    seen = set()
    for _ in range(4000):
        data = random_header(rng)
        expected = outcome(codec.decode_json_header_py, data)
        assert outcome(codec.decode_json_header, data) == expected, data
        seen.add(expected[0])
    assert seen == {"ok", "error"}


@pytest.mark.parametrize("data", [b"", b"{", b"[1]", b"null", b'{"code":1,}', b'{"code":1}x', b"\xff\xfe",
                                  b'{"code":"1","extFields":{"a":1}}', b'{"code":true}'])
def test_bad_or_odd_json_gets_the_python_answer(data: bytes) -> None:
    assert outcome(codec.decode_json_header, data) == outcome(codec.decode_json_header_py, data)


def test_a_java_send_round_trips() -> None:
    header = (b'{"code":310,"extFields":{"a":"PG","b":"TopicTest","i":"UNIQ_KEY\\u0001ABC\\u0002"},"flag":0,'
              b'"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":399}')
    cmd = codec.decode_json_header(header)
    assert (cmd.code, cmd.opaque, cmd.language, cmd.ext_fields["i"]) == (310, 7, "JAVA", "UNIQ_KEY\x01ABC\x02")
    assert codec.encode_json_header(cmd) == header
