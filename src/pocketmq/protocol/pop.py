"""POP consumption's wire parts (RocketMQ 5, RIP-19): the request and response headers of
POP_MESSAGE (200050), ACK_MESSAGE (200051), PEEK_MESSAGE (200052), CHANGE_MESSAGE_INVISIBLETIME
(200053), NOTIFICATION (200054) and POLLING_INFO (200055) with upstream's field names, the body of
BATCH_ACK_MESSAGE (200151: ``{"acks":[{"c","t","r","so","q","rq","pt","it","b"}],"brokerName"}``,
``b`` a java.util.BitSet's little-endian bytes in base64: bit i acks ``so + i``), the ``extraInfo`` string a popped message is acknowledged with (upstream
ExtraInfoUtil: ``ckQueueOffset popTime invisibleTime reviveQid retry brokerName queueId
queueOffset``, space separated), the start/message offset infos of a pop response, and the POP
retry topic's name."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from pocketmq.remoting.header import Int32

RETRY_PREFIX = "%RETRY%"
NORMAL_TOPIC, RETRY_TOPIC, RETRY_TOPIC_V2 = "0", "1", "2"
INIT_MODE_MIN, INIT_MODE_MAX = 0, 1
ORDER_REVIVE_QUEUE = 999  # upstream KeyBuilder.POP_ORDER_REVIVE_QUEUE: the reviveQid of an orderly pop
QUEUE_OFFSET = "qo"


@dataclass(slots=True)
class PopMessageRequestHeader:
    consumerGroup: str
    topic: str
    queueId: Int32
    maxMsgNums: Int32
    invisibleTime: int
    pollTime: int
    bornTime: int
    initMode: Int32
    expType: str | None = None
    exp: str | None = None
    order: bool | None = None
    attemptId: str | None = None


@dataclass(slots=True)
class PopMessageResponseHeader:
    popTime: int
    invisibleTime: int
    reviveQid: Int32
    restNum: int
    startOffsetInfo: str | None = None
    msgOffsetInfo: str | None = None
    orderCountInfo: str | None = None


@dataclass(slots=True)
class AckMessageRequestHeader:
    consumerGroup: str
    topic: str
    queueId: Int32
    extraInfo: str
    offset: int


@dataclass(slots=True)
class ChangeInvisibleTimeRequestHeader:
    consumerGroup: str
    topic: str
    queueId: Int32
    extraInfo: str
    offset: int
    invisibleTime: int


@dataclass(slots=True)
class PeekMessageRequestHeader:
    consumerGroup: str
    topic: str
    queueId: Int32
    maxMsgNums: Int32


@dataclass(slots=True)
class NotificationRequestHeader:
    consumerGroup: str
    topic: str
    queueId: Int32
    pollTime: int
    bornTime: int
    order: bool | None = None
    attemptId: str | None = None


@dataclass(slots=True)
class NotificationResponseHeader:
    hasMsg: bool
    pollingFull: bool = False


@dataclass(slots=True)
class PollingInfoRequestHeader:
    consumerGroup: str
    topic: str
    queueId: Int32


@dataclass(slots=True)
class PollingInfoResponseHeader:
    pollingNum: Int32


@dataclass(frozen=True)
class BatchAck:
    """One entry of BATCH_ACK_MESSAGE: the acked offsets of one pop of one queue."""

    consumer_group: str
    topic: str
    retry: str
    start_offset: int
    queue_id: int
    revive_qid: int
    pop_time: int
    invisible_time: int
    offsets: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"c": self.consumer_group, "t": self.topic, "r": self.retry, "so": self.start_offset,
                "q": self.queue_id, "rq": self.revive_qid, "pt": self.pop_time, "it": self.invisible_time,
                "b": encode_bitset([o - self.start_offset for o in self.offsets])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BatchAck":
        """Short keys or upstream's alternate long names; ValueError/KeyError/TypeError when malformed."""
        def get(short: str, long: str) -> Any:
            return data[short] if short in data else data[long]

        start = int(get("so", "startOffset"))
        bits = decode_bitset(str(get("b", "bitSet")))
        return cls(str(get("c", "consumerGroup")), str(get("t", "topic")), str(data.get("r", data.get("retry", "0"))),
                   start, int(get("q", "queueId")), int(get("rq", "reviveQueueId")), int(get("pt", "popTime")),
                   int(get("it", "invisibleTime")), tuple(start + i for i in bits))


def encode_bitset(indexes: list[int]) -> str:
    """java.util.BitSet.toByteArray (little-endian bit order, no trailing zero bytes) as base64,
    as fastjson writes a byte[]."""
    if not indexes:
        return ""
    value = 0
    for i in indexes:
        if i < 0:
            raise ValueError(f"negative bit index {i}")
        value |= 1 << i
    return base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, "little")).decode()


MAX_BITSET_BYTES = 4096  # 32768 offsets: far more than one pop can deliver


def decode_bitset(text: str) -> list[int]:
    raw = base64.b64decode(text, validate=True) if text else b""
    if len(raw) > MAX_BITSET_BYTES:
        raise ValueError("bitSet too large")
    value = int.from_bytes(raw, "little")
    return [i for i in range(value.bit_length()) if value >> i & 1]


