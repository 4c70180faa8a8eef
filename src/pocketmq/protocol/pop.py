"""POP consumption's wire parts (RocketMQ 5, RIP-19): the request and response headers of
POP_MESSAGE (200050), ACK_MESSAGE (200051) and CHANGE_MESSAGE_INVISIBLETIME (200053) with
upstream's field names, the ``extraInfo`` string a popped message is acknowledged with (upstream
ExtraInfoUtil: ``ckQueueOffset popTime invisibleTime reviveQid retry brokerName queueId
queueOffset``, space separated), the start/message offset infos of a pop response, and the POP
retry topic's name."""

from __future__ import annotations

from dataclasses import dataclass

from pocketmq.remoting.header import Int32

RETRY_PREFIX = "%RETRY%"
NORMAL_TOPIC, RETRY_TOPIC, RETRY_TOPIC_V2 = "0", "1", "2"
INIT_MODE_MIN, INIT_MODE_MAX = 0, 1


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


def parse_offset_info(text: str | None) -> dict[str, str]:
    """``{"retry@queueId": value}``; ValueError when malformed."""
    out: dict[str, str] = {}
    for item in filter(None, (text or "").split(";")):
        parts = item.split(" ")
        if len(parts) != 3:
            raise ValueError(f"illegal offset info {item!r}")
        out[f"{parts[0]}@{parts[1]}"] = parts[2]
    return out
