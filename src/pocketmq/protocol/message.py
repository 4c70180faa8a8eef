"""Message model and the stored-entry encoding (reference sections 4.1-4.7).

Owns: the byte layout of one commit-log entry (which is also what pull/query/view responses
carry), its encoder (writing straight into a buffer such as an mmap) and decoder (``MessageExt``),
the properties string, the batch body of SEND_BATCH_MESSAGE, sysFlag bits, well-known property
keys, Java ``String.hashCode`` for tagsCode, and the masked body CRC.
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import struct
import zlib
from operator import mul
from typing import Any, Iterator

# ---------------------------------------------------------------- magic codes (4.1)
MESSAGE_MAGIC_CODE = -626843481  # 0xDAA320A7
MESSAGE_MAGIC_CODE_V2 = -626843477  # 0xDAA320AB, upstream 5: a two-byte topic length
BLANK_MAGIC_CODE = -875286124  # 0xCBD43194
END_FILE_MIN_BLANK_LENGTH = 8

MAX_TOPIC_LENGTH = 127  # in a version-1 entry (one signed byte); longer topics make version-2 entries
MAX_TOPIC_LENGTH_V2 = 32767  # a version-2 entry's two-byte topic length
MAX_STORED_TOPIC_LENGTH = 255  # a topic names its consume-queue folder: the file-name limit
MAX_PROPERTIES_LENGTH = 32767

# ---------------------------------------------------------------- sysFlag bits (4.2)
COMPRESSED_FLAG = 0x1
MULTI_TAGS_FLAG = 0x2
TRANSACTION_NOT_TYPE = 0x0
TRANSACTION_PREPARED_TYPE = 0x4
TRANSACTION_COMMIT_TYPE = 0x8
TRANSACTION_ROLLBACK_TYPE = 0xC
TRANSACTION_TYPE_MASK = 0xC
BORNHOST_V6_FLAG = 0x10
STOREHOSTADDRESS_V6_FLAG = 0x20
NEED_UNWRAP_FLAG = 0x40
INNER_BATCH_FLAG = 0x80
COMPRESSION_TYPE_MASK = 0x700
COMPRESSION_LZ4 = 0x100
COMPRESSION_ZSTD = 0x200
COMPRESSION_ZLIB = 0x300


def transaction_type(sys_flag: int) -> int:
    return sys_flag & TRANSACTION_TYPE_MASK


# ---------------------------------------------------------------- property keys (4.4)
PROPERTY_KEYS = "KEYS"
PROPERTY_TAGS = "TAGS"
PROPERTY_WAIT_STORE_MSG_OK = "WAIT"
PROPERTY_DELAY_TIME_LEVEL = "DELAY"
PROPERTY_TIMER_DELIVER_MS = "TIMER_DELIVER_MS"
PROPERTY_TIMER_DELAY_SEC = "TIMER_DELAY_SEC"
PROPERTY_TIMER_DELAY_MS = "TIMER_DELAY_MS"
PROPERTY_RETRY_TOPIC = "RETRY_TOPIC"
PROPERTY_REAL_TOPIC = "REAL_TOPIC"
PROPERTY_REAL_QUEUE_ID = "REAL_QID"
PROPERTY_TRANSACTION_PREPARED = "TRAN_MSG"
PROPERTY_PRODUCER_GROUP = "PGROUP"
PROPERTY_MIN_OFFSET = "MIN_OFFSET"
PROPERTY_MAX_OFFSET = "MAX_OFFSET"
PROPERTY_BUYER_ID = "BUYER_ID"
PROPERTY_ORIGIN_MESSAGE_ID = "ORIGIN_MESSAGE_ID"
PROPERTY_TRANSFER_FLAG = "TRANSFER_FLAG"
PROPERTY_CORRECTION_FLAG = "CORRECTION_FLAG"
PROPERTY_MQ2_FLAG = "MQ2_FLAG"
PROPERTY_RECONSUME_TIME = "RECONSUME_TIME"
PROPERTY_MSG_REGION = "MSG_REGION"
PROPERTY_TRACE_SWITCH = "TRACE_ON"
PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX = "UNIQ_KEY"
PROPERTY_MAX_RECONSUME_TIMES = "MAX_RECONSUME_TIMES"
PROPERTY_CONSUME_START_TIMESTAMP = "CONSUME_START_TIME"
PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET = "TRAN_PREPARED_QUEUE_OFFSET"
PROPERTY_TRANSACTION_CHECK_TIMES = "TRANSACTION_CHECK_TIMES"
PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS = "CHECK_IMMUNITY_TIME_IN_SECONDS"
PROPERTY_INSTANCE_ID = "INSTANCE_ID"
PROPERTY_CORRELATION_ID = "CORRELATION_ID"
PROPERTY_MESSAGE_REPLY_TO_CLIENT = "REPLY_TO_CLIENT"
PROPERTY_MESSAGE_TTL = "TTL"
PROPERTY_REPLY_MESSAGE_ARRIVE_TIME = "ARRIVE_TIME"
PROPERTY_PUSH_REPLY_TIME = "PUSH_REPLY_TIME"
PROPERTY_CLUSTER = "CLUSTER"
PROPERTY_MESSAGE_TYPE = "MSG_TYPE"
PROPERTY_INNER_MULTI_DISPATCH = "INNER_MULTI_DISPATCH"
PROPERTY_INNER_MULTI_QUEUE_OFFSET = "INNER_MULTI_QUEUE_OFFSET"
PROPERTY_TRANSACTION_ID = "__transactionId__"
PROPERTY_POP_CK = "POP_CK"
PROPERTY_FIRST_POP_TIME = "1ST_POP_TIME"
KEY_SEPARATOR = " "

NAME_VALUE_SEPARATOR = "\u0001"
PROPERTY_SEPARATOR = "\u0002"


# ---------------------------------------------------------------- properties string (4.3)
def properties_to_string(properties: dict[str, str] | None) -> str:
    """4.9.x style: ``k\\u0001v\\u0002k\\u0001v`` with no trailing separator."""
    if not properties:
        return ""
    return PROPERTY_SEPARATOR.join(map(NAME_VALUE_SEPARATOR.join, properties.items()))


def string_to_properties(text: str | None) -> dict[str, str]:
    """Parse a properties string, with or without trailing ``\\u0002``; pairs with an empty
    name or value are dropped, as the 4.9.x parser does."""
    result: dict[str, str] = {}
    if not text:
        return result
    for item in text.split(PROPERTY_SEPARATOR):
        name, sep, value = item.partition(NAME_VALUE_SEPARATOR)
        if sep and name and value:
            result[name] = value
    return result


def property_from_string_py(text: str, name: str) -> str | None:
    """One property's value straight from a properties string, without building a dict: the
    first item so named, None when there is none or its value is empty."""
    key = name + NAME_VALUE_SEPARATOR
    start = 0
    while True:
        i = text.find(key, start)
        if i < 0:
            return None
        if i == 0 or text[i - 1] == PROPERTY_SEPARATOR:
            begin = i + len(key)
            end = text.find(PROPERTY_SEPARATOR, begin)
            value = text[begin:] if end < 0 else text[begin:end]
            return value or None
        start = i + 1


try:  # compiled (pocketmq/_speedups.c): read three times per send
    from pocketmq._speedups import property_from_string as property_from_string
except ImportError:  # pragma: no cover - the extension is optional at install
    property_from_string = property_from_string_py


# ---------------------------------------------------------------- hashes and CRC (4.6, 4.7)
_POW31 = [1]
for _ in range(4096):
    _POW31.append((_POW31[-1] * 31) & 0xFFFFFFFF)


def java_string_hash_py(text: str) -> int:
    """Java ``String.hashCode()``: over UTF-16 code units, signed 32-bit."""
    if text.isascii():
        units = text.encode("ascii")[::-1]
    else:
        raw = text.encode("utf-16-be")
        units = struct.unpack(f">{len(raw) // 2}H", raw)[::-1]
    if len(units) <= len(_POW31):
        value = sum(map(mul, units, _POW31)) & 0xFFFFFFFF
    else:
        value = 0
        for unit in units[::-1]:
            value = (value * 31 + unit) & 0xFFFFFFFF
    return value - 0x100000000 if value & 0x80000000 else value


try:  # the compiled version (pocketmq/_speedups.c) when the install could build it: ~20x faster
    from pocketmq._speedups import java_string_hash as java_string_hash
except ImportError:  # pragma: no cover - the extension is optional
    java_string_hash = java_string_hash_py


@functools.lru_cache(maxsize=8192)
def tags_string_to_tags_code(tags: str | None) -> int:
    """tagsCode of a TAGS value (0 when there is no tag)."""
    if not tags:
        return 0
    return java_string_hash(tags)


def body_crc(body: bytes | bytearray | memoryview) -> int:
    """BODYCRC as stored: zlib CRC32 masked with 0x7FFFFFFF."""
    return zlib.crc32(body) & 0x7FFFFFFF


# ---------------------------------------------------------------- hosts
def is_ipv6(ip: str) -> bool:
    return ":" in ip


@functools.lru_cache(maxsize=4096)
def pack_ip(ip: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if is_ipv6(ip) else socket.AF_INET, ip)


def unpack_ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def host_flags(born_ip: str, store_ip: str) -> int:
    flags = 0
    if is_ipv6(born_ip):
        flags |= BORNHOST_V6_FLAG
    if is_ipv6(store_ip):
        flags |= STOREHOSTADDRESS_V6_FLAG
    return flags


# ---------------------------------------------------------------- entry layout (4.1)
# Header = every fixed field from TOTALSIZE through BODYLENGTH; body, topic and properties follow.
def _header_struct(born_v6: bool, store_v6: bool) -> struct.Struct:
    born = "16si" if born_v6 else "4si"
    store = "16si" if store_v6 else "4si"
    return struct.Struct(">iiiiiqqiq" + born + "q" + store + "iqi")


HEADER_STRUCTS: dict[int, struct.Struct] = {
    0: _header_struct(False, False),
    BORNHOST_V6_FLAG: _header_struct(True, False),
    STOREHOSTADDRESS_V6_FLAG: _header_struct(False, True),
    BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG: _header_struct(True, True),
}
HOST_FLAGS_MASK = BORNHOST_V6_FLAG | STOREHOSTADDRESS_V6_FLAG
INT = struct.Struct(">i")
SHORT = struct.Struct(">h")
LONG = struct.Struct(">q")
BLANK = struct.Struct(">ii")
SYSFLAG_POS = 36
PHYSICAL_OFFSET_POS = 28
QUEUE_OFFSET_POS = 20


def header_struct(sys_flag: int) -> struct.Struct:
    return HEADER_STRUCTS[sys_flag & HOST_FLAGS_MASK]


def entry_length(sys_flag: int, body_len: int, topic_len: int, properties_len: int) -> int:
    """TOTALSIZE of an entry (91 + n + t + p for IPv4/IPv4; +12 per IPv6 host; +1 for a
    version-2 entry's topic length)."""
    return header_struct(sys_flag).size + body_len + topic_length_size(topic_len) + topic_len + 2 + properties_len


def topic_length_size(topic_len: int) -> int:
    """Bytes of an entry's topic length field: upstream 5 (autoMessageVersionOnTopicLen, on by
    default) writes a version-2 entry, with a two-byte field, for a topic over 127 bytes, such as
    the POP retry topic of a long group and topic (``%RETRY%<group>_<topic>``)."""
    return 1 if topic_len <= MAX_TOPIC_LENGTH else 2


def topic_span(buf: Any, pos: int, magic: int) -> tuple[int, int]:
    """Where an entry's topic lies, given where its length field is: (start, end). The field is
    two bytes in a version-2 entry, one otherwise."""
    if magic == MESSAGE_MAGIC_CODE_V2:
        return pos + 2, pos + 2 + SHORT.unpack_from(buf, pos)[0]
    return pos + 1, pos + 1 + buf[pos]


def write_entry_py(buffer: Any, pos: int, body_crc: int, queue_id: int, flag: int, queue_offset: int,
                   physical_offset: int, sys_flag: int, born_timestamp: int, born_ip: bytes, born_port: int,
                   store_timestamp: int, store_ip: bytes, store_port: int, reconsume_times: int,
                   prepared_transaction_offset: int, body: Any, topic: bytes, properties: bytes) -> int:
    """Write one whole entry (section 4.1) at ``pos`` of a writable buffer; returns TOTALSIZE.
    The host widths come from the packed addresses (4 or 16 bytes), which ``sys_flag`` must
    agree with. TOTALSIZE is written last, so a reader never sees a size without its entry."""
    header = HEADER_STRUCTS[(BORNHOST_V6_FLAG if len(born_ip) == 16 else 0)
                            | (STOREHOSTADDRESS_V6_FLAG if len(store_ip) == 16 else 0)]
    body_length = len(body)
    v1 = len(topic) <= MAX_TOPIC_LENGTH
    total = header.size + body_length + (3 if v1 else 4) + len(topic) + len(properties)
    if len(topic) > MAX_TOPIC_LENGTH_V2 or len(properties) > MAX_PROPERTIES_LENGTH or pos < 0 \
            or pos + total > len(buffer):
        raise ValueError("entry does not fit: topic, properties or buffer too small")
    header.pack_into(buffer, pos, 0, MESSAGE_MAGIC_CODE if v1 else MESSAGE_MAGIC_CODE_V2, body_crc, queue_id, flag,
                     queue_offset, physical_offset, sys_flag, born_timestamp, born_ip, born_port,
                     store_timestamp, store_ip, store_port, reconsume_times, prepared_transaction_offset,
                     body_length)
    p = pos + header.size
    end = p + body_length
    buffer[p:end] = body
    if v1:
        buffer[end] = len(topic)
        end += 1
    else:
        SHORT.pack_into(buffer, end, len(topic))
        end += 2
    p = end + len(topic)
    buffer[end:p] = topic
    SHORT.pack_into(buffer, p, len(properties))
    buffer[p + 2:p + 2 + len(properties)] = properties
    INT.pack_into(buffer, pos, total)
    return total


try:  # compiled (pocketmq/_speedups.c): one call instead of a dozen packs and slice copies
    from pocketmq._speedups import write_entry as write_entry
except ImportError:  # pragma: no cover - the extension is optional
    write_entry = write_entry_py


def store_timestamp_position(sys_flag: int) -> int:
    return 56 if not sys_flag & BORNHOST_V6_FLAG else 68


@dataclasses.dataclass(slots=True)
class MessageExt:
    """A decoded stored entry (upstream MessageExt / MessageDecoder.decode)."""

    store_size: int
    body_crc: int
    queue_id: int
    flag: int
    queue_offset: int
    commit_log_offset: int
    sys_flag: int
    born_timestamp: int
    born_host: tuple[str, int]
    store_timestamp: int
    store_host: tuple[str, int]
    reconsume_times: int
    prepared_transaction_offset: int
    body: bytes
    topic: str
    properties: dict[str, str]
    msg_id: str
    magic_code: int = MESSAGE_MAGIC_CODE

    @property
    def tags(self) -> str | None:
        return self.properties.get(PROPERTY_TAGS)

    @property
    def keys(self) -> str | None:
        return self.properties.get(PROPERTY_KEYS)

    @property
    def uniq_key(self) -> str | None:
        return self.properties.get(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)


class MessageDecodeError(ValueError):
    """Bytes that are not a well-formed stored entry."""


def decode_message(buf, pos: int = 0, *, read_body: bool = True, decompress: bool = False) -> MessageExt:
    """Decode the entry at ``buf[pos:]`` (bytes, bytearray, memoryview or mmap)."""
    from pocketmq.protocol.message_id import create_offset_message_id

    if len(buf) - pos < 91:
        raise MessageDecodeError("entry shorter than the fixed header")
    sys_flag = INT.unpack_from(buf, pos + SYSFLAG_POS)[0]
    header = header_struct(sys_flag)
    (total, magic, crc, queue_id, flag, queue_offset, phy, sys_flag, born_ts, born_ip, born_port,
     store_ts, store_ip, store_port, reconsume, prepared, body_len) = header.unpack_from(buf, pos)
    if magic not in (MESSAGE_MAGIC_CODE, MESSAGE_MAGIC_CODE_V2):
        raise MessageDecodeError(f"bad magic code {magic:#x}")
    if total > len(buf) - pos or body_len < 0:
        raise MessageDecodeError("entry truncated")
    p = pos + header.size
    body = bytes(buf[p : p + body_len]) if read_body else b""
    if read_body and decompress and sys_flag & COMPRESSED_FLAG:
        body = zlib.decompress(body)
    start, p = topic_span(buf, p + body_len, magic)
    topic = bytes(buf[start:p]).decode("utf-8")
    props_len = SHORT.unpack_from(buf, p)[0]
    p += 2
    properties = string_to_properties(bytes(buf[p : p + props_len]).decode("utf-8"))
    if p + props_len - pos != total:
        raise MessageDecodeError(f"entry length {total} does not match its fields")
    store_host = (unpack_ip(store_ip), store_port)
    return MessageExt(
        store_size=total, body_crc=crc, queue_id=queue_id, flag=flag, queue_offset=queue_offset,
        commit_log_offset=phy, sys_flag=sys_flag, born_timestamp=born_ts,
        born_host=(unpack_ip(born_ip), born_port), store_timestamp=store_ts, store_host=store_host,
        reconsume_times=reconsume, prepared_transaction_offset=prepared, body=body, topic=topic,
        properties=properties, msg_id=create_offset_message_id(store_host[0], store_port, phy),
        magic_code=magic,
    )


def decode_messages(buf, *, read_body: bool = True, decompress: bool = False) -> list[MessageExt]:
    """Decode a concatenation of entries (a pull or query response body)."""
    result: list[MessageExt] = []
    pos = 0
    view = memoryview(buf)
    while pos < len(view):
        msg = decode_message(view, pos, read_body=read_body, decompress=decompress)
        result.append(msg)
        pos += msg.store_size
    return result


def encode_message(
    *,
    topic: str,
    body: bytes,
    queue_id: int = 0,
    flag: int = 0,
    queue_offset: int = 0,
    physical_offset: int = 0,
    sys_flag: int = 0,
    born_timestamp: int = 0,
    born_host: tuple[str, int] = ("127.0.0.1", 0),
    store_timestamp: int = 0,
    store_host: tuple[str, int] = ("127.0.0.1", 10911),
    reconsume_times: int = 0,
    prepared_transaction_offset: int = 0,
    properties: dict[str, str] | str | None = None,
) -> bytes:
    """Encode one stored entry into new bytes (convenience for tests and tools)."""
    props = properties if isinstance(properties, str) else properties_to_string(properties)
    props_b = props.encode("utf-8")
    topic_b = topic.encode("utf-8")
    sys_flag = (sys_flag & ~HOST_FLAGS_MASK) | host_flags(born_host[0], store_host[0])
    buf = bytearray(entry_length(sys_flag, len(body), len(topic_b), len(props_b)))
    write_entry_py(buf, 0, body_crc(body), queue_id, flag, queue_offset, physical_offset, sys_flag,
                   born_timestamp, pack_ip(born_host[0]), born_host[1], store_timestamp,
                   pack_ip(store_host[0]), store_host[1], reconsume_times, prepared_transaction_offset,
                   body, topic_b, props_b)
    return bytes(buf)


# ---------------------------------------------------------------- messages to store
@dataclasses.dataclass(slots=True)
class MessageExtBrokerInner:
    """A message handed to the store (upstream MessageExtBrokerInner).

    Give ``properties`` as a dict or ``properties_string`` pre-encoded (the string wins when both
    are set). ``tags_code`` is the consume-queue tag hash (``tags_string_to_tags_code``)."""

    topic: str
    body: bytes
    queue_id: int = 0
    flag: int = 0
    properties: dict[str, str] | None = None
    properties_string: str | None = None
    sys_flag: int = 0
    born_timestamp: int = 0
    born_host: tuple[str, int] = ("127.0.0.1", 0)
    reconsume_times: int = 0
    prepared_transaction_offset: int = 0
    tags_code: int = 0

    def get_properties(self) -> dict[str, str]:
        if self.properties is None:
            self.properties = string_to_properties(self.properties_string)
        return self.properties

    def get_property(self, name: str) -> str | None:
        return self.get_properties().get(name)

    def put_property(self, name: str, value: str) -> None:
        self.get_properties()[name] = value
        self.properties_string = None

    def encoded_properties(self) -> str:
        if self.properties_string is None:
            self.properties_string = properties_to_string(self.properties)
        return self.properties_string

    @property
    def keys(self) -> str | None:
        return self.get_property(PROPERTY_KEYS)

    @property
    def tags(self) -> str | None:
        return self.get_property(PROPERTY_TAGS)

    @property
    def wait_store_msg_ok(self) -> bool:
        if self.properties is None:  # asked of every SYNC_FLUSH / SYNC_MASTER put: no dict for one key
            return property_from_string(self.properties_string or "", PROPERTY_WAIT_STORE_MSG_OK) != "false"
        return self.properties.get(PROPERTY_WAIT_STORE_MSG_OK) != "false"


# ---------------------------------------------------------------- batch body (4.5)
_BATCH_HEAD = struct.Struct(">iiiii")


@dataclasses.dataclass(slots=True)
class BatchRecord:
    """One message of a SEND_BATCH_MESSAGE body."""

    body: bytes
    properties: str = ""
    flag: int = 0


def decode_batch_body(data: bytes | memoryview) -> list[BatchRecord]:
    """Split a batch body into its records; raises MessageDecodeError on malformed input."""
    return list(iter_batch_body(data))


def iter_batch_body(data: bytes | memoryview) -> Iterator[BatchRecord]:
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        if len(view) - pos < _BATCH_HEAD.size + 2:
            raise MessageDecodeError("batch record truncated")
        total, _magic, _crc, flag, body_len = _BATCH_HEAD.unpack_from(view, pos)
        p = pos + _BATCH_HEAD.size
        if body_len < 0 or p + body_len + 2 > len(view):
            raise MessageDecodeError("batch record body truncated")
        body = bytes(view[p : p + body_len])
        p += body_len
        props_len = SHORT.unpack_from(view, p)[0]
        p += 2
        if props_len < 0 or p + props_len > len(view) or p + props_len - pos != total:
            raise MessageDecodeError("batch record length mismatch")
        props = bytes(view[p : p + props_len]).decode("utf-8")
        yield BatchRecord(body=body, properties=props, flag=flag)
        pos = p + props_len


def encode_batch_body(records: list[BatchRecord]) -> bytes:
    out = bytearray()
    for record in records:
        props = record.properties.encode("utf-8")
        total = _BATCH_HEAD.size + len(record.body) + 2 + len(props)
        out += _BATCH_HEAD.pack(total, 0, 0, record.flag, len(record.body))
        out += record.body
        out += SHORT.pack(len(props))
        out += props
    return bytes(out)
