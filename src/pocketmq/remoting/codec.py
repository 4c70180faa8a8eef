"""The remoting frame codec, sans-IO: bytes in, RemotingCommands out, and back.

Frame: int32 length (of everything after it), int32 (serializeType << 24 | headerLength), header
(JSON text or the ROCKETMQ binary layout), body. ``FrameDecoder`` is fed whatever bytes arrive
and hands out whole commands; anything malformed raises ``ProtocolError`` and the caller closes
the connection. Nothing here touches a socket or an event loop.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import orjson

from pocketmq.remoting.codes import LANGUAGE_ORDINALS, LANGUAGES, SerializeType
from pocketmq.remoting.command import Buffer, RemotingCommand

DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024

_INT = struct.Struct(">i")
_FRAME_PREFIX = struct.Struct(">iI")
_BINARY_FIXED = struct.Struct(">hBhii")  # code, language, version, opaque, flag
_SHORT = struct.Struct(">H")


class ProtocolError(Exception):
    """A frame or header that cannot be decoded; the connection that sent it must be closed."""


# ---------------------------------------------------------------------------------------- JSON

def json_header_py(code: int, ext_fields: dict[str, str] | None, flag: int, language: str, opaque: int,
                   remark: str | None, version: int) -> bytes:
    header: dict[str, Any] = {"code": code}
    if ext_fields is not None:
        header["extFields"] = ext_fields
    header["flag"] = flag
    header["language"] = language
    header["opaque"] = opaque
    if remark is not None:
        header["remark"] = remark
    header["serializeTypeCurrentRPC"] = "JSON"
    header["version"] = version
    return orjson.dumps(header)


def json_frame_head_py(body_length: int, code: int, ext_fields: dict[str, str] | None, flag: int, language: str,
                       opaque: int, remark: str | None, version: int) -> bytes:
    """A JSON command's frame up to its body: prefix and header."""
    header = json_header_py(code, ext_fields, flag, language, opaque, remark, version)
    return _FRAME_PREFIX.pack(4 + len(header) + body_length, len(header)) + header


def decode_json_header_py(data: bytes | memoryview) -> RemotingCommand:
    try:
        header = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"bad JSON header: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("JSON header is not an object")
    language = header.get("language", "JAVA")
    if type(language) is not str:
        if isinstance(language, int):  # tolerate the ordinal form
            language = LANGUAGES[language] if 0 <= language < len(LANGUAGES) else "OTHER"
        language = str(language)
    remark = header.get("remark")
    if remark is not None and type(remark) is not str:
        remark = str(remark)
    return RemotingCommand(
        _int_field(header, "code", required=True),
        language,
        _int_field(header, "version"),
        _int_field(header, "opaque"),
        _int_field(header, "flag"),
        remark,
        _string_map(header.get("extFields")),
    )


# Compiled (pocketmq/_speedups.c) where the install could build it: the same bytes and commands,
# with the usual header handled without a Python frame per field and anything unusual handed to
# the pure-Python twin above.
try:
    from pocketmq import _speedups
except ImportError:  # pragma: no cover - the extension is optional at install
    json_header = json_header_py
    json_frame_head = json_frame_head_py
    decode_json_header = decode_json_header_py
else:
    json_header = functools.partial(_speedups.json_header, json_header_py)
    json_frame_head = functools.partial(_speedups.json_frame_head, json_frame_head_py)
    decode_json_header = functools.partial(_speedups.json_command, orjson.loads, RemotingCommand,
                                           decode_json_header_py)


def encode_json_header(cmd: RemotingCommand) -> bytes:
    return json_header(cmd.code, cmd.ext_fields, cmd.flag, cmd.language, cmd.opaque, cmd.remark, cmd.version)


