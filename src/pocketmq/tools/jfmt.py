"""How upstream's mqadmin renders values, so our rows match it character for character.

Owns: Java ``printf`` conventions (``%n``, ``null``, ``true``/``false``), ``UtilAll`` time formats,
``frontStringAtLeast``, Java ``HashMap.toString`` entry order (bucket order of the final table),
``MQVersion`` ordinal names, ``PermName.perm2String``, ``InetSocketAddress.toString`` and the
fastjson ``PrettyFormat`` layout ``topicRoute`` prints. Pure functions, no I/O.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from pocketmq.protocol.message import java_string_hash


def jval(value: Any) -> Any:
    """A printf argument as Java's ``%s`` shows it: ``null``, ``true``/``false``; numbers stay."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value


def jformat(fmt: str, *args: Any) -> str:
    """``String.format`` for the subset mqadmin uses (``%-16s``, ``%d``, ``%.2f``, ``%n``)."""
    return fmt.replace("%n", "\n") % tuple(jval(a) for a in args)


def front(text: str | None, size: int) -> str | None:
    """UtilAll.frontStringAtLeast: at most ``size`` characters."""
    if text is not None and len(text) > size:
        return text[:size]
    return text


def human_time2(ms: int) -> str:
    """UtilAll.timeMillisToHumanString2: ``yyyy-MM-dd HH:mm:ss,SSS`` in local time."""
    t = time.localtime(ms / 1000.0)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f",{ms % 1000:03d}"


def format_date(ms: int) -> str:
    """UtilAll.formatDate(date, "yyyy-MM-dd HH:mm:ss")."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000.0))


def parse_timestamp(value: str) -> int:
    """A timestamp option: milliseconds, or ``yyyy-MM-dd#HH:mm:ss:SSS`` (local time). Anything
    else raises ``ValueError`` saying which forms are accepted (upstream fails there too)."""
    value = value.strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        date, _, rest = value.partition("#")
        hms, _, millis = rest.rpartition(":")
        t = time.strptime(f"{date} {hms}", "%Y-%m-%d %H:%M:%S")
        return int(time.mktime(t)) * 1000 + int(millis)
    except (ValueError, OverflowError):
        raise ValueError(f"bad timestamp {value!r}: give milliseconds since the epoch or "
                         "yyyy-MM-dd#HH:mm:ss:SSS") from None


def perm_to_string(perm: int) -> str:
    return ("R" if perm & 4 else "-") + ("W" if perm & 2 else "-") + ("X" if perm & 1 else "-")


def socket_addr(host: tuple[str, int] | None) -> str:
    """InetSocketAddress.toString() of a resolved address: ``/ip:port``."""
    if host is None:
        return "null"
    return f"/{host[0]}:{host[1]}"


def host_port(host: tuple[str, int]) -> str:
    """RemotingHelper.parseSocketAddressAddr: ``ip:port``."""
    return f"{host[0]}:{host[1]}"


# ------------------------------------------------------------------------------- HashMap order
def hashmap_order(keys: Iterable[Any], hash_fn: Any = None) -> list[Any]:
    """The order ``java.util.HashMap`` iterates String keys inserted in the given order: bucket
    index in the final table (16 doubled while size > 0.75 * capacity), insertion order within a
    bucket (resizes keep relative order). Trees (8+ keys in one bucket) are not modelled."""
    keys = list(dict.fromkeys(keys))
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2

    hash_fn = hash_fn or java_string_hash

    def bucket(key: Any) -> int:
        h = hash_fn(key) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)


def mq_hash(mq: Any) -> int:
    """MessageQueue.hashCode (31-based over brokerName, queueId, topic; int32 arithmetic)."""
    result = 31 + java_string_hash(mq.brokerName)
    result = (31 * result + mq.queueId) & 0xFFFFFFFF
    return (31 * result + java_string_hash(mq.topic)) & 0xFFFFFFFF


def mq_order(mqs: Iterable[Any]) -> list[Any]:
    """HashSet<MessageQueue> / HashMap<MessageQueue, ...> iteration order."""
    return hashmap_order(mqs, mq_hash)


def hashmap_str(mapping: dict[str, Any]) -> str:
    """AbstractMap.toString of a HashMap<String, String>: ``{k=v, k2=v2}``."""
    return "{" + ", ".join(f"{k}={jval(mapping[k])}" for k in hashmap_order(mapping)) + "}"


def java_bytes(data: bytes) -> str:
    """Arrays.toString(byte[]): signed bytes."""
    return "[" + ", ".join(str(b - 256 if b > 127 else b) for b in data) + "]"


# ------------------------------------------------------------------------------- MQVersion
from pocketmq.protocol.version import VERSION_NAMES, version_desc  # noqa: E402,F401  (re-exported)


# ------------------------------------------------------------------------------- fastjson
def fastjson_pretty(value: Any) -> str:
    """``JSON.toJSONString(obj, PrettyFormat)`` as fastjson 1.2 lays it out: tab indents, ``":"``
    without spaces, objects and lists one entry a line, and maps (here: a dict whose keys are
    ints) written inline-first with unquoted numeric keys (``{0:"a",\\n\\t\\t\\t1:"b"\\n\\t\\t\\t}``).
    Dicts with string keys are treated as beans (keys sorted)."""
    return _pretty(value, 0)


def _scalar(value: Any) -> str:
    import orjson

    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return orjson.dumps(value).decode()


def _pretty(value: Any, indent: int) -> str:
    tabs = "\t" * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        if all(isinstance(k, int) and not isinstance(k, bool) for k in value):  # a Map<Long, String>
            parts = []
            for i, (k, v) in enumerate(value.items()):
                parts.append(("" if i == 0 else "," + "\n" + tabs) + f"{k}:{_pretty(v, indent + 1)}")
            return "{" + "".join(parts) + "\n" + "\t" * indent + "}"
        items = [f"{tabs}{_scalar(str(k))}:{_pretty(value[k], indent + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + "\t" * indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [tabs + _pretty(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "\t" * indent + "]"
    return _scalar(value)
