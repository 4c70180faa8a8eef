"""JSON bodies exchanged between clients and brokers (reference 3.5, 3.8, 3.10, 3.11):
MessageQueue, SubscriptionData, HeartbeatData, lock/unlock batch bodies, consumer lists,
TopicStatsTable, ConsumeStats, ResetOffsetBody, SubscriptionGroupConfig, connection lists,
ConsumerRunningInfo.

Field names are upstream's (fastjson, sorted keys). Each type has ``to_dict`` / ``from_dict``;
maps keyed by a MessageQueue use ``fastjson.ObjectKey`` so ``fastjson.dumps`` writes them the
way Java does and ``fastjson.loads`` reads them back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pocketmq.protocol import fastjson
from pocketmq.protocol.message import java_string_hash

SUB_ALL = "*"
EXPRESSION_TAG = "TAG"
EXPRESSION_SQL92 = "SQL92"

CONSUME_ACTIVELY = "CONSUME_ACTIVELY"
CONSUME_PASSIVELY = "CONSUME_PASSIVELY"
CLUSTERING = "CLUSTERING"
BROADCASTING = "BROADCASTING"

CONSUME_FROM_WHERE = (
    "CONSUME_FROM_LAST_OFFSET",
    "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
    "CONSUME_FROM_MIN_OFFSET",
    "CONSUME_FROM_MAX_OFFSET",
    "CONSUME_FROM_FIRST_OFFSET",
    "CONSUME_FROM_TIMESTAMP",
)


def _enum_name(value: Any, names: tuple[str, ...]) -> str:
    """C++ clients send enums as ordinals; Java/Go as names."""
    if isinstance(value, int) and not isinstance(value, bool):
        return names[value] if 0 <= value < len(names) else str(value)
    return str(value)


def loads(body: bytes | bytearray | memoryview | str | None) -> Any:
    if not body:
        return {}
    return fastjson.loads(body)


# -------------------------------------------------------------------------- MessageQueue
@dataclass(frozen=True, slots=True, order=True)
class MessageQueue:
    """A queue of a topic on one broker set. Orders as upstream's compareTo: topic, broker, id."""

    topic: str
    brokerName: str
    queueId: int

    def to_dict(self) -> dict[str, Any]:
        return {"brokerName": self.brokerName, "queueId": self.queueId, "topic": self.topic}

    def key(self) -> fastjson.ObjectKey:
        return fastjson.ObjectKey(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any] | fastjson.ObjectKey) -> "MessageQueue":
        if isinstance(data, fastjson.ObjectKey):
            data = data.fields
        return cls(topic=str(data["topic"]), brokerName=str(data["brokerName"]), queueId=int(data["queueId"]))

    def __str__(self) -> str:
        return f"MessageQueue [topic={self.topic}, brokerName={self.brokerName}, queueId={self.queueId}]"


def _mq_table(raw: Any) -> dict[MessageQueue, Any]:
    """A fastjson map keyed by MessageQueue; also accepts a list of [key, value] or a str key."""
    table: dict[MessageQueue, Any] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(key, str):
                key = fastjson.loads(key)
            table[MessageQueue.from_dict(key)] = value
    return table


# --------------------------------------------------------------------- SubscriptionData
def parse_tags(sub_string: str | None) -> tuple[list[str], list[int]]:
    """TAG expression -> (tagsSet, codeSet); ``*`` or empty means all (both empty)."""
    if not sub_string or sub_string.strip() in ("", SUB_ALL):
        return [], []
    tags: list[str] = []
    for tag in sub_string.split("||"):
        tag = tag.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags, [java_string_hash(t) for t in tags]


