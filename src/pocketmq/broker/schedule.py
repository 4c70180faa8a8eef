"""Scheduled (delayed) message delivery (upstream ScheduleMessageService).

The store parks a message with DELAY=n in SCHEDULE_TOPIC_XXXX queue n-1. One task per level
reads that queue in order from its delivery offset and, when a message is due, stores it again
in its real topic and queue (DELAY removed, WAIT=false), then advances the offset. Offsets
persist in ``config/delayOffset.json`` so delivery resumes after a restart; only a master
delivers.

Time: a message is due at its store timestamp plus its level's delay, read on the store's clock.
When the wall clock has stepped back so far that a message looks due later than now plus its
whole delay, it is delivered now, as upstream's correctDeliverTimestamp does, instead of waiting
out the step.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from pocketmq.aio import cancel_and_wait
from pocketmq.persist import load_json_file, write_file_safely
from pocketmq.protocol import fastjson
from pocketmq.protocol import message as m
from pocketmq.store.results import GetMessageStatus, PutMessageStatus

log = logging.getLogger("pocketmq.broker")

SCHEDULE_TOPIC = "SCHEDULE_TOPIC_XXXX"
SCHEDULE_GROUP = "SCHEDULE_CONSUMER"
_UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
IDLE_RECHECK_SECONDS = 1.0


def parse_delay_levels(text: str) -> list[int]:
    """``1s 5s 10s 30s 1m ...`` -> delay in milliseconds per level (level n = item n)."""
    levels = []
    for item in text.split():
        unit = item[-1]
        if unit not in _UNITS:
            raise ValueError(f"bad messageDelayLevel item {item!r}")
        levels.append(int(item[:-1]) * _UNITS[unit])
    return levels


def corrected_due_time(due_ms: int, now_ms: int, delay_ms: int) -> int:
    """``due_ms``, or now when it lies further ahead than a whole delay (the clock went back)."""
    return now_ms if due_ms > now_ms + delay_ms else due_ms


class ScheduleMessageService:
    def __init__(self, store: Any, store_root: str, delay_level_text: str) -> None:
        self.store = store
        self.path = os.path.join(store_root, "config", "delayOffset.json")
        self.delays = parse_delay_levels(delay_level_text)
        self.offsets: dict[int, int] = {}
        self._wakeups: dict[int, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.dirty = False

    # ----------------------------------------------------------------------------- offsets
    def load(self) -> None:
        data = load_json_file(self.path, fastjson.loads)
        if data:
            self.offsets = {int(level): int(offset) for level, offset in (data.get("offsetTable") or {}).items()}

    def encode_offsets(self) -> bytes:
        return fastjson.dumps({"offsetTable": self.offsets})

    def persist(self) -> None:
        write_file_safely(self.path, self.encode_offsets())
        self.dirty = False

    def replace_offsets(self, offsets: dict[int, int]) -> None:
        """A slave copying its master's delivery progress."""
        self.offsets = dict(offsets)
        self.persist()

    def on_store_truncated(self, _target: int) -> None:
        """The store was cut back (a slave rejoining a new master): no level's offset may point
        past its cut queue, where the new master's delayed messages will take the same offsets
        (a promotion before the next copy of the master's offsets would skip them). Idempotent."""
        changed = False
        for level, offset in list(self.offsets.items()):
            end = self.store.get_max_offset_in_queue(SCHEDULE_TOPIC, level - 1)
            if offset > end:
                self.offsets[level] = end
                changed = True
        if changed:
            self.persist()
            log.warning("delay offsets capped at the truncated schedule queues: %s", self.offsets)

    def runtime_info(self) -> dict[str, str]:
        info = {}
        for level in range(1, len(self.delays) + 1):
            max_offset = self.store.get_max_offset_in_queue(SCHEDULE_TOPIC, level - 1)
            info[f"scheduleMessageOffset_{level}"] = f"{self.offsets.get(level, 0)},{max_offset}"
        return info

    # ---------------------------------------------------------------------------- delivery
    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for level in range(1, len(self.delays) + 1):
            self._wakeups[level] = asyncio.Event()
            self._tasks.append(loop.create_task(self._deliver_level(level)))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        if self.dirty:
            self.persist()

    def on_message_arriving(self, queue_id: int) -> None:
        event = self._wakeups.get(queue_id + 1)
        if event is not None:
            event.set()

    async def _deliver_level(self, level: int) -> None:
        queue_id = level - 1
        delay_ms = self.delays[level - 1]
        wakeup = self._wakeups[level]
        while True:
            try:
                pause = await self._deliver_due(level, queue_id, delay_ms)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad entry must not stop a level's delivery for good
                log.exception("schedule delivery of level %d failed", level)
                pause = IDLE_RECHECK_SECONDS
            wakeup.clear()
            try:
                await asyncio.wait_for(wakeup.wait(), pause)
            except asyncio.TimeoutError:
                pass

    async def _deliver_due(self, level: int, queue_id: int, delay_ms: int) -> float:
        """Deliver every due message of this level; returns how long to wait before looking again."""
        while True:
            offset = self.offsets.get(level, 0)
            min_offset = self.store.get_min_offset_in_queue(SCHEDULE_TOPIC, queue_id)
            if offset < min_offset:
                offset = min_offset
            result = self.store.get_message(SCHEDULE_GROUP, SCHEDULE_TOPIC, queue_id, offset, 32)
            if result is None or result.status is not GetMessageStatus.FOUND:
                if result is not None and result.status is GetMessageStatus.OFFSET_TOO_SMALL:
                    self._advance(level, result.next_begin_offset)
                    continue
                return IDLE_RECHECK_SECONDS
            for view in result.buffers:
                msg = m.decode_message(view)
                now = self.store.clock.now_ms()
                due = corrected_due_time(msg.store_timestamp + delay_ms, now, delay_ms)
                if due > now:
                    return min(IDLE_RECHECK_SECONDS, (due - now) / 1000)
                delivered = await self._deliver(msg)
                if not delivered:
                    return IDLE_RECHECK_SECONDS
                self._advance(level, msg.queue_offset + 1)

    def _advance(self, level: int, offset: int) -> None:
        self.offsets[level] = offset
        self.dirty = True

    async def _deliver(self, msg: m.MessageExt) -> bool:
        properties = dict(msg.properties)
        real_topic = properties.get(m.PROPERTY_REAL_TOPIC)
        real_queue = properties.get(m.PROPERTY_REAL_QUEUE_ID)
        if not real_topic or real_queue is None or not real_queue.lstrip("-").isdigit():
            log.error("schedule message has no real topic or queue, dropped: %s", msg.msg_id)
            return True
        properties.pop(m.PROPERTY_DELAY_TIME_LEVEL, None)
        properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        inner = m.MessageExtBrokerInner(
            topic=real_topic, body=msg.body, queue_id=int(real_queue), flag=msg.flag, properties=properties,
            sys_flag=msg.sys_flag & ~m.HOST_FLAGS_MASK, born_timestamp=msg.born_timestamp, born_host=msg.born_host,
            reconsume_times=msg.reconsume_times, prepared_transaction_offset=msg.prepared_transaction_offset,
            tags_code=m.tags_string_to_tags_code(properties.get(m.PROPERTY_TAGS)))
        result = await self.store.put_message(inner)
        if result.status is PutMessageStatus.PUT_OK:
            return True
        log.warning("schedule delivery of %s to %s failed: %s", msg.msg_id, real_topic, result.status.name)
        return False
