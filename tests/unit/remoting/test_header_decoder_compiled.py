"""Typed request headers have two decoders: the compiled one (pocketmq._speedups), used on every
request, and the generated Python one, which it hands anything unusual. Fed the same extFields,
both give the same header, or the same HeaderError, for every header class the protocol defines."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from pocketmq.protocol import client_headers, controller, namesrv_headers, pop
from pocketmq.remoting import header as h

HEADER_CLASSES = sorted(
    {value for module in (client_headers, controller, namesrv_headers, pop) for value in vars(module).values()
     if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__name__.endswith("Header")},
    key=lambda cls: cls.__name__)

TEXTS = {
    "str": ["", "T", "Tópico", " spaced ", "%RETRY%g"],
    "int": ["0", "-1", "42", " 7 ", "+5", "1_000", "٣", str(2**63 - 1), str(-2**63), str(2**63), "", "x", "1.5"],
    "Int32": ["0", "-1", "3", str(2**31 - 1), str(-2**31), str(2**31), "", "nope"],
    "bool": ["true", "false", "TRUE", " true ", "1", "0", "", "yes"],
}


def kind_of(field: dataclasses.Field) -> str:
    name = h._base_type_name(field.type)
    return name if name in TEXTS else "str"


def outcome(decoder: Any, fields: dict[str, str]) -> tuple[str, Any]:
    try:
        return "ok", decoder(dict(fields))
    except h.HeaderError as exc:
        return "error", (type(exc), str(exc), exc.field)


def random_fields(cls: type, short_names: bool, rng: random.Random) -> dict[str, str]:
    fields = {}
    for spec, field in zip(h._specs(cls), dataclasses.fields(cls)):
        if rng.random() < 0.15:
            continue  # missing
        key = spec.alias if short_names and spec.alias else spec.name
        texts = TEXTS[kind_of(field)]
        # Mostly plain values, so that whole headers decode too, not only errors.
        fields[key] = texts[0 if kind_of(field) == "str" and rng.random() < 0.2 else rng.randrange(min(3, len(texts)))] \
            if rng.random() < 0.7 else rng.choice(texts)
    return fields


def test_the_compiled_decoder_is_in_use() -> None:
    from pocketmq import _speedups  # built by `make venv`; the product falls back without it, the tests do not

    decoder = h._fastest_decoder(client_headers.SendMessageRequestHeader, True)
    assert decoder.func is _speedups.decode_header_fields


@pytest.mark.parametrize("cls", HEADER_CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("short_names", [False, True])
def test_compiled_and_python_decoders_agree(cls: type, short_names: bool) -> None:
    python = h._compile_decoder(cls, short_names)
    fastest = h._fastest_decoder(cls, short_names)
    rng = random.Random(f"{cls.__name__}{short_names}")
    seen = set()
    for _ in range(300):
        fields = random_fields(cls, short_names, rng)
        expected = outcome(python, fields)
        assert outcome(fastest, fields) == expected, fields
        seen.add(expected[0])
    if any(spec.required for spec in h._specs(cls)):
        assert seen == {"ok", "error"}


def test_the_java_send_header_v2_decodes_in_compiled_code() -> None:
    fields = {"a": "PG", "b": "TopicTest", "c": "TBW102", "d": "4", "e": "3", "f": "0", "g": "1764547200000",
              "h": "0", "i": "UNIQ_KEY\x01ABC\x02", "j": "0", "k": "false", "l": "16", "m": "false", "n": "broker-a"}
    decoded = h.decode_header(client_headers.SendMessageRequestHeader, fields, short_names=True)
    assert decoded == client_headers.SendMessageRequestHeader(
        producerGroup="PG", topic="TopicTest", defaultTopic="TBW102", defaultTopicQueueNums=4, queueId=3, sysFlag=0,
        bornTimestamp=1764547200000, flag=0, properties="UNIQ_KEY\x01ABC\x02", reconsumeTimes=0, unitMode=False,
        maxReconsumeTimes=16, batch=False, bname="broker-a")


def test_a_default_factory_gives_each_header_its_own_value() -> None:
    @dataclasses.dataclass
    class WithList:
        name: str
        items: list = dataclasses.field(default_factory=list)

    first = h._fastest_decoder(WithList, False)({"name": "a"})
    second = h._fastest_decoder(WithList, False)({"name": "b"})
    assert first.items == [] and first.items is not second.items