@dataclass(slots=True)
class SubscriptionData:
    topic: str
    subString: str = SUB_ALL
    expressionType: str = EXPRESSION_TAG
    tagsSet: list[str] = field(default_factory=list)
    codeSet: list[int] = field(default_factory=list)
    subVersion: int = field(default_factory=lambda: time.time_ns() // 1000)
    classFilterMode: bool = False

    @classmethod
    def build(cls, topic: str, expression: str | None = None, expression_type: str = EXPRESSION_TAG) -> "SubscriptionData":
        expression = (expression or SUB_ALL).strip() or SUB_ALL
        if expression_type == EXPRESSION_TAG:
            tags, codes = parse_tags(expression)
            return cls(topic=topic, subString=expression if tags else SUB_ALL, tagsSet=tags, codeSet=codes)
        return cls(topic=topic, subString=expression, expressionType=expression_type)

    def matches_tag(self, tag: str | None) -> bool:
        if self.expressionType != EXPRESSION_TAG or not self.tagsSet:
            return True
        return tag is not None and tag in self.tagsSet

    def to_dict(self) -> dict[str, Any]:
        return {"classFilterMode": self.classFilterMode, "codeSet": list(self.codeSet),
                "expressionType": self.expressionType, "subString": self.subString,
                "subVersion": self.subVersion, "tagsSet": list(self.tagsSet), "topic": self.topic}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SubscriptionData":
        return cls(topic=str(data["topic"]), subString=str(data.get("subString") or SUB_ALL),
                   expressionType=str(data.get("expressionType") or EXPRESSION_TAG),
                   tagsSet=[str(t) for t in data.get("tagsSet") or []],
                   codeSet=[int(c) for c in data.get("codeSet") or []],
                   subVersion=int(data.get("subVersion") or 0),
                   classFilterMode=bool(data.get("classFilterMode", False)))


# ------------------------------------------------------------------------- HeartbeatData
@dataclass(slots=True)
class ProducerData:
    groupName: str

    def to_dict(self) -> dict[str, Any]:
        return {"groupName": self.groupName}


@dataclass(slots=True)
class ConsumerData:
    groupName: str
    consumeType: str = CONSUME_PASSIVELY
    messageModel: str = CLUSTERING
    consumeFromWhere: str = "CONSUME_FROM_LAST_OFFSET"
    subscriptionDataSet: list[SubscriptionData] = field(default_factory=list)
    unitMode: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"consumeFromWhere": self.consumeFromWhere, "consumeType": self.consumeType,
                "groupName": self.groupName, "messageModel": self.messageModel,
                "subscriptionDataSet": [s.to_dict() for s in self.subscriptionDataSet],
                "unitMode": self.unitMode}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConsumerData":
        return cls(groupName=str(data["groupName"]),
                   consumeType=_enum_name(data.get("consumeType", CONSUME_PASSIVELY), (CONSUME_ACTIVELY, CONSUME_PASSIVELY)),
                   messageModel=_enum_name(data.get("messageModel", CLUSTERING), (BROADCASTING, CLUSTERING)),
                   consumeFromWhere=_enum_name(data.get("consumeFromWhere", CONSUME_FROM_WHERE[0]), CONSUME_FROM_WHERE),
                   subscriptionDataSet=[SubscriptionData.from_dict(s) for s in data.get("subscriptionDataSet") or []],
                   unitMode=bool(data.get("unitMode", False)))


@dataclass(slots=True)
class HeartbeatData:
    clientID: str
    producerDataSet: list[ProducerData] = field(default_factory=list)
    consumerDataSet: list[ConsumerData] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"clientID": self.clientID,
                "consumerDataSet": [c.to_dict() for c in self.consumerDataSet],
                "producerDataSet": [p.to_dict() for p in self.producerDataSet]}

    def encode(self) -> bytes:
        return fastjson.dumps(self.to_dict())

    @classmethod
    def decode(cls, body: bytes) -> "HeartbeatData":
        data = loads(body)
        return cls(clientID=str(data.get("clientID", "")),
                   producerDataSet=[ProducerData(str(p["groupName"])) for p in data.get("producerDataSet") or []],
                   consumerDataSet=[ConsumerData.from_dict(c) for c in data.get("consumerDataSet") or []])


# ----------------------------------------------------------------------- lock batch (3.8)
@dataclass(slots=True)
class LockBatchRequestBody:
    """Body of LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) (UnlockBatchRequestBody is the same)."""

    consumerGroup: str
    clientId: str
    mqSet: list[MessageQueue] = field(default_factory=list)

    def encode(self) -> bytes:
        return fastjson.dumps({"clientId": self.clientId, "consumerGroup": self.consumerGroup,
                               "mqSet": [mq.to_dict() for mq in self.mqSet]})

    @classmethod
    def decode(cls, body: bytes) -> "LockBatchRequestBody":
        data = loads(body)
        return cls(consumerGroup=str(data.get("consumerGroup", "")), clientId=str(data.get("clientId", "")),
                   mqSet=[MessageQueue.from_dict(m) for m in data.get("mqSet") or []])


