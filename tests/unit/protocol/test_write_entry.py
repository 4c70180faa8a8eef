"""The commit-log entry writer: the compiled one (pocketmq._speedups) writes the very bytes of the
pure-Python one, and both refuse what does not fit. A topic over 127 bytes makes a version-2
entry (upstream 5), with a two-byte topic length."""

from __future__ import annotations

import random
import struct

import pytest

from pocketmq import _speedups  # built by `make venv`; the product falls back without it, the tests do not
from pocketmq.protocol import message as m

compiled = _speedups.write_entry
WRITERS = [pytest.param(m.write_entry_py, id="python"), pytest.param(compiled, id="compiled")]


def entry_args(rng: random.Random, born_v6: bool, store_v6: bool, body_size: int) -> list:
    born_ip = m.pack_ip("::1" if born_v6 else "10.0.0.7")
    store_ip = m.pack_ip("fe80::2" if store_v6 else "127.0.0.1")
    sys_flag = (m.BORNHOST_V6_FLAG if born_v6 else 0) | (m.STOREHOSTADDRESS_V6_FLAG if store_v6 else 0)
    body = bytes(rng.randrange(256) for _ in range(body_size))
    return [rng.randrange(-2**31, 2**31), rng.randrange(-2**31, 2**31), rng.randrange(-2**31, 2**31),
            rng.randrange(2**63), rng.randrange(2**63), sys_flag, rng.randrange(-2**63, 2**63), born_ip,
            rng.randrange(65536), rng.randrange(-2**63, 2**63), store_ip, rng.randrange(65536),
            rng.randrange(-2**31, 2**31), rng.randrange(-2**63, 2**63), body, "Tópico".encode(),
            m.properties_to_string({"TAGS": "TagA", "KEYS": "k1 k2", "UNIQ_KEY": "ABC"}).encode()]


@pytest.mark.parametrize("born_v6,store_v6", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("body_size", [0, 1, 1000])
def test_compiled_and_python_write_the_same_bytes_and_decode_back(born_v6, store_v6, body_size):
    rng = random.Random(f"{born_v6}{store_v6}{body_size}")
    args = entry_args(rng, born_v6, store_v6, body_size)
    outputs = []
    for writer in (m.write_entry_py, compiled):
        buffer = bytearray(b"\xee" * 4096)
        total = writer(buffer, 100, *args)
        outputs.append((total, bytes(buffer)))
    assert outputs[0] == outputs[1]
    total, data = outputs[0]
    assert data[:100] == b"\xee" * 100 and data[100 + total:] == b"\xee" * (4096 - 100 - total)
    decoded = m.decode_message(memoryview(data)[100:100 + total])
    assert decoded.body == args[14] and decoded.topic == "Tópico"
    assert (decoded.queue_id, decoded.queue_offset, decoded.commit_log_offset) == (args[1], args[3], args[4])
    assert decoded.properties["KEYS"] == "k1 k2"


@pytest.mark.parametrize("writer", WRITERS)
def test_what_does_not_fit_is_refused_and_nothing_is_written(writer):
    args = entry_args(random.Random(1), False, False, 10)
    size = m.entry_length(0, 10, len(args[15]), len(args[16]))
    buffer = bytearray(size - 1)
    with pytest.raises(ValueError):
        writer(buffer, 0, *args)
    assert buffer == bytearray(size - 1)
    with pytest.raises(ValueError):
        writer(bytearray(size), -1, *args)
    too_long_topic = list(args)
    too_long_topic[15] = b"t" * (m.MAX_TOPIC_LENGTH_V2 + 1)
    with pytest.raises(ValueError):
        writer(bytearray(65536), 0, *too_long_topic)
    assert writer(bytearray(size), 0, *args) == size


@pytest.mark.parametrize("writer", WRITERS)
def test_int32_fields_out_of_range_are_refused(writer):
    args = entry_args(random.Random(2), False, False, 10)
    args[1] = 2**31  # queue id
    with pytest.raises((OverflowError, struct.error)):
        writer(bytearray(4096), 0, *args)


@pytest.mark.parametrize("topic_size,magic", [(1, m.MESSAGE_MAGIC_CODE), (127, m.MESSAGE_MAGIC_CODE),
                                              (128, m.MESSAGE_MAGIC_CODE_V2), (300, m.MESSAGE_MAGIC_CODE_V2),
                                              (m.MAX_TOPIC_LENGTH_V2, m.MESSAGE_MAGIC_CODE_V2)])
def test_a_topic_over_127_bytes_makes_a_version_2_entry(topic_size, magic):
    args = entry_args(random.Random(topic_size), False, False, 50)
    topic = ("%RETRY%" + "g" * topic_size)[:topic_size]
    args[15] = topic.encode()
    size = m.entry_length(0, 50, topic_size, len(args[16]))
    outputs = []
    for writer in (m.write_entry_py, compiled):
        buffer = bytearray(size)
        assert writer(buffer, 0, *args) == size
        outputs.append(bytes(buffer))
    assert outputs[0] == outputs[1]
    assert struct.unpack_from(">ii", outputs[0]) == (size, magic)
    decoded = m.decode_message(outputs[0])
    assert decoded.topic == topic and decoded.magic_code == magic and decoded.body == args[14]
    assert decoded.properties["TAGS"] == "TagA"
