"""One property read straight from a stored properties string: the compiled reader
(pocketmq._speedups) and the pure-Python one answer the same for every layout a peer may send:
repeated names, empty values, a name that is the tail of another, a value holding \\x01, stray
separators and non-ASCII text."""

from __future__ import annotations

import random

import pytest

from pocketmq import _speedups  # built by `make venv`; the product falls back without it, the tests do not
from pocketmq.protocol import message as m

NAMES = ["KEYS", "TAGS", "UNIQ_KEY", "EYS", "KEYSX", "K", "Tópico", "键", "😀", ""]
VALUES = ["", "v", "key-1 key-2", "7F0000010A2B18B4AAC27E5B4DF30000", "a\x01b", "ключ", "😀x"]


def random_properties(rng: random.Random) -> str:
    items = []
    for _ in range(rng.randrange(6)):
        shape = rng.random()
        if shape < 0.8:
            items.append(rng.choice(NAMES) + "\x01" + rng.choice(VALUES))
        elif shape < 0.9:
            items.append(rng.choice(NAMES))  # no separator at all
        else:
            items.append("")
    text = "\x02".join(items)
    return text + "\x02" if rng.random() < 0.3 else text


def test_the_compiled_reader_is_in_use() -> None:
    assert m.property_from_string is _speedups.property_from_string


def test_compiled_and_python_readers_agree() -> None:
    rng = random.Random(20261130)
    for _ in range(5000):
        text = random_properties(rng)
        for name in NAMES:
            assert _speedups.property_from_string(text, name) == m.property_from_string_py(text, name), (text, name)


@pytest.mark.parametrize("reader", [m.property_from_string_py, _speedups.property_from_string],
                         ids=["python", "compiled"])
def test_what_a_send_reads(reader) -> None:
    stored = m.properties_to_string({"KEYS": "k1 k2", "TAGS": "TagA", "UNIQ_KEY": "ABC", "EMPTY": ""})
    assert (reader(stored, "KEYS"), reader(stored, "TAGS"), reader(stored, "UNIQ_KEY")) == ("k1 k2", "TagA", "ABC")
    assert reader(stored, "EYS") is None and reader(stored, "EMPTY") is None and reader("", "KEYS") is None
    assert reader("XKEYS\x01no\x02KEYS\x01yes\x02KEYS\x01second", "KEYS") == "yes"
