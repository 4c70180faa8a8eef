"""Custom headers (extFields) of the requests clients send to brokers and brokers send to
clients (upstream ``common/protocol/header/*.java``, reference sections 3.1-3.10).

Field names are upstream's exactly; a field without a default is required (``@CFNotNull``).
Use ``remoting.header.encode_header`` / ``decode_header``; the send headers carry their V2
short names as aliases (``short_names=True`` for codes 310/320).
"""

from __future__ import annotations

from dataclasses import dataclass

from pocketmq.remoting.header import Int32, alias


# --------------------------------------------------------------------------------- send (3.1)
@dataclass(slots=True)
class SendMessageRequestHeader:
    """Codes 10 (long names) and 310/320 (V2 short names ``a``..``n``)."""

    producerGroup: str = alias("a")
    topic: str = alias("b")
    defaultTopic: str = alias("c")
    defaultTopicQueueNums: Int32 = alias("d")
    queueId: Int32 = alias("e")
    sysFlag: Int32 = alias("f")
    bornTimestamp: int = alias("g")
    flag: Int32 = alias("h")
    properties: str | None = alias("i", default=None)
    reconsumeTimes: Int32 | None = alias("j", default=None)
    unitMode: bool | None = alias("k", default=None)
    maxReconsumeTimes: Int32 | None = alias("l", default=None)
    batch: bool | None = alias("m", default=None)
    bname: str | None = alias("n", default=None)


@dataclass(slots=True)
class SendMessageResponseHeader:
    msgId: str
    queueId: int
    queueOffset: int
    transactionId: str | None = None
    MSG_REGION: str | None = None
    TRACE_ON: str | None = None


# --------------------------------------------------------------------------------- pull (3.2)
PULL_FLAG_COMMIT_OFFSET = 0x1
PULL_FLAG_SUSPEND = 0x2
PULL_FLAG_SUBSCRIPTION = 0x4
PULL_FLAG_CLASS_FILTER = 0x8
PULL_FLAG_LITE_PULL = 0x10


def build_pull_sys_flag(commit_offset: bool, suspend: bool, subscription: bool,
                        class_filter: bool = False, lite_pull: bool = False) -> int:
    flag = PULL_FLAG_COMMIT_OFFSET if commit_offset else 0
    if suspend:
        flag |= PULL_FLAG_SUSPEND
    if subscription:
        flag |= PULL_FLAG_SUBSCRIPTION
    if class_filter:
        flag |= PULL_FLAG_CLASS_FILTER
    if lite_pull:
        flag |= PULL_FLAG_LITE_PULL
    return flag


def clear_commit_offset_flag(sys_flag: int) -> int:
    return sys_flag & ~PULL_FLAG_COMMIT_OFFSET


@dataclass(slots=True)
class PullMessageRequestHeader:
    consumerGroup: str
    topic: str
    queueId: Int32
    queueOffset: int
    maxMsgNums: Int32
    sysFlag: Int32
    commitOffset: int
    suspendTimeoutMillis: int
    subVersion: int
    subscription: str | None = None
    expressionType: str | None = None


@dataclass(slots=True)
class PullMessageResponseHeader:
    suggestWhichBrokerId: int
    nextBeginOffset: int
    minOffset: int
    maxOffset: int


# ------------------------------------------------------------------ offsets and queues (3.3)
@dataclass(slots=True)
class QueryConsumerOffsetRequestHeader:
    consumerGroup: str
    topic: str
    queueId: int


@dataclass(slots=True)
class QueryConsumerOffsetResponseHeader:
    offset: int | None = None


@dataclass(slots=True)
class UpdateConsumerOffsetRequestHeader:
    consumerGroup: str
    topic: str
    queueId: int
    commitOffset: int


@dataclass(slots=True)
class GetMaxOffsetRequestHeader:
    topic: str
    queueId: int


@dataclass(slots=True)
class GetMinOffsetRequestHeader:
    topic: str
    queueId: int


@dataclass(slots=True)
class OffsetResponseHeader:
    """GetMaxOffsetResponseHeader / GetMinOffsetResponseHeader / SearchOffsetResponseHeader."""

    offset: int


@dataclass(slots=True)
class SearchOffsetRequestHeader:
    topic: str
    queueId: int
    timestamp: int


@dataclass(slots=True)
class GetEarliestMsgStoretimeRequestHeader:
    topic: str
    queueId: int


@dataclass(slots=True)
class GetEarliestMsgStoretimeResponseHeader:
    timestamp: int