def encode_lock_batch_response(locked: list[MessageQueue]) -> bytes:
    return fastjson.dumps({"lockOKMQSet": [mq.to_dict() for mq in locked]})


def decode_lock_batch_response(body: bytes | None) -> list[MessageQueue]:
    return [MessageQueue.from_dict(m) for m in loads(body).get("lockOKMQSet") or []]


# -------------------------------------------------------------------------- simple lists
def encode_consumer_list(ids: list[str]) -> bytes:
    return fastjson.dumps({"consumerIdList": list(ids)})


def decode_consumer_list(body: bytes | None) -> list[str]:
    return [str(i) for i in loads(body).get("consumerIdList") or []]


def decode_topic_list(body: bytes | None) -> list[str]:
    return [str(t) for t in loads(body).get("topicList") or []]


def decode_group_list(body: bytes | None) -> list[str]:
    return [str(g) for g in loads(body).get("groupList") or []]


def decode_kv_table(body: bytes | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (loads(body).get("table") or {}).items()}


def parse_properties_text(text: str) -> dict[str, str]:
    """Java-properties text (``k=v`` lines) as GET_BROKER_CONFIG returns it."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if sep:
            result[key.strip()] = value.strip()
    return result


def properties_text(props: dict[str, Any]) -> str:
    return "".join(f"{k}={'true' if v is True else 'false' if v is False else v}\n" for k, v in props.items())


# --------------------------------------------------------------------- admin stats bodies
@dataclass(slots=True)
class TopicOffset:
    minOffset: int = 0
    maxOffset: int = 0
    lastUpdateTimestamp: int = 0


def decode_topic_stats(body: bytes | None) -> dict[MessageQueue, TopicOffset]:
    table = _mq_table(loads(body).get("offsetTable"))
    return {mq: TopicOffset(int(v.get("minOffset", 0)), int(v.get("maxOffset", 0)),
                            int(v.get("lastUpdateTimestamp", 0))) for mq, v in table.items()}


def encode_topic_stats(table: dict[MessageQueue, TopicOffset]) -> bytes:
    return fastjson.dumps({"offsetTable": {mq.key(): {"lastUpdateTimestamp": o.lastUpdateTimestamp,
                                                      "maxOffset": o.maxOffset, "minOffset": o.minOffset}
                                           for mq, o in table.items()}})


@dataclass(slots=True)
class OffsetWrapper:
    brokerOffset: int = 0
    consumerOffset: int = 0
    lastTimestamp: int = 0


@dataclass(slots=True)
class ConsumeStats:
    offsetTable: dict[MessageQueue, OffsetWrapper] = field(default_factory=dict)
    consumeTps: float = 0.0

    def diff_total(self) -> int:
        return sum(max(0, w.brokerOffset - w.consumerOffset) for w in self.offsetTable.values())

    def encode(self) -> bytes:
        return fastjson.dumps({"consumeTps": self.consumeTps, "offsetTable": {
            mq.key(): {"brokerOffset": w.brokerOffset, "consumerOffset": w.consumerOffset,
                       "lastTimestamp": w.lastTimestamp} for mq, w in self.offsetTable.items()}})

    @classmethod
    def decode(cls, body: bytes | None) -> "ConsumeStats":
        data = loads(body)
        table = _mq_table(data.get("offsetTable"))
        return cls(offsetTable={mq: OffsetWrapper(int(v.get("brokerOffset", 0)), int(v.get("consumerOffset", 0)),
                                                  int(v.get("lastTimestamp", 0))) for mq, v in table.items()},
                   consumeTps=float(data.get("consumeTps") or 0.0))


def encode_reset_offset_body(table: dict[MessageQueue, int]) -> bytes:
    return fastjson.dumps({"offsetTable": {mq.key(): int(off) for mq, off in table.items()}})


def decode_reset_offset_body(body: bytes | None) -> dict[MessageQueue, int]:
    return {mq: int(v) for mq, v in _mq_table(loads(body).get("offsetTable")).items()}


@dataclass(slots=True)
class SubscriptionGroupConfig:
    groupName: str
    consumeEnable: bool = True
    consumeFromMinEnable: bool = True
    consumeBroadcastEnable: bool = True
    retryQueueNums: int = 1
    retryMaxTimes: int = 16
    brokerId: int = 0
    whichBrokerWhenConsumeSlowly: int = 1
    notifyConsumerIdsChangedEnable: bool = True
    consumeMessageOrderly: bool = False  # RocketMQ 5: the group's POP consumers are FIFO

    def to_dict(self) -> dict[str, Any]:
        return {"brokerId": self.brokerId, "consumeBroadcastEnable": self.consumeBroadcastEnable,
                "consumeEnable": self.consumeEnable, "consumeFromMinEnable": self.consumeFromMinEnable,
                "consumeMessageOrderly": self.consumeMessageOrderly,
                "groupName": self.groupName, "notifyConsumerIdsChangedEnable": self.notifyConsumerIdsChangedEnable,
                "retryMaxTimes": self.retryMaxTimes, "retryQueueNums": self.retryQueueNums,
                "whichBrokerWhenConsumeSlowly": self.whichBrokerWhenConsumeSlowly}

    def encode(self) -> bytes:
        return fastjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SubscriptionGroupConfig":
        """Unknown keys are ignored; "true"/"8" style text values are coerced to the field type."""
        values: dict[str, Any] = {}
        for name, spec in cls.__dataclass_fields__.items():  # type: ignore[attr-defined]
            if name not in data:
                continue
            value = data[name]
            if spec.type == "bool" and isinstance(value, str):
                value = value.strip().lower() == "true"
            elif spec.type == "int":
                value = int(value)
            values[name] = value
        return cls(**values)


def decode_subscription_group_wrapper(body: bytes | None) -> dict[str, SubscriptionGroupConfig]:
    table = loads(body).get("subscriptionGroupTable") or {}
    return {str(name): SubscriptionGroupConfig.from_dict(cfg) for name, cfg in table.items()}


@dataclass(slots=True)
class ClientConnection:
    clientId: str
    clientAddr: str
    language: str
    version: int


def _connections(data: dict[str, Any]) -> list[ClientConnection]:
    return [ClientConnection(str(c.get("clientId", "")), str(c.get("clientAddr", "")),
                             _enum_name(c.get("language", "JAVA"), ("JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI",
                                                                    "ERLANG", "RUBY", "OTHER", "HTTP", "GO")),
                             int(c.get("version", 0)))
            for c in data.get("connectionSet") or []]


@dataclass(slots=True)
class ConsumerConnection:
    connectionSet: list[ClientConnection] = field(default_factory=list)
    subscriptionTable: dict[str, SubscriptionData] = field(default_factory=dict)
    consumeType: str | None = None
    messageModel: str | None = None
    consumeFromWhere: str | None = None

    @classmethod
    def decode(cls, body: bytes | None) -> "ConsumerConnection":
        data = loads(body)
        return cls(connectionSet=_connections(data),
                   subscriptionTable={str(k): SubscriptionData.from_dict(v)
                                      for k, v in (data.get("subscriptionTable") or {}).items()},
                   consumeType=data.get("consumeType"), messageModel=data.get("messageModel"),
                   consumeFromWhere=data.get("consumeFromWhere"))


def decode_producer_connection(body: bytes | None) -> list[ClientConnection]:
    return _connections(loads(body))


# ----------------------------------------------------------------- ConsumerRunningInfo
def encode_consumer_running_info(properties: dict[str, str], subscriptions: list[SubscriptionData],
                                 mq_table: dict[MessageQueue, dict[str, Any]]) -> bytes:
    """GET_CONSUMER_RUNNING_INFO answer (ConsumerRunningInfo); statusTable left empty."""
    return fastjson.dumps({"mqTable": {mq.key(): info for mq, info in mq_table.items()},
                           "properties": properties, "statusTable": {},
                           "subscriptionSet": [s.to_dict() for s in subscriptions]})