def _int_field(header: dict[str, Any], name: str, required: bool = False) -> int:
    value = header.get(name)
    if type(value) is int and -0x80000000 <= value <= 0x7FFFFFFF:
        return value
    if value is None:
        if required:
            raise ProtocolError(f"JSON header has no {name}")
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ProtocolError(f"JSON header field {name} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise ProtocolError(f"JSON header field {name} is not an integer") from None
    if not -(2**31) <= number < 2**31:
        raise ProtocolError(f"JSON header field {name} is out of int32 range")
    return number


_ONLY_STR = {str}


def _string_map(value: Any) -> dict[str, str] | None:
    """extFields: every value becomes a string (C++ sends numbers; section 1.8)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError("extFields is not an object")
    if set(map(type, value.values())) == _ONLY_STR:  # the usual case: already strings
        return value
    fields: dict[str, str] = {}
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, str):
            fields[key] = item
        elif isinstance(item, bool):
            fields[key] = "true" if item else "false"
        elif isinstance(item, (int, float)):
            fields[key] = str(item)
        else:
            fields[key] = orjson.dumps(item).decode()
    return fields


# -------------------------------------------------------------------------------- ROCKETMQ binary

def encode_binary_header(cmd: RemotingCommand) -> bytes:
    remark = cmd.remark.encode() if cmd.remark else b""
    fields = bytearray()
    for key, value in (cmd.ext_fields or {}).items():
        if key is None or value is None:
            continue
        key_bytes = key.encode()
        value_bytes = value.encode()
        fields += _SHORT.pack(len(key_bytes)) + key_bytes + _INT.pack(len(value_bytes)) + value_bytes
    return b"".join((
        _BINARY_FIXED.pack(cmd.code, LANGUAGE_ORDINALS.get(cmd.language, 7), cmd.version, cmd.opaque, cmd.flag),
        _INT.pack(len(remark)), remark, _INT.pack(len(fields)), bytes(fields),
    ))


def decode_binary_header(data: bytes | memoryview) -> RemotingCommand:
    view = memoryview(data)
    if len(view) < _BINARY_FIXED.size + 8:
        raise ProtocolError("binary header too short")
    code, language, version, opaque, flag = _BINARY_FIXED.unpack_from(view, 0)
    pos = _BINARY_FIXED.size
    remark_bytes, pos = _read_sized(view, pos, 4, "remark")
    fields_bytes, pos = _read_sized(view, pos, 4, "extFields")
    if pos != len(view):
        raise ProtocolError("binary header has trailing bytes")
    try:
        remark = remark_bytes.decode() if remark_bytes else None
        fields = _decode_binary_fields(memoryview(fields_bytes)) if fields_bytes else None
    except UnicodeDecodeError:
        raise ProtocolError("binary header has invalid UTF-8") from None
    return RemotingCommand(
        code=code, language=LANGUAGES[language] if language < len(LANGUAGES) else "OTHER",
        version=version, opaque=opaque, flag=flag, remark=remark, ext_fields=fields,
        serialize_type=SerializeType.ROCKETMQ,
    )


def _read_sized(view: memoryview, pos: int, width: int, what: str) -> tuple[bytes, int]:
    if pos + width > len(view):
        raise ProtocolError(f"binary header truncated at {what} length")
    size = (_INT if width == 4 else _SHORT).unpack_from(view, pos)[0]
    pos += width
    if size < 0 or pos + size > len(view):
        raise ProtocolError(f"binary header {what} length {size} out of range")
    return bytes(view[pos:pos + size]), pos + size


def _decode_binary_fields(view: memoryview) -> dict[str, str]:
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(view):
        key, pos = _read_sized(view, pos, 2, "extFields key")
        value, pos = _read_sized(view, pos, 4, "extFields value")
        if key and value:
            fields[key.decode()] = value.decode()
    return fields


# ----------------------------------------------------------------------------------------- frames

def body_length(body: Any) -> int:
    if body is None:
        return 0
    if isinstance(body, (bytes, bytearray, memoryview)):
        return memoryview(body).nbytes
    return sum(memoryview(part).nbytes for part in body)


def encode_frame(cmd: RemotingCommand) -> list[Buffer]:
    """The frame as a list of buffers (prefix+header first, then the body parts, not copied)."""
    body = cmd.body
    size = body_length(body)
    if cmd.serialize_type == SerializeType.ROCKETMQ:
        header = encode_binary_header(cmd)
        head = _FRAME_PREFIX.pack(4 + len(header) + size, (int(SerializeType.ROCKETMQ) << 24) | len(header)) + header
    else:
        head = json_frame_head(size, cmd.code, cmd.ext_fields, cmd.flag, cmd.language, cmd.opaque, cmd.remark,
                               cmd.version)
    if body is None:
        return [head]
    if isinstance(body, (bytes, bytearray, memoryview)):
        return [head, body]
    return [head, *body]


def encode_frame_bytes(cmd: RemotingCommand) -> bytes:
    return b"".join(bytes(part) for part in encode_frame(cmd))


def decode_header(serialize_type: int, data: bytes | memoryview) -> RemotingCommand:
    if serialize_type == SerializeType.JSON:
        return decode_json_header(data)
    if serialize_type == SerializeType.ROCKETMQ:
        return decode_binary_header(data)
    raise ProtocolError(f"unknown serialize type {serialize_type}")


class FrameDecoder:
    """Incremental decoder: ``feed`` bytes as they arrive, then take commands with ``next_command``
    until it returns None. Raises ``ProtocolError`` on a malformed frame; the decoder is then
    unusable and the connection must be closed."""

    __slots__ = ("_buffer", "_pos", "max_frame_length")

    def __init__(self, max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self.max_frame_length = max_frame_length

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos and self._pos == len(self._buffer):
            self._buffer.clear()
            self._pos = 0
        elif self._pos > 65536 and self._pos * 2 > len(self._buffer):
            del self._buffer[:self._pos]
            self._pos = 0
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a command (a half-sent frame)."""
        return len(self._buffer) - self._pos

    def next_command(self) -> RemotingCommand | None:
        buffer = self._buffer
        pos = self._pos
        available = len(buffer) - pos
        if available < 4:
            return None
        length = _INT.unpack_from(buffer, pos)[0]
        if length < 4 or length > self.max_frame_length:
            raise ProtocolError(f"frame length {length} outside 4..{self.max_frame_length}")
        if available < 4 + length:
            return None
        mark = _INT.unpack_from(buffer, pos + 4)[0] & 0xFFFFFFFF
        serialize_type = mark >> 24
        header_length = mark & 0xFFFFFF
        if header_length > length - 4:
            raise ProtocolError(f"header length {header_length} exceeds frame length {length}")
        header_start = pos + 8
        body_start = header_start + header_length
        end = pos + 4 + length
        cmd = decode_header(serialize_type, bytes(buffer[header_start:body_start]))
        if end > body_start:
            cmd.body = bytes(buffer[body_start:end])
        self._pos = end
        return cmd