@dataclass(slots=True)
class ChangeInvisibleTimeResponseHeader:
    popTime: int
    invisibleTime: int
    reviveQid: Int32


def pop_retry_topic(group: str, topic: str) -> str:
    """Upstream KeyBuilder.buildPopRetryTopicV1: where a group's un-acked messages of a topic go."""
    return f"{RETRY_PREFIX}{group}_{topic}"


def retry_flag(topic: str) -> str:
    if not topic.startswith(RETRY_PREFIX):
        return NORMAL_TOPIC
    return RETRY_TOPIC_V2 if "+" in topic else RETRY_TOPIC


def real_topic(topic: str, group: str, flag: str) -> str:
    """The topic an extraInfo's message was popped from (the retry topic when flagged)."""
    if flag == RETRY_TOPIC:
        return pop_retry_topic(group, topic)
    if flag == RETRY_TOPIC_V2:
        return f"{RETRY_PREFIX}{group}+{topic}"
    return topic


@dataclass(frozen=True)
class ExtraInfo:
    ck_queue_offset: int
    pop_time: int
    invisible_time: int
    revive_qid: int
    retry: str
    broker_name: str
    queue_id: int
    queue_offset: int

    def encode(self) -> str:
        return " ".join(str(v) for v in (self.ck_queue_offset, self.pop_time, self.invisible_time, self.revive_qid,
                                         self.retry, self.broker_name, self.queue_id, self.queue_offset))

    @classmethod
    def decode(cls, text: str) -> "ExtraInfo":
        """Raises ValueError on anything but upstream's eight fields."""
        parts = (text or "").split(" ")
        if len(parts) != 8 or parts[4] not in (NORMAL_TOPIC, RETRY_TOPIC, RETRY_TOPIC_V2) or not parts[5]:
            raise ValueError(f"illegal extraInfo {text!r}")
        return cls(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), parts[4], parts[5], int(parts[6]),
                   int(parts[7]))


def build_offset_info(entries: list[tuple[str, int, str]]) -> str:
    """``retry queueId value;...`` (startOffsetInfo / msgOffsetInfo) from (topic, queueId, value)."""
    return ";".join(f"{retry_flag(topic)} {queue_id} {value}" for topic, queue_id, value in entries)


def build_order_count_info(topic: str, queue_id: int, counts: dict[int, int], minimum: int) -> str:
    """upstream ConsumerOrderInfoManager.update's orderCountInfo: ``retry qo<queueId>%<offset> count``
    per message already delivered before, then ``retry queueId minCount`` for older clients."""
    flag = retry_flag(topic)
    items = [f"{flag} {QUEUE_OFFSET}{queue_id}%{offset} {count}" for offset, count in counts.items()]
    items.append(f"{flag} {queue_id} {minimum}")
    return ";".join(items)


def parse_order_count_info(text: str | None) -> dict[str, int]:
    """``{"retry@qo<queueId>%<offset>": count, "retry@queueId": count}``; ValueError when malformed."""
    return {key: int(value) for key, value in parse_offset_info(text).items()}


def order_count_of(counts: dict[str, int], topic: str, queue_id: int, queue_offset: int) -> int:
    """How many times an orderly popped message was delivered before (its reconsumeTimes)."""
    flag = retry_flag(topic)
    found = counts.get(f"{flag}@{QUEUE_OFFSET}{queue_id}%{queue_offset}")
    if found is None:
        found = counts.get(f"{flag}@{queue_id}", 0)
    return found


def parse_offset_info(text: str | None) -> dict[str, str]:
    """``{"retry@queueId": value}``; ValueError when malformed."""
    out: dict[str, str] = {}
    for item in filter(None, (text or "").split(";")):
        parts = item.split(" ")
        if len(parts) != 3:
            raise ValueError(f"illegal offset info {item!r}")
        out[f"{parts[0]}@{parts[1]}"] = parts[2]
    return out


def retry_message_as_origin(entry: bytes | memoryview, asked_topic: str, receipt: ExtraInfo) -> bytes:
    """Upstream PopMessageProcessor (popResponseReturnActualRetryTopic=false): a message popped
    from the POP retry topic goes back to the client under the topic it asked for, re-encoded,
    with its receipt (extraInfo naming the retry topic) in the ``POP_CK`` property unless it
    carries one already; the client acks with that receipt."""
    from pocketmq.protocol import message as m

    msg = m.decode_message(entry)
    msg.properties.setdefault(m.PROPERTY_POP_CK, receipt.encode())
    return m.encode_message(
        topic=asked_topic, body=msg.body, queue_id=msg.queue_id, flag=msg.flag, queue_offset=msg.queue_offset,
        physical_offset=msg.commit_log_offset, sys_flag=msg.sys_flag, born_timestamp=msg.born_timestamp,
        born_host=msg.born_host, store_timestamp=msg.store_timestamp, store_host=msg.store_host,
        reconsume_times=msg.reconsume_times, prepared_transaction_offset=msg.prepared_transaction_offset,
        properties=msg.properties)
