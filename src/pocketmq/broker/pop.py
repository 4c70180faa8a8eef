"""POP consumption in the broker (RocketMQ 5's RIP-19): POP_MESSAGE, ACK_MESSAGE and
CHANGE_MESSAGE_INVISIBLETIME with upstream's headers, and the revive service.

A pop reads up to ``maxMsgNums`` messages of a group from the topic's queues (and first from the
group's POP retry topic ``%RETRY%<group>_<topic>``), writes a checkpoint (CK) for them and moves
the group's offset past them at once: the checkpoint, not the offset, now owns their delivery.
Checkpoints and acks are messages in the revive topic ``rmq_sys_REVIVE_LOG_<cluster>`` (tags
``ck``/``ack``, JSON bodies with upstream's short keys), so they are persisted and replicated to
slaves as any message is, and survive a restart.

The revive service (master only) reads the revive topic in order, pairs acks with checkpoints,
and when a checkpoint's invisible time is over (plus ``REVIVE_MARGIN_MS`` for acks still being
written) re-puts every message of it that was not acked into the POP retry topic with
``reconsumeTimes + 1`` — or into ``%DLQ%<group>`` after ``retryMaxTimes + 1`` attempts — and
then commits its revive offset (the oldest checkpoint still open), so after a restart it reads
again from there. Delivery is at least once: an ack that arrives after the re-put is ignored.

Not yet: orderly (FIFO) pop, SQL92 filters, BATCH_ACK/PEEK/NOTIFICATION, several revive queues.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from pocketmq.broker.pull_processor import parse_tag_subscription, tag_codes_of
from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.protocol import message as m
from pocketmq.protocol.pop import (
    INIT_MODE_MIN, RETRY_PREFIX, AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ExtraInfo,
    PopMessageRequestHeader, build_offset_info, pop_retry_topic, real_topic,
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
CK_TAG, ACK_TAG = "ck", "ack"
MAX_POP_BATCH = 32
REVIVE_INTERVAL_SECONDS = 0.2
REVIVE_MARGIN_MS = 1000
REVIVE_READ_BATCH = 32


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

    @property
    def revive_topic(self) -> str:
        return revive_topic(self.broker.config.brokerClusterName)

    def register(self, register: Any) -> None:
        register(RequestCode.POP_MESSAGE, self.pop)
        register(RequestCode.ACK_MESSAGE, self.ack)
        register(RequestCode.CHANGE_MESSAGE_INVISIBLETIME, self.change_invisible_time)

    def ensure_revive_topic(self) -> None:
        topics = self.broker.topic_config_manager
        if topics.get(self.revive_topic) is None:
            topics.create_in_send_back(self.revive_topic, 1, PERM_READ | PERM_WRITE)
            self.broker.register_soon()

    # ------------------------------------------------------------------ long polling
    def on_message_arriving(self, topic: str) -> None:
        for future in self._arrivals.pop(topic, ()):
            if not future.done():
                future.set_result(None)

    async def _wait_arrival(self, topics: list[str], timeout: float) -> None:
        future = asyncio.get_running_loop().create_future()
        for topic in topics:
            self._arrivals.setdefault(topic, []).append(future)
        try:
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
        if header.order:
            return self._error(request, ResponseCode.SYSTEM_ERROR, "orderly POP is not supported by this broker yet")
        if (header.expType or "TAG").upper() != "TAG":
            return self._error(request, ResponseCode.SUBSCRIPTION_PARSE_FAILED,
                               f"POP supports TAG expressions only here, not {header.expType}")
        return None

    async def pop(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(PopMessageRequestHeader, request.ext_fields)
        problem = self._check_pop(request, header)
        if problem is not None:
            return problem
        tag_codes = tag_codes_of(parse_tag_subscription(header.topic, header.exp or "*"))
        deadline = self.clock.monotonic() + max(0, header.pollTime) / 1000
        while True:
            pop_time = self.clock.now_ms()
            found = await self._pop_once(header, tag_codes, pop_time)
            remaining = deadline - self.clock.monotonic()
            if found.buffers or remaining <= 0:
                break
            await self._wait_arrival([header.topic, pop_retry_topic(header.consumerGroup, header.topic)], remaining)
        fields = encode_header_fields(pop_time, header.invisibleTime, found)
        if not found.buffers:
            return make_response(request, ResponseCode.PULL_NOT_FOUND, "no new message", ext_fields=fields)
        return make_response(request, ext_fields=fields, body=list(found.buffers))

    async def _pop_once(self, header: PopMessageRequestHeader, tag_codes: set[int] | None, pop_time: int) -> "PopBatch":
        batch = PopBatch()
        topics = self.broker.topic_config_manager
        retry = pop_retry_topic(header.consumerGroup, header.topic)
        candidates: list[tuple[str, int]] = []
        retry_config = topics.get(retry)
        if retry_config is not None:
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
            if not await self._pop_queue(header, topic, queue_id, want, tag_codes, pop_time, batch):
                break
        return batch

    async def _pop_queue(self, header: PopMessageRequestHeader, topic: str, queue_id: int, want: int,
                         tag_codes: set[int] | None, pop_time: int, batch: "PopBatch") -> bool:
        """Pop from one queue into ``batch``; False when a checkpoint could not be written."""
        store = self.broker.store
        offsets = self.broker.consumer_offset_manager
        group = header.consumerGroup
        lock = self.locks.setdefault((topic, group, queue_id), asyncio.Lock())
        async with lock:
            offset = offsets.query(group, topic, queue_id)
            if offset < 0:
                offset = self._init_offset(topic, queue_id, header.initMode)
            result = store.get_message(group, topic, queue_id, offset, want, tag_codes)
            batch.rest += max(0, result.max_offset - result.next_begin_offset)
            if result.buffers:
                queue_offsets = list(result.message_queue_offsets)
                checkpoint = CheckPoint(topic, group, queue_id, queue_offsets[0], pop_time, header.invisibleTime,
                                        queue_offsets, self.broker.config.brokerName)
                if not await self._put_revive(checkpoint.encode(), CK_TAG, checkpoint.key):
                    return False
                batch.add(topic, queue_id, queue_offsets, result.buffers)
            if result.next_begin_offset != offset:
                offsets.commit(group, topic, queue_id, result.next_begin_offset)
        return True

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
        if result.status is not PutMessageStatus.PUT_OK:
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

    async def ack(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            header = decode_header(AckMessageRequestHeader, request.ext_fields)
        except HeaderError as exc:
            return self._error(request, ResponseCode.SYSTEM_ERROR, str(exc))
        info = self._extra_info(request, header.extraInfo)
        if isinstance(info, RemotingCommand):
            return info
        topic = real_topic(header.topic, header.consumerGroup, info.retry)
        problem = self._check_offset(request, topic, header.queueId, header.offset)
        if problem is not None:
            return problem
        key = (topic, header.consumerGroup, header.queueId, info.ck_queue_offset, info.pop_time)
        if not await self._put_revive(encode_ack(key, header.offset, info.broker_name), ACK_TAG, key):
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
            elif tag == ACK_TAG:
                key = (str(data["t"]), str(data["c"]), int(data["q"]), int(data["so"]), int(data["pt"]))
                revival = self.pending.get(key)
                if revival is not None:
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
        origin_topic = properties.get(m.PROPERTY_RETRY_TOPIC) or checkpoint.topic
        properties[m.PROPERTY_RETRY_TOPIC] = origin_topic
        properties.setdefault(m.PROPERTY_ORIGIN_MESSAGE_ID, original.uniq_key or original.msg_id)
        properties.pop(m.PROPERTY_DELAY_TIME_LEVEL, None)
        properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        group_config = broker.subscription_group_manager.find(checkpoint.group)
        max_times = group_config.retryMaxTimes if group_config is not None else 16
        reconsume = original.reconsume_times + 1
        topics = broker.topic_config_manager
        if reconsume > max_times:
            target = dlq_topic(checkpoint.group)
        else:
            target = pop_retry_topic(checkpoint.group, origin_topic)
        if topics.get(target) is None:
            topics.create_in_send_back(target, 1, PERM_READ | PERM_WRITE)
            broker.register_soon()
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

    def add(self, topic: str, queue_id: int, queue_offsets: list[int], buffers: list[memoryview]) -> None:
        self.buffers.extend(buffers)
        self.start_offsets.append((topic, queue_id, str(queue_offsets[0])))
        self.msg_offsets.append((topic, queue_id, ",".join(str(o) for o in queue_offsets)))


def encode_ack(key: tuple[str, str, int, int, int], ack_offset: int, broker_name: str) -> bytes:
    topic, group, queue_id, start_offset, pop_time = key
    return orjson.dumps({"ao": ack_offset, "so": start_offset, "c": group, "t": topic, "q": queue_id,
                         "pt": pop_time, "bn": broker_name})


def encode_header_fields(pop_time: int, invisible_time: int, batch: PopBatch) -> dict[str, str]:
    from pocketmq.protocol.pop import PopMessageResponseHeader

    header = PopMessageResponseHeader(popTime=pop_time, invisibleTime=invisible_time, reviveQid=REVIVE_QUEUE_ID,
                                      restNum=batch.rest, startOffsetInfo=build_offset_info(batch.start_offsets) or None,
                                      msgOffsetInfo=build_offset_info(batch.msg_offsets) or None)
    return encode_header(header)
