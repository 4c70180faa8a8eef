"""JSON bodies in the dialect Java RocketMQ (fastjson) writes and reads.

fastjson writes maps with integer keys unquoted (``{0:"addr"}``) and maps keyed by an object
with the object inline as the key (``{{"brokerName":"a","queueId":0,"topic":"T"}:{...}}``). Neither
is standard JSON. ``loads`` accepts both (and plain JSON, fast path via orjson); ``dumps`` writes
compact JSON with sorted keys, quoting integer keys (every client accepts that) and writing
object keys inline where a Java type has them (``ObjectKey``).
"""

from __future__ import annotations

import re
from typing import Any

import orjson


class ObjectKey:
    """A map key that fastjson writes as an inline JSON object (e.g. a MessageQueue)."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectKey) and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.fields.items())))

    def __repr__(self) -> str:
        return f"ObjectKey({self.fields!r})"


def dumps(value: Any, *, plain: bool = False) -> bytes:
    """``plain=True``: the caller knows no ``ObjectKey`` is inside, so the walk that looks for one
    is skipped; for a large table (80,000 consumer offsets) it costs several times the encoding."""
    if plain or not _needs_custom(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return _dump(value).encode()


def _needs_custom(value: Any) -> bool:
    if isinstance(value, dict):
        return any(isinstance(key, ObjectKey) or _needs_custom(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_needs_custom(item) for item in value)
    return False


def _dump(value: Any) -> str:
    if isinstance(value, dict):
        parts = []
        for key, item in sorted(value.items(), key=lambda pair: _sort_key(pair[0])):
            if isinstance(key, ObjectKey):
                key_text = _dump(key.fields)
            else:
                key_text = orjson.dumps(str(key)).decode()
            parts.append(f"{key_text}:{_dump(item)}")
        return "{" + ",".join(parts) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_dump(item) for item in value) + "]"
    return orjson.dumps(value).decode()


def _sort_key(key: Any) -> str:
    if isinstance(key, ObjectKey):
        return orjson.dumps(key.fields, option=orjson.OPT_SORT_KEYS).decode()
    return str(key)


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    if isinstance(data, memoryview):
        data = bytes(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    text = data.decode() if isinstance(data, (bytes, bytearray)) else data
    parser = _LenientParser(text)
    value = parser.value()
    parser.skip_space()
    if parser.pos != len(text):
        raise ValueError(f"trailing data at {parser.pos}")
    return value


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][\w$]*")


class _LenientParser:
    """Recursive descent over fastjson output: unquoted numeric/identifier keys, object keys."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        self.pos = pos

    def peek(self) -> str:
        self.skip_space()
        if self.pos >= len(self.text):
            raise ValueError("unexpected end of JSON")
        return self.text[self.pos]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at {self.pos}")
        self.pos += 1

    def value(self) -> Any:
        char = self.peek()
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char == '"':
            return self.string()
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            token = match.group(0)
            return float(token) if match.group(1) or match.group(2) else int(token)
        for word, result in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return result
        raise ValueError(f"unexpected {char!r} at {self.pos}")

    def string(self) -> str:
        start = self.pos
        self.pos += 1
        text = self.text
        while True:
            end = text.find('"', self.pos)
            if end < 0:
                raise ValueError("unterminated string")
            backslashes = 0
            while text[end - 1 - backslashes] == "\\":
                backslashes += 1
            self.pos = end + 1
            if backslashes % 2 == 0:
                return orjson.loads(text[start:end + 1])

    def key(self) -> Any:
        char = self.peek()
        if char == '"':
            return self.string()
        if char == "{":
            return ObjectKey(self.object())
        match = _NUMBER.match(self.text, self.pos) or _IDENT.match(self.text, self.pos)
        if not match:
            raise ValueError(f"bad key at {self.pos}")
        self.pos = match.end()
        token = match.group(0)
        return int(token) if token.lstrip("-").isdigit() else token

    def object(self) -> dict[Any, Any]:
        self.expect("{")
        result: dict[Any, Any] = {}
        if self.peek() == "}":
            self.pos += 1
            return result
        while True:
            key = self.key()
            self.expect(":")
            result[key] = self.value()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("}")
            return result

    def array(self) -> list[Any]:
        self.expect("[")
        result: list[Any] = []
        if self.peek() == "]":
            self.pos += 1
            return result
        while True:
            result.append(self.value())
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return result
