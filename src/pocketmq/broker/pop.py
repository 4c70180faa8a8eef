"""POP consumption in the broker (RocketMQ 5's RIP-19): POP_MESSAGE, ACK_MESSAGE,
BATCH_ACK_MESSAGE and CHANGE_MESSAGE_INVISIBLETIME with upstream's headers, and the revive service.

A pop reads up to ``maxMsgNums`` messages of a group from the topic's queues (and first from the
group's POP retry topic ``%RETRY%<group>_<topic>``), writes a checkpoint (CK) for them and moves
the group's offset past them at once: the checkpoint, not the offset, now owns their delivery.
Checkpoints and acks are messages in the revive topic ``rmq_sys_REVIVE_LOG_<cluster>`` (tags
``ck``/``ack``, JSON bodies with upstream's short keys), so they are persisted and replicated to
slaves as any message is, and survive a restart.

The revive service (master only) reads the revive topic in order, pairs acks with checkpoints,
and when a checkpoint's invisible time is over (plus ``REVIVE_MARGIN_MS`` for acks still being
written) re-puts every message of it that was not acked into the POP retry topic with
``reconsumeTimes + 1`` and ``1ST_POP_TIME`` — or into ``%DLQ%<group>`` (with RETRY_TOPIC, the
original topic) after ``retryMaxTimes + 1`` attempts — and
then commits its revive offset (the oldest checkpoint still open), so after a restart it reads
again from there. Delivery is at least once: an ack that arrives after the re-put is ignored.

An orderly pop (``order=true``, FIFO) writes no checkpoint: the queue's ``OrderInfo``
(pop_order.py, persisted as config/consumerOrderInfo.json) blocks it for the group until every message delivered is acked or its invisible
time is over, acks (reviveQid 999) move the group's offset, and what times out is read again in
place, from the queue, with its delivery count in ``orderCountInfo``.

A message popped from the retry topic is answered under the topic asked for, its receipt in the
``POP_CK`` property (upstream's popResponseReturnActualRetryTopic=false). Long polling holds at
most maxPopPollingSize requests (POLLING_FULL beyond, pop_polling.py). POP_ROLLBACK answers
SUCCESS: there is no RocksDB POP store to roll back from.

BATCH_ACK_MESSAGE acks many offsets of several pops in one request; PEEK_MESSAGE, NOTIFICATION
and POLLING_INFO are in pop_peek.py, QUERY_ASSIGNMENT and SET_MESSAGE_REQUEST_MODE in
assignment.py (both registered with POP). Filters: tags, and SQL92 through the broker's filter room
(SQL92 in POP does not need ``enablePropertyFilter``, as upstream's pop).

Not yet: several revive queues.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from pocketmq.broker.filter import SQL92, FilterSyntaxError, SqlMessageFilter, compile_sql92, describe_error
from pocketmq.broker.pop_order import ConsumerOrderInfo
from pocketmq.broker.pop_polling import PollingCounts
from pocketmq.broker.pull_processor import parse_tag_subscription, tag_codes_of
from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.protocol import message as m
from pocketmq.protocol.pop import (
    INIT_MODE_MIN, ORDER_REVIVE_QUEUE, RETRY_PREFIX, AckMessageRequestHeader, BatchAck,
    ChangeInvisibleTimeRequestHeader, ExtraInfo, PopMessageRequestHeader, build_offset_info, build_order_count_info,
    pop_retry_topic, real_topic, retry_flag, retry_message_as_origin,
)
from pocketmq.protocol.route import PERM_READ, PERM_WRITE, is_readable
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import HeaderError, decode_header, encode_header
from pocketmq.remoting.transport import Connection
from pocketmq.store.results import PutMessageStatus

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")

REVIVE_GROUP = "CID_RMQ_SYS_REVIVE_GROUP"
REVIVE_QUEUE_ID = 0
CK_TAG, ACK_TAG, BATCH_ACK_TAG = "ck", "ack", "bAck"
MAX_POP_BATCH = 32
REVIVE_INTERVAL_SECONDS = 0.2
REVIVE_MARGIN_MS = 1000
REVIVE_READ_BATCH = 32


# Upstream appendCheckPoint: the entry is in the commit log even when a flush or the slave lagged.
WRITTEN = frozenset({PutMessageStatus.PUT_OK, PutMessageStatus.FLUSH_DISK_TIMEOUT, PutMessageStatus.FLUSH_SLAVE_TIMEOUT,
                     PutMessageStatus.SLAVE_NOT_AVAILABLE})


def origin_of(topic: str, group: str) -> str:
    """The topic a POP retry topic (``%RETRY%<group>_<topic>``) holds messages of."""
    prefix = pop_retry_topic(group, "")
    return topic[len(prefix):] if topic.startswith(prefix) else topic


def revive_topic(cluster: str) -> str:
    return f"rmq_sys_REVIVE_LOG_{cluster}"


def dlq_topic(group: str) -> str:
    return f"%DLQ%{group}"


@dataclass
class CheckPoint:
    """Messages of one pop from one queue (upstream PopCheckPoint, JSON keys as upstream's)."""

    topic: str
    group: str
    queue_id: int
    start_offset: int
    pop_time: int
    invisible_time: int
    offsets: list[int]
    broker_name: str
    revive_offset: int = -1  # where it sits in the revive queue, once read back

    @property
    def key(self) -> tuple[str, str, int, int, int]:
        return (self.topic, self.group, self.queue_id, self.start_offset, self.pop_time)

    def encode(self) -> bytes:
        return orjson.dumps({"so": self.start_offset, "pt": self.pop_time, "it": self.invisible_time,
                             "bm": 0, "n": len(self.offsets), "q": self.queue_id, "t": self.topic, "c": self.group,
                             "ro": 0, "d": [o - self.start_offset for o in self.offsets], "bn": self.broker_name})

    @classmethod
    def decode(cls, data: dict[str, Any]) -> "CheckPoint":
        start = int(data["so"])
        return cls(str(data["t"]), str(data["c"]), int(data["q"]), start, int(data["pt"]), int(data["it"]),
                   [start + int(d) for d in data["d"]], str(data.get("bn") or ""))


@dataclass
class Revival:
    checkpoint: CheckPoint
    acked: set[int] = field(default_factory=set)


class PopService:
    def __init__(self, broker: "BrokerController", clock: Clock = SYSTEM_CLOCK) -> None:
        self.broker = broker
        self.clock = clock
        self.locks: dict[tuple[str, str, int], asyncio.Lock] = {}
        self._arrivals: dict[str, list[asyncio.Future[None]]] = {}
        self._rotation = itertools.count(random.randrange(1000))
        self.pending: dict[tuple[str, str, int, int, int], Revival] = {}
        self.read_offset = -1  # next revive-queue offset to read; -1: not loaded
        self.order_info = ConsumerOrderInfo(clock, broker.store_config.storePathRootDir)
        self.polling = PollingCounts()  # held pops (notifications count apart, in pop_peek)

    @property
    def revive_topic(self) -> str:
        return revive_topic(self.broker.config.brokerClusterName)

    def register(self, register: Any) -> None:
        register(RequestCode.POP_MESSAGE, self.pop)
        register(RequestCode.ACK_MESSAGE, self.ack)
        register(RequestCode.BATCH_ACK_MESSAGE, self.batch_ack)
        register(RequestCode.CHANGE_MESSAGE_INVISIBLETIME, self.change_invisible_time)
        register(RequestCode.POP_ROLLBACK, self.pop_rollback)
        from pocketmq.broker.pop_peek import PopPeek

        PopPeek(self.broker, self).register(register)
        from pocketmq.broker.assignment import AssignmentService

        self.assignment = AssignmentService(self.broker)  # which groups pop, and their queues
        self.assignment.register(register)

    async def pop_rollback(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """Upstream 5.3.3 POP_ROLLBACK (``mqadmin exportPopRecord``): move POP records from the
        RocksDB POP store back to the file store. Ours live in the revive topic (the file store)
        already, so there is nothing to move: SUCCESS, as upstream without popConsumerKVServiceEnable,
        with the remark upstream's createResponseCommand leaves on it."""
        return make_response(request, remark="not set any response code")

    def ensure_revive_topic(self) -> None:
        topics = self.broker.topic_config_manager
        if topics.get(self.revive_topic) is None:
            topics.create_in_send_back(self.revive_topic, 1, PERM_READ | PERM_WRITE)
            self.broker.register_soon(self.revive_topic)

    # ------------------------------------------------------------------ long polling
    def on_message_arriving(self, topic: str) -> None:
        for future in self._arrivals.pop(topic, ()):
            if not future.done():
                future.set_result(None)

    def polling_full(self, counts: PollingCounts, polling_key: tuple[str, str, int]) -> bool:
        config = self.broker.config
        return counts.full(polling_key, config.maxPopPollingSize, config.popPollingSize)

    async def _wait_arrival(self, topics: list[str], timeout: float, polling_key: tuple[str, str, int],
                            counts: PollingCounts) -> None:
        future = asyncio.get_running_loop().create_future()
        for topic in topics:
            self._arrivals.setdefault(topic, []).append(future)
        try:
            with counts.holding(polling_key):
                await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            for topic in topics:
                waiting = self._arrivals.get(topic)
                if waiting and future in waiting:
                    waiting.remove(future)

    # ------------------------------------------------------------------ POP_MESSAGE
    def _error(self, request: RemotingCommand, code: int, remark: str) -> RemotingCommand:
        return make_response(request, code, remark)

    def _check_pop(self, request: RemotingCommand, header: PopMessageRequestHeader) -> RemotingCommand | None:
        broker = self.broker
        if broker.is_slave:
            return self._error(request, ResponseCode.SLAVE_NOT_AVAILABLE, "POP is served by masters only")
        if not is_readable(broker.config.brokerPermission):
            return self._error(request, ResponseCode.NO_PERMISSION,
                               f"the broker[{broker.config.brokerIP1}] pop message is forbidden")
        if not 0 < header.maxMsgNums <= MAX_POP_BATCH:
            return self._error(request, ResponseCode.SYSTEM_ERROR,
                               f"the broker[{broker.config.brokerIP1}] pop message's num is greater than 32")
        if header.invisibleTime <= 0:
            return self._error(request, ResponseCode.SYSTEM_ERROR, "invisibleTime must be positive")
        topic_config = broker.topic_config_manager.get(header.topic)
        if topic_config is None:
            return self._error(request, ResponseCode.TOPIC_NOT_EXIST,
                               f"topic[{header.topic}] not exist, apply first please!")
        if not is_readable(topic_config.perm):
            return self._error(request, ResponseCode.NO_PERMISSION, f"the topic[{header.topic}] peeking message is forbidden")
        if header.queueId >= topic_config.readQueueNums or header.queueId < -1:
            return self._error(request, ResponseCode.SYSTEM_ERROR,
                               f"queueId[{header.queueId}] is illegal, topic:[{header.topic}] "
                               f"topicConfig.readQueueNums:[{topic_config.readQueueNums}]")
        group_config = broker.subscription_group_manager.find(header.consumerGroup)
        if group_config is None:
            return self._error(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                               f"subscription group [{header.consumerGroup}] does not exist")
        if not group_config.consumeEnable:
            return self._error(request, ResponseCode.NO_PERMISSION,
                               f"subscription group no permission, {header.consumerGroup}")
        return None

    def _filter(self, request: RemotingCommand, header: PopMessageRequestHeader
                ) -> tuple[set[int] | None, SqlMessageFilter | None] | RemotingCommand:
        """The tag codes or SQL92 filter of a pop (upstream: SUBSCRIPTION_PARSE_FAILED otherwise)."""
        expression_type = (header.expType or "TAG").upper()
        if expression_type == "TAG" or not header.exp:
            return tag_codes_of(parse_tag_subscription(header.topic, header.exp or "*")), None
        if expression_type != SQL92:
            return self._error(request, ResponseCode.SUBSCRIPTION_PARSE_FAILED,
                               "parse the consumer's subscription failed")
        try:
            return None, SqlMessageFilter(compile_sql92(header.exp))
        except FilterSyntaxError as exc:
            return self._error(request, ResponseCode.SUBSCRIPTION_PARSE_FAILED,
                               f"parse the consumer's subscription failed: {describe_error(header.exp, exc)}")

    async def pop(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            header = decode_header(PopMessageRequestHeader, request.ext_fields)
        except HeaderError as exc:
            return self._error(request, ResponseCode.SYSTEM_ERROR, str(exc))
        problem = self._check_pop(request, header)
        if problem is not None:
            return problem
        chosen = self._filter(request, header)
        if isinstance(chosen, RemotingCommand):
            return chosen
        deadline = self.clock.monotonic() + max(0, header.pollTime) / 1000
        polling_key = (header.topic, header.consumerGroup, header.queueId)
        full = False
        while True:
            pop_time = self.clock.now_ms()
            found = await self._pop_once(header, chosen, pop_time)
            remaining = deadline - self.clock.monotonic()
            if found.buffers or remaining <= 0:
                break
            full = self.polling_full(self.polling, polling_key)
            if full:
                break
            # An orderly pop blocked by messages in flight also wakes up on an ack (notify_ack).
            await self._wait_arrival([header.topic, pop_retry_topic(header.consumerGroup, header.topic)],
                                     remaining, polling_key, self.polling)
        fields = encode_header_fields(pop_time, header.invisibleTime, found,
                                      ORDER_REVIVE_QUEUE if header.order else REVIVE_QUEUE_ID)
        if full:
            return make_response(request, ResponseCode.POLLING_FULL, "NO_MESSAGE_IN_QUEUE", ext_fields=fields)
        if not found.buffers:
            # 5.3.3: POLLING_TIMEOUT / NO_MESSAGE_IN_QUEUE for an empty pop, held or not
            return make_response(request, ResponseCode.POLLING_TIMEOUT, "NO_MESSAGE_IN_QUEUE", ext_fields=fields)
        return make_response(request, ext_fields=fields, body=list(found.buffers))

    async def _pop_once(self, header: PopMessageRequestHeader,
                        chosen: tuple[set[int] | None, SqlMessageFilter | None], pop_time: int) -> "PopBatch":
        batch = PopBatch()
        topics = self.broker.topic_config_manager
        retry = pop_retry_topic(header.consumerGroup, header.topic)
        candidates: list[tuple[str, int]] = []
        retry_config = topics.get(retry)
        if retry_config is not None and not header.order:
            candidates += [(retry, q) for q in range(retry_config.readQueueNums)]
        if header.queueId >= 0:
            candidates.append((header.topic, header.queueId))
        else:
            count = topics.get(header.topic).readQueueNums
            start = next(self._rotation)
            candidates += [(header.topic, (start + i) % count) for i in range(count)]
        for topic, queue_id in candidates:
            want = header.maxMsgNums - len(batch.buffers)
            if want <= 0:
                break
            # The retry topic holds messages that passed the filter already (upstream: SUB_ALL).
            filters = (None, None) if topic == retry else chosen
            if header.order:
                self._pop_queue_orderly(header, topic, queue_id, want, filters, pop_time, batch)
            elif not await self._pop_queue(header, topic, queue_id, want, filters, pop_time, batch):
                break
        return batch

    def _pop_queue_orderly(self, header: PopMessageRequestHeader, topic: str, queue_id: int, want: int,
                           filters: tuple[set[int] | None, SqlMessageFilter | None], pop_time: int,
                           batch: "PopBatch") -> None:
        """Upstream's orderly popMsgFromQueue: nothing while the queue's messages are in flight;
        otherwise from the group's offset (which only acks move), recording the OrderInfo."""
        offsets = self.broker.consumer_offset_manager
        group = header.consumerGroup
        key = (topic, group, queue_id)
        if self.order_info.blocked(key, header.attemptId):
            return
        offset = offsets.query(group, topic, queue_id)
        if offset < 0:
            offset = self._init_offset(topic, queue_id, header.initMode)
        result = self.broker.store.get_message(group, topic, queue_id, offset, want, *filters)
        batch.rest += max(0, result.max_offset - result.next_begin_offset)
        if result.buffers:
            queue_offsets = list(result.message_queue_offsets)
            counts, minimum = self.order_info.update(key, pop_time, header.invisibleTime, queue_offsets,
                                                     header.attemptId)
            batch.add(topic, queue_id, queue_offsets, result.buffers)
            batch.order_counts.append(build_order_count_info(topic, queue_id, counts, minimum))
            if offsets.query(group, topic, queue_id) != queue_offsets[0]:
                offsets.commit(group, topic, queue_id, queue_offsets[0])
        elif result.next_begin_offset != offset:
            offsets.commit(group, topic, queue_id, result.next_begin_offset)  # filtered out or moved

    async def _pop_queue(self, header: PopMessageRequestHeader, topic: str, queue_id: int, want: int,
                         filters: tuple[set[int] | None, SqlMessageFilter | None], pop_time: int,
                         batch: "PopBatch") -> bool:
        """Pop from one queue into ``batch``; False when a checkpoint could not be written."""
        store = self.broker.store
        offsets = self.broker.consumer_offset_manager
        group = header.consumerGroup
        lock = self.locks.setdefault((topic, group, queue_id), asyncio.Lock())
        async with lock:
            offset = offsets.query(group, topic, queue_id)
            if offset < 0:
                offset = self._init_offset(topic, queue_id, header.initMode)
            result = store.get_message(group, topic, queue_id, offset, want, *filters)
            batch.rest += max(0, result.max_offset - result.next_begin_offset)
            if result.buffers:
                queue_offsets = list(result.message_queue_offsets)
                checkpoint = CheckPoint(topic, group, queue_id, queue_offsets[0], pop_time, header.invisibleTime,
                                        queue_offsets, self.broker.config.brokerName)
                if not await self._put_revive(checkpoint.encode(), CK_TAG, checkpoint.key):
                    return False
                buffers = list(result.buffers)
                if topic.startswith(RETRY_PREFIX) and not self.broker.config.popResponseReturnActualRetryTopic:
                    buffers = [self._as_asked_topic(header.topic, checkpoint, b, o) for b, o in zip(buffers, queue_offsets)]
                batch.add(topic, queue_id, queue_offsets, buffers)
            if result.next_begin_offset != offset:
                offsets.commit(group, topic, queue_id, result.next_begin_offset)
        return True

    def _as_asked_topic(self, asked_topic: str, checkpoint: CheckPoint, entry: memoryview, offset: int) -> memoryview:
        receipt = ExtraInfo(checkpoint.start_offset, checkpoint.pop_time, checkpoint.invisible_time, REVIVE_QUEUE_ID,
                            retry_flag(checkpoint.topic), checkpoint.broker_name, checkpoint.queue_id, offset)
        return memoryview(retry_message_as_origin(entry, asked_topic, receipt))

    def _init_offset(self, topic: str, queue_id: int, init_mode: int) -> int:
        """Where a group without an offset starts: the first message for MIN, the retry topic and
        a queue that still starts at 0 (upstream checks that message is still in memory); the end
        of the queue otherwise."""
        store = self.broker.store
        min_offset = store.get_min_offset_in_queue(topic, queue_id)
        if init_mode == INIT_MODE_MIN or topic.startswith(RETRY_PREFIX) or min_offset <= 0:
            return min_offset
        return store.get_max_offset_in_queue(topic, queue_id)

    async def _put_revive(self, body: bytes, tag: str, key: tuple[Any, ...]) -> bool:
        self.ensure_revive_topic()
        properties = {m.PROPERTY_TAGS: tag, m.PROPERTY_KEYS: "@".join(str(k) for k in key),
                      m.PROPERTY_WAIT_STORE_MSG_OK: "true"}
        msg = m.MessageExtBrokerInner(
            topic=self.revive_topic, body=body, queue_id=REVIVE_QUEUE_ID, flag=0, properties=properties,
            sys_flag=0, born_timestamp=self.clock.now_ms(), born_host=self.broker.store.store_host,
            reconsume_times=0, tags_code=m.tags_string_to_tags_code(tag))
        result = await self.broker.store.put_message(msg)
        if result.status not in WRITTEN:
            log.warning("cannot write POP %s %s: %s", tag, key, result.status.name)
            return False
        return True

    # ------------------------------------------------------------------ ACK_MESSAGE
    def _extra_info(self, request: RemotingCommand, text: str) -> ExtraInfo | RemotingCommand:
        try:
            return ExtraInfo.decode(text)
        except ValueError as exc:
            return self._error(request, ResponseCode.MESSAGE_ILLEGAL, str(exc))

    def _check_offset(self, request: RemotingCommand, topic: str, queue_id: int, offset: int) -> RemotingCommand | None:
        if self.broker.topic_config_manager.get(topic) is None:
            return self._error(request, ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist, apply first please!")
        store = self.broker.store
        if not store.get_min_offset_in_queue(topic, queue_id) <= offset < store.get_max_offset_in_queue(topic, queue_id):
            return self._error(request, ResponseCode.NO_MESSAGE,
                               f"offset is illegal, key:{topic}@{queue_id}, offset:{offset}")
        return None

    def _check_queue(self, request: RemotingCommand, topic: str, queue_id: int) -> RemotingCommand | None:
        config = self.broker.topic_config_manager.get(topic)
        if config is None:
            return self._error(request, ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist, apply first please!")
        if not 0 <= queue_id < config.readQueueNums:
            return self._error(request, ResponseCode.MESSAGE_ILLEGAL,
                               f"queueId[{queue_id}] is illegal, topic:[{topic}] "
                               f"topicConfig.readQueueNums:[{config.readQueueNums}]")
        return None

    def notify_ack(self, topic: str) -> None:
        """An orderly ack may unblock a queue: wake the pops held on its topic."""
        self.on_message_arriving(topic)

    def _ack_orderly(self, request: RemotingCommand, topic: str, group: str, queue_id: int, offset: int,
                     pop_time: int) -> RemotingCommand | None:
        """Upstream ackOrderly: set the message's bit and move the group's offset to the first
        message not acked; None when done, an error response for an offset not in flight."""
        offsets = self.broker.consumer_offset_manager
        committed = offsets.query(group, topic, queue_id)
        if offset < committed:
            return None  # acked before, or the offset was reset past it
        key = (topic, group, queue_id)
        if key not in self.order_info.table and offset != committed:
            return None  # an ack from before a restart: the queue is delivered again from `committed`
        next_offset = self.order_info.commit_and_next(key, offset, pop_time)
        if next_offset == -1:
            return self._error(request, ResponseCode.MESSAGE_ILLEGAL,
                               f"offset is illegal, key:{topic}@{group}@{queue_id}, old:{committed}, "
                               f"commit:{offset}, next:{next_offset}")
        if next_offset > -1:
            if next_offset != committed:
                offsets.commit(group, topic, queue_id, next_offset)
            if not self.order_info.blocked(key, None):
                self.notify_ack(topic)
        return None

    async def ack(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            header = decode_header(AckMessageRequestHeader, request.ext_fields)
        except HeaderError as exc:
            return self._error(request, ResponseCode.SYSTEM_ERROR, str(exc))
        info = self._extra_info(request, header.extraInfo)
        if isinstance(info, RemotingCommand):
            return info
        topic = real_topic(header.topic, header.consumerGroup, info.retry)
        problem = self._check_queue(request, topic, header.queueId) or \
            self._check_offset(request, topic, header.queueId, header.offset)
        if problem is not None:
            return problem
        if info.revive_qid == ORDER_REVIVE_QUEUE:
            return self._ack_orderly(request, topic, header.consumerGroup, header.queueId, header.offset,
                                     info.pop_time) or make_response(request)
        key = (topic, header.consumerGroup, header.queueId, info.ck_queue_offset, info.pop_time)
        if not await self._put_revive(encode_ack(key, header.offset, info.broker_name), ACK_TAG, key):
            return self._error(request, ResponseCode.SYSTEM_ERROR, "cannot write the ack")
        return make_response(request)

    # ------------------------------------------------------------------ BATCH_ACK_MESSAGE
    async def batch_ack(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """Upstream's BATCH_ACK_MESSAGE: NO_MESSAGE for an empty body; offsets outside their
        queue are skipped; one revive entry (tag ``bAck``) per pop acked."""
        try:
            body = orjson.loads(request.body_bytes() or b"null")
            acks = [BatchAck.from_dict(a) for a in (body or {}).get("acks") or []]
            broker_name = str((body or {}).get("brokerName") or self.broker.config.brokerName)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self._error(request, ResponseCode.SYSTEM_ERROR, f"bad BatchAckMessageRequestBody: {exc}")
        if not acks:
            return self._error(request, ResponseCode.NO_MESSAGE, "no ack in the request")
        store = self.broker.store
        for entry in acks:
            topic = real_topic(entry.topic, entry.consumer_group, entry.retry)
            if self.broker.topic_config_manager.get(topic) is None:
                continue  # upstream logs an illegal topic or queue and goes on
            low, high = store.get_min_offset_in_queue(topic, entry.queue_id), \
                store.get_max_offset_in_queue(topic, entry.queue_id)
            offsets = [o for o in entry.offsets if low <= o < high]
            if not offsets:
                continue
            if entry.revive_qid == ORDER_REVIVE_QUEUE:
                for offset in offsets:
                    self._ack_orderly(request, topic, entry.consumer_group, entry.queue_id, offset, entry.pop_time)
                continue
            key = (topic, entry.consumer_group, entry.queue_id, entry.start_offset, entry.pop_time)
            if not await self._put_revive(encode_batch_ack(key, offsets, broker_name), BATCH_ACK_TAG, key):
                return self._error(request, ResponseCode.SYSTEM_ERROR, "cannot write the ack")
        return make_response(request)

    # ------------------------------------------------------------------ CHANGE_MESSAGE_INVISIBLETIME
    async def change_invisible_time(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            header = decode_header(ChangeInvisibleTimeRequestHeader, request.ext_fields)
        except HeaderError as exc:
            return self._error(request, ResponseCode.SYSTEM_ERROR, str(exc))
        info = self._extra_info(request, header.extraInfo)
        if isinstance(info, RemotingCommand):
            return info
        if header.invisibleTime <= 0:
            return self._error(request, ResponseCode.SYSTEM_ERROR, "invisibleTime must be positive")
        topic = real_topic(header.topic, header.consumerGroup, info.retry)
        problem = self._check_offset(request, topic, header.queueId, header.offset)
        if problem is not None:
            return problem
        if info.revive_qid == ORDER_REVIVE_QUEUE:
            return self._change_invisible_orderly(request, header, topic, info)
        # A new checkpoint for the one message first, then the ack of the old one (as upstream):
        # a crash in between delivers it again, never loses it.
        now = self.clock.now_ms()
        checkpoint = CheckPoint(topic, header.consumerGroup, header.queueId, header.offset, now, header.invisibleTime,
                                [header.offset], self.broker.config.brokerName)
        if not await self._put_revive(checkpoint.encode(), CK_TAG, checkpoint.key):
            return self._error(request, ResponseCode.SYSTEM_ERROR, "cannot write the checkpoint")
        old = (topic, header.consumerGroup, header.queueId, info.ck_queue_offset, info.pop_time)
        if not await self._put_revive(encode_ack(old, header.offset, info.broker_name), ACK_TAG, old):
            return self._error(request, ResponseCode.SYSTEM_ERROR, "cannot write the ack")
        return make_response(request, ext_fields={"popTime": str(now), "invisibleTime": str(header.invisibleTime),
                                                  "reviveQid": str(REVIVE_QUEUE_ID)})

    def _change_invisible_orderly(self, request: RemotingCommand, header: ChangeInvisibleTimeRequestHeader,
                                  topic: str, info: ExtraInfo) -> RemotingCommand:
        """Upstream processChangeInvisibleTimeForOrder: the message's next visible time moves; the
        receipt (popTime, reviveQid) stays, its invisibleTime counts from the pop."""
        fields = {"popTime": str(info.pop_time), "invisibleTime": str(info.invisible_time),
                  "reviveQid": str(ORDER_REVIVE_QUEUE)}
        committed = self.broker.consumer_offset_manager.query(header.consumerGroup, topic, header.queueId)
        if header.offset >= committed:
            next_visible = self.clock.now_ms() + header.invisibleTime
            key = (topic, header.consumerGroup, header.queueId)
            if self.order_info.change_visibility(key, header.offset, info.pop_time, next_visible):
                fields["invisibleTime"] = str(next_visible - info.pop_time)
        return make_response(request, ext_fields=fields)

    # ------------------------------------------------------------------ revive
    async def revive_loop(self) -> None:
        while True:
            try:
                if self.broker.is_slave:
                    self.pending.clear()
                    self.read_offset = -1
                else:
                    await self.revive_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the service must outlive one bad round
                log.exception("POP revive round failed")
            await asyncio.sleep(REVIVE_INTERVAL_SECONDS)

    async def revive_once(self) -> None:
        offsets = self.broker.consumer_offset_manager
        topic = self.revive_topic
        if self.broker.topic_config_manager.get(topic) is None:
            return  # nobody popped here yet: leave no trace (no revive offset, no topic)
        if self.read_offset < 0:
            committed = offsets.query(REVIVE_GROUP, topic, REVIVE_QUEUE_ID)
            self.read_offset = max(committed, self.broker.store.get_min_offset_in_queue(topic, REVIVE_QUEUE_ID), 0)
            self.pending.clear()
        self._read_revive_log()
        deadline = self.clock.now_ms() - REVIVE_MARGIN_MS
        for key, revival in list(self.pending.items()):
            checkpoint = revival.checkpoint
            if checkpoint.pop_time + checkpoint.invisible_time > deadline:
                continue
            done = True
            for offset in checkpoint.offsets:
                if offset not in revival.acked and not await self._revive_message(checkpoint, offset):
                    done = False
                    break
                revival.acked.add(offset)  # revived: never twice in this round or the next
            if done:
                del self.pending[key]
        oldest = min((r.checkpoint.revive_offset for r in self.pending.values()), default=self.read_offset)
        if oldest != offsets.query(REVIVE_GROUP, topic, REVIVE_QUEUE_ID):
            offsets.commit(REVIVE_GROUP, topic, REVIVE_QUEUE_ID, oldest)

    def _read_revive_log(self) -> None:
        store = self.broker.store
        while True:
            result = store.get_message(REVIVE_GROUP, self.revive_topic, REVIVE_QUEUE_ID, self.read_offset,
                                       REVIVE_READ_BATCH)
            for view, queue_offset in zip(result.buffers, result.message_queue_offsets):
                self._take_revive_entry(m.decode_message(view), queue_offset)
            if result.next_begin_offset == self.read_offset:
                return
            self.read_offset = result.next_begin_offset

    def _take_revive_entry(self, msg: m.MessageExt, queue_offset: int) -> None:
        try:
            data = orjson.loads(msg.body)
            tag = msg.properties.get(m.PROPERTY_TAGS)
            if tag == CK_TAG:
                checkpoint = CheckPoint.decode(data)
                checkpoint.revive_offset = queue_offset
                self.pending.setdefault(checkpoint.key, Revival(checkpoint))
            elif tag in (ACK_TAG, BATCH_ACK_TAG):
                key = (str(data["t"]), str(data["c"]), int(data["q"]), int(data["so"]), int(data["pt"]))
                revival = self.pending.get(key)
                if revival is not None and tag == BATCH_ACK_TAG:
                    revival.acked.update(int(o) for o in data["aol"])
                elif revival is not None:
                    revival.acked.add(int(data["ao"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping a bad revive entry at %d: %s", queue_offset, exc)

    async def _revive_message(self, checkpoint: CheckPoint, offset: int) -> bool:
        """Put the message back for its group: retry topic with reconsumeTimes + 1, or the DLQ."""
        broker = self.broker
        result = broker.store.get_message(checkpoint.group, checkpoint.topic, checkpoint.queue_id, offset, 1)
        if not result.buffers or result.message_queue_offsets[0] != offset:
            log.warning("POP revive: %s@%d offset %d is gone", checkpoint.topic, checkpoint.queue_id, offset)
            return True
        original = m.decode_message(result.buffers[0])
        properties = dict(original.properties)
        # Upstream reviveRetry: the original's properties plus 1ST_POP_TIME (no RETRY_TOPIC: a
        # pop answers a retry message under the topic asked for); into the retry topic of the
        # checkpoint's topic, or that retry topic itself when it was popped from there.
        if original.reconsume_times == 0 or m.PROPERTY_FIRST_POP_TIME not in properties:
            properties[m.PROPERTY_FIRST_POP_TIME] = str(checkpoint.pop_time)
        properties.pop(m.PROPERTY_DELAY_TIME_LEVEL, None)
        properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        group_config = broker.subscription_group_manager.find(checkpoint.group)
        max_times = group_config.retryMaxTimes if group_config is not None else 16
        reconsume = original.reconsume_times + 1
        topics = broker.topic_config_manager
        if reconsume > max_times:
            target = dlq_topic(checkpoint.group)
            properties.setdefault(m.PROPERTY_RETRY_TOPIC, origin_of(checkpoint.topic, checkpoint.group))
            properties.setdefault(m.PROPERTY_ORIGIN_MESSAGE_ID, original.uniq_key or original.msg_id)
        elif checkpoint.topic.startswith(RETRY_PREFIX):
            target = checkpoint.topic
        else:
            target = pop_retry_topic(checkpoint.group, checkpoint.topic)
        if topics.get(target) is None:
            topics.create_in_send_back(target, 1, PERM_READ | PERM_WRITE)
            broker.register_soon(target)
        msg = m.MessageExtBrokerInner(
            topic=target, body=original.body, queue_id=0, flag=original.flag, properties=properties,
            sys_flag=original.sys_flag & ~m.HOST_FLAGS_MASK, born_timestamp=original.born_timestamp,
            born_host=original.born_host, reconsume_times=reconsume,
            tags_code=m.tags_string_to_tags_code(properties.get(m.PROPERTY_TAGS)))
        put = await broker.store.put_message(msg)
        if put.status is not PutMessageStatus.PUT_OK:
            log.warning("POP revive of %s to %s failed: %s", original.msg_id, target, put.status.name)
            return False
        return True


@dataclass
class PopBatch:
    buffers: list[memoryview] = field(default_factory=list)
    start_offsets: list[tuple[str, int, str]] = field(default_factory=list)
    msg_offsets: list[tuple[str, int, str]] = field(default_factory=list)
    rest: int = 0
    order_counts: list[str] = field(default_factory=list)

    def add(self, topic: str, queue_id: int, queue_offsets: list[int], buffers: list[memoryview]) -> None:
        self.buffers.extend(buffers)
        self.start_offsets.append((topic, queue_id, str(queue_offsets[0])))
        self.msg_offsets.append((topic, queue_id, ",".join(str(o) for o in queue_offsets)))


def encode_ack(key: tuple[str, str, int, int, int], ack_offset: int, broker_name: str) -> bytes:
    topic, group, queue_id, start_offset, pop_time = key
    return orjson.dumps({"ao": ack_offset, "so": start_offset, "c": group, "t": topic, "q": queue_id,
                         "pt": pop_time, "bn": broker_name})


def encode_batch_ack(key: tuple[str, str, int, int, int], ack_offsets: list[int], broker_name: str) -> bytes:
    """Upstream BatchAckMsg: an AckMsg with ``aol``, the acked offsets, and ``ao`` -1."""
    topic, group, queue_id, start_offset, pop_time = key
    return orjson.dumps({"aol": ack_offsets, "ao": -1, "so": start_offset, "c": group, "t": topic, "q": queue_id,
                         "pt": pop_time, "bn": broker_name})


def encode_header_fields(pop_time: int, invisible_time: int, batch: PopBatch,
                         revive_qid: int = REVIVE_QUEUE_ID) -> dict[str, str]:
    from pocketmq.protocol.pop import PopMessageResponseHeader

    header = PopMessageResponseHeader(popTime=pop_time, invisibleTime=invisible_time, reviveQid=revive_qid,
                                      restNum=batch.rest, startOffsetInfo=build_offset_info(batch.start_offsets) or None,
                                      msgOffsetInfo=build_offset_info(batch.msg_offsets) or None,
                                      orderCountInfo=";".join(batch.order_counts) or None)
    return encode_header(header)