# ------------------------------------------------------------------------ query / view (3.4)
@dataclass(slots=True)
class QueryMessageRequestHeader:
    topic: str
    key: str
    maxNum: int
    beginTimestamp: int
    endTimestamp: int
    _UNIQUE_KEY_QUERY: bool | None = None


@dataclass(slots=True)
class QueryMessageResponseHeader:
    indexLastUpdateTimestamp: int
    indexLastUpdatePhyoffset: int


@dataclass(slots=True)
class ViewMessageRequestHeader:
    offset: int


# ------------------------------------------------------------------ client management (3.5)
@dataclass(slots=True)
class UnregisterClientRequestHeader:
    clientID: str
    producerGroup: str | None = None
    consumerGroup: str | None = None


@dataclass(slots=True)
class GetConsumerListByGroupRequestHeader:
    consumerGroup: str


@dataclass(slots=True)
class NotifyConsumerIdsChangedRequestHeader:
    consumerGroup: str


@dataclass(slots=True)
class GetConsumerRunningInfoRequestHeader:
    consumerGroup: str
    clientId: str
    jstackEnable: bool | None = None


@dataclass(slots=True)
class ConsumeMessageDirectlyResultRequestHeader:
    consumerGroup: str
    clientId: str | None = None
    msgId: str | None = None
    brokerName: str | None = None


# -------------------------------------------------------------------------- send-back (3.6)
@dataclass(slots=True)
class ConsumerSendMsgBackRequestHeader:
    offset: int
    group: str
    delayLevel: int
    originMsgId: str | None = None
    originTopic: str | None = None
    unitMode: bool | None = None
    maxReconsumeTimes: int | None = None


# ----------------------------------------------------------------------- transactions (3.7)
@dataclass(slots=True)
class EndTransactionRequestHeader:
    producerGroup: str
    tranStateTableOffset: int
    commitLogOffset: int
    commitOrRollback: int
    msgId: str
    fromTransactionCheck: bool | None = None
    transactionId: str | None = None


@dataclass(slots=True)
class CheckTransactionStateRequestHeader:
    tranStateTableOffset: int
    commitLogOffset: int
    msgId: str | None = None
    transactionId: str | None = None
    offsetMsgId: str | None = None


# ------------------------------------------------------------------------- admin (3.9, 3.10)
@dataclass(slots=True)
class CreateTopicRequestHeader:
    topic: str
    defaultTopic: str
    readQueueNums: int
    writeQueueNums: int
    perm: int
    topicFilterType: str
    topicSysFlag: int | None = None
    order: bool = False
    attributes: str | None = None  # RocketMQ 5: "+message.type=FIFO,..."


@dataclass(slots=True)
class DeleteTopicRequestHeader:
    topic: str


@dataclass(slots=True)
class DeleteSubscriptionGroupRequestHeader:
    groupName: str
    removeOffset: bool | None = None


@dataclass(slots=True)
class GetSubscriptionGroupConfigRequestHeader:
    group: str


@dataclass(slots=True)
class GetTopicStatsInfoRequestHeader:
    topic: str


@dataclass(slots=True)
class GetConsumeStatsRequestHeader:
    consumerGroup: str
    topic: str | None = None


@dataclass(slots=True)
class GetConsumerConnectionListRequestHeader:
    consumerGroup: str


@dataclass(slots=True)
class GetProducerConnectionListRequestHeader:
    producerGroup: str


@dataclass(slots=True)
class GetBrokerConfigResponseHeader:
    version: str | None = None


@dataclass(slots=True)
class ResetOffsetRequestHeader:
    """INVOKE_BROKER_TO_RESET_OFFSET (222) and RESET_CONSUMER_CLIENT_OFFSET (220)."""

    topic: str
    group: str
    timestamp: int
    isForce: bool


@dataclass(slots=True)
class QueryTopicConsumeByWhoRequestHeader:
    topic: str


@dataclass(slots=True)
class QueryConsumeTimeSpanRequestHeader:
    topic: str
    group: str


@dataclass(slots=True)
class CloneGroupOffsetRequestHeader:
    srcGroup: str
    destGroup: str
    topic: str | None = None
    offline: bool = False


@dataclass(slots=True)
class WipeWritePermOfBrokerResponseHeader:
    wipeTopicCount: int


@dataclass(slots=True)
class AddWritePermOfBrokerResponseHeader:
    addTopicCount: int


@dataclass(slots=True)
class GetKVConfigResponseHeader:
    value: str | None = None
