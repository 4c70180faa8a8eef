"""Timer message delivery (upstream TimerMessageStore, RIP-43), in PocketMQ's shape.

The store parks a timer message once, in ``rmq_sys_wheel_timer`` queue 0, with its slot in
``TIMER_OUT_MS`` (store/timer.py). So it is in the commit log, flushed and replicated to slaves
like every other message. This service keeps the wheel: an in-memory heap of pending timers
(slot, queue offset, commit log offset), filled by reading the timer queue in order. One task
loads new entries and, when the wall clock (the injected Clock) has passed a whole precision
beyond a slot, stores each of its messages again in its real topic and queue with its original
properties plus ``TIMER_ENQUEUE_MS`` (when it entered the timer topic) and ``TIMER_DEQUEUE_MS``
(now), ``TIMER_OUT_MS`` kept (so it is never timed again), as upstream's convertMessage stores it
(``REAL_TOPIC``/``REAL_QID`` too, as Apache 5.3.3 does). It sleeps until the next slot or a new timer arrives.

Crash safety. ``config/timerCheckpoint.json`` holds three numbers:
``minPendingOffset`` (every timer-queue offset below it is delivered), ``loadedOffset`` and
``readTimeMs`` (every loaded entry below ``loadedOffset`` whose slot is at or before
``readTimeMs`` is delivered). At start the wheel is rebuilt from the commit log: the timer queue
is read from ``minPendingOffset``, skipping the entries the checkpoint proves delivered. A
message is thus never lost once its put was acknowledged (kill -9 included); the ones delivered
after the last checkpoint write (at most ``timerFlushIntervalMs`` ago) are delivered again, as
upstream, which also re-runs the slots after its checkpoint's read time.

Masters and slaves. Only a master delivers. A slave copies its master's checkpoint every 10 s
(GET_TIMER_CHECK_POINT, as upstream's SlaveSynchronize.syncTimerCheckPoint) and rebuilds its
wheel from it when it is restarted as master, or promoted by the controller (``start``): the
messages its old master delivered in the last 10 s (plus the checkpoint interval) are delivered
again; none is lost.

Time. A slot is due when the wall clock has passed it by a precision, so a message arrives in
[deliver time, deliver time + timerPrecisionMs). The wheel is on wall-clock time as upstream's:
after the clock steps back a pending timer waits until the clock reaches its time again.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import os
from typing import Any

from pocketmq.aio import cancel_and_wait
from pocketmq.persist import load_json_file, write_file_safely
from pocketmq.protocol import fastjson
from pocketmq.protocol import message as m
from pocketmq.store.results import GetMessageStatus, PutMessageStatus
from pocketmq.store.timer import (
    PROPERTY_TIMER_DEQUEUE_MS, PROPERTY_TIMER_ENQUEUE_MS, PROPERTY_TIMER_OUT_MS, TIMER_TOPIC, TimerMessageIllegal,
    parse_java_long,
)

log = logging.getLogger("pocketmq.broker")

TIMER_GROUP = "TIMER_CONSUMER"
IDLE_RECHECK_SECONDS = 1.0
LOAD_BATCH = 32
YIELD_EVERY = 64
# Put outcomes a retry cannot fix: drop the message with a log line (upstream PUT_NO_RETRY).
_NO_RETRY = frozenset({PutMessageStatus.MESSAGE_ILLEGAL, PutMessageStatus.PROPERTIES_SIZE_EXCEEDED,
                       PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL, PutMessageStatus.WHEEL_TIMER_NOT_ENABLE})

Entry = tuple[int, int, int]  # (slot ms, timer queue offset, commit log offset)


class TimerCheckpoint:
    """What is proven delivered; see the module docstring."""

    def __init__(self, min_pending_offset: int = 0, loaded_offset: int = 0, read_time_ms: int = -1) -> None:
        self.min_pending_offset = min_pending_offset
        self.loaded_offset = loaded_offset
        self.read_time_ms = read_time_ms

    def to_dict(self) -> dict[str, int]:
        return {"minPendingOffset": self.min_pending_offset, "loadedOffset": self.loaded_offset,
                "readTimeMs": self.read_time_ms}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TimerCheckpoint":
        return cls(int(data.get("minPendingOffset", 0)), int(data.get("loadedOffset", 0)),
                   int(data.get("readTimeMs", -1)))

    def proves_delivered(self, queue_offset: int, slot: int) -> bool:
        return queue_offset < self.loaded_offset and slot <= self.read_time_ms


class TimerMessageService:
    def __init__(self, store: Any, store_root: str, precision_ms: int, flush_interval_ms: int = 1000) -> None:
        self.store = store
        self.clock = store.clock
        self.path = os.path.join(store_root, "config", "timerCheckpoint.json")
        self.precision_ms = max(1, precision_ms)
        self.flush_interval_s = max(0, flush_interval_ms) / 1000
        self.recovered = TimerCheckpoint()  # the checkpoint the wheel was rebuilt from
        self.wheel: list[Entry] = []
        self._pending_offsets: set[int] = set()
        self._in_flight: Entry | None = None
        self._low = 0                     # lowest timer queue offset maybe not delivered
        self._loaded = 0                  # next timer queue offset to read into the wheel
        self._last_persist = self.clock.monotonic()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._write: asyncio.Future[None] | None = None  # a checkpoint write on a worker thread
        self.dirty = False
        self.delivered_count = 0

    # --------------------------------------------------------------------------- checkpoint
    def load(self) -> None:
        data = load_json_file(self.path, fastjson.loads)
        if data:
            self.recovered = TimerCheckpoint.from_dict(data)
        self._low = self._loaded = self.recovered.min_pending_offset

    def checkpoint(self) -> TimerCheckpoint:
        """The checkpoint of the wheel as it is now (delivered entries proven, pending kept)."""
        pending_slots = [entry[0] for entry in self.wheel[:1]]
        if self._in_flight is not None:
            pending_slots.append(self._in_flight[0])
        low = self._advance_low()
        if self._in_flight is not None:
            low = min(low, self._in_flight[1])
        read_time = min(pending_slots) - 1 if pending_slots else -1
        return TimerCheckpoint(low, self._loaded, read_time)

    def encode_checkpoint(self) -> bytes:
        return fastjson.dumps(self.checkpoint().to_dict())

    def persist(self) -> None:
        write_file_safely(self.path, self.encode_checkpoint())
        self._last_persist = self.clock.monotonic()
        self.dirty = False

    async def persist_off_loop(self) -> None:
        """persist(), with the write and its fsync on a worker thread. Shielded: a stop while it
        runs waits for it (stop()) rather than racing it with a second write."""
        data = self.encode_checkpoint()
        self._last_persist = self.clock.monotonic()
        self.dirty = False
        self._write = asyncio.get_running_loop().run_in_executor(None, write_file_safely, self.path, data)
        await asyncio.shield(self._write)

    def replace_checkpoint(self, data: dict[str, Any]) -> None:
        """A slave copying its master's checkpoint; it starts from it when it becomes master."""
        checkpoint = TimerCheckpoint.from_dict(data)
        write_file_safely(self.path, fastjson.dumps(checkpoint.to_dict()))
        self.recovered = checkpoint

    def on_store_truncated(self, _target: int) -> None:
        """The store was cut back (a slave rejoining a new master): the timer queue now ends at
        ``M``, and what follows will be the new master's entries at the same offsets. The
        checkpoint keeps its start (capped at ``M``) and drops its proofs beyond it (read time),
        so a promotion before the next copy of the master's checkpoint delivers those entries
        (some perhaps twice) instead of skipping them. Idempotent (the truncation may be redone)."""
        end = self.store.get_max_offset_in_queue(TIMER_TOPIC, 0)
        start = min(self.recovered.min_pending_offset, end)
        self.recovered = TimerCheckpoint(start, start, -1)
        write_file_safely(self.path, fastjson.dumps(self.recovered.to_dict()))
        log.warning("timer checkpoint reset to timer-queue offset %d after the store was truncated", start)

    def _advance_low(self) -> int:
        while self._low < self._loaded and self._low not in self._pending_offsets:
            self._low += 1
        return self._low

    def runtime_info(self) -> dict[str, str]:
        """Upstream's brokerStatus keys: how far delivery is behind the clock (seconds), how many
        timer messages are not yet in the wheel, how many wait in it."""
        max_offset = self.store.get_max_offset_in_queue(TIMER_TOPIC, 0)
        behind_ms = self.clock.now_ms() - (self.wheel[0][0] + self.precision_ms) if self.wheel else 0
        return {"timerReadBehind": str(max(0, behind_ms) // 1000),
                "timerOffsetBehind": str(max(0, max_offset - self._loaded)),
                "timerCongestNum": str(len(self.wheel))}

    # ------------------------------------------------------------------------------ loading
    async def load_new_entries(self) -> int:
        """Read the timer queue from where the wheel stopped; returns how many entries were read.
        Yields to the event loop between batches (a restart may find a long backlog)."""
        max_offset = self.store.get_max_offset_in_queue(TIMER_TOPIC, 0)
        if self._loaded > max_offset:  # the commit log lost its tail (power loss): trust what is there
            log.warning("timer queue ends at %d, below the checkpoint's %d", max_offset, self._loaded)
            self._loaded = self._low = max_offset
            self.recovered.loaded_offset = min(self.recovered.loaded_offset, max_offset)
        read = 0
        while self._loaded < max_offset:
            result = self.store.get_message(TIMER_GROUP, TIMER_TOPIC, 0, self._loaded, LOAD_BATCH)
            if result.status is GetMessageStatus.OFFSET_TOO_SMALL:
                log.warning("timer messages %d..%d were deleted before delivery", self._loaded,
                            result.next_begin_offset)
                self._loaded = result.next_begin_offset
                continue
            if result.status is not GetMessageStatus.FOUND or not result.buffers:
                break
            for view in result.buffers:
                self._add(m.decode_message(view))
                read += 1
            self._loaded = max(self._loaded, result.next_begin_offset)
            await asyncio.sleep(0)
        if read:
            self.dirty = True
        return read

    def _add(self, msg: m.MessageExt) -> None:
        try:
            slot = parse_java_long(msg.properties.get(PROPERTY_TIMER_OUT_MS, ""))
        except TimerMessageIllegal:
            log.error("timer message %s at offset %d has no TIMER_OUT_MS, dropped", msg.msg_id, msg.queue_offset)
            return
        if self.recovered.proves_delivered(msg.queue_offset, slot):
            return
        heapq.heappush(self.wheel, (slot, msg.queue_offset, msg.commit_log_offset))
        self._pending_offsets.add(msg.queue_offset)

    # ----------------------------------------------------------------------------- delivery
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Deliver from now on (this broker is, or just became, the master). The wheel is rebuilt
        from the checkpoint held now: the one loaded at start-up, the one this broker left when it
        last stopped delivering, or, on a slave promoted by the controller, its master's copied one.
        The timer queue a slave holds is its master's (a rejoining old master truncated its own and
        replicated the new master's), so positions it reached under its own checkpoint may hold
        other messages now: it must not carry them over."""
        self._rebuild(self.recovered)
        self._wakeup = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _rebuild(self, checkpoint: TimerCheckpoint) -> None:
        self.wheel.clear()
        self._pending_offsets.clear()
        self._in_flight = None
        self._low = self._loaded = checkpoint.min_pending_offset

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
            self.recovered = self.checkpoint()  # where to start again if promoted before a sync
        if self._write is not None:
            await asyncio.wait([self._write])
        if self.dirty:
            self.persist()

    def on_message_arriving(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            self._wakeup.clear()
            try:
                pause = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad entry must not stop delivery for good
                log.exception("timer delivery failed")
                pause = IDLE_RECHECK_SECONDS
            try:
                await asyncio.wait_for(self._wakeup.wait(), pause)
            except asyncio.TimeoutError:
                pass

    async def run_once(self) -> float:
        """Load new timers, deliver the due ones; returns how long to sleep before looking again."""
        await self.load_new_entries()
        pause = await self._deliver_due()
        if self.dirty and self.clock.monotonic() - self._last_persist >= self.flush_interval_s:
            await self.persist_off_loop()
        return pause

    async def _deliver_due(self) -> float:
        while self.wheel:
            slot = self.wheel[0][0]
            now = self.clock.now_ms()
            if now < slot + self.precision_ms:
                return min(IDLE_RECHECK_SECONDS, (slot + self.precision_ms - now) / 1000)
            entry = heapq.heappop(self.wheel)
            self._in_flight = entry
            try:
                delivered = await self._deliver(entry, now)
            finally:
                self._in_flight = None
            if not delivered:
                heapq.heappush(self.wheel, entry)
                return IDLE_RECHECK_SECONDS
            self._pending_offsets.discard(entry[1])
            self.dirty = True
            if self.delivered_count % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a backlog of due timers must not hold the loop
        return IDLE_RECHECK_SECONDS

    async def _deliver(self, entry: Entry, now: int) -> bool:
        """Store one due timer in its real topic; False when the put should be tried again later."""
        slot, queue_offset, phy_offset = entry
        raw = self.store.look_message_by_offset(phy_offset)
        msg = m.decode_message(raw) if raw is not None else None
        if msg is None or msg.topic != TIMER_TOPIC or msg.queue_offset != queue_offset:
            log.error("timer message at offset %d (commit log %d) is gone, dropped", queue_offset, phy_offset)
            return True
        inner = to_real_message(msg, now)
        if inner is None:
            log.error("timer message %s has no real topic or queue, dropped", msg.msg_id)
            return True
        result = await self.store.put_message(inner)
        if result.status is PutMessageStatus.PUT_OK:
            self.delivered_count += 1
            return True
        if result.status in _NO_RETRY:
            log.error("timer delivery of %s to %s refused (%s), dropped", msg.msg_id, inner.topic, result.status.name)
            return True
        log.warning("timer delivery of %s to %s failed: %s; retrying", msg.msg_id, inner.topic, result.status.name)
        return False


def to_real_message(msg: m.MessageExt, now_ms: int) -> m.MessageExtBrokerInner | None:
    """Upstream's convert/convertMessage: the timer message back in its real topic and queue.
    ``REAL_TOPIC``/``REAL_QID`` stay in the stored properties: upstream's convertMessage clears
    them only after it has encoded the property string it stores (Apache 5.3.3 delivers them)."""
    properties = dict(msg.properties)
    real_topic = properties.get(m.PROPERTY_REAL_TOPIC)
    real_queue = properties.get(m.PROPERTY_REAL_QUEUE_ID)
    if not real_topic or real_queue is None or not real_queue.lstrip("-").isdigit():
        return None
    properties[PROPERTY_TIMER_ENQUEUE_MS] = str(msg.store_timestamp)
    properties[PROPERTY_TIMER_DEQUEUE_MS] = str(now_ms)
    properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
    return m.MessageExtBrokerInner(
        topic=real_topic, body=msg.body, queue_id=int(real_queue), flag=msg.flag, properties=properties,
        sys_flag=msg.sys_flag & ~m.HOST_FLAGS_MASK, born_timestamp=msg.born_timestamp, born_host=msg.born_host,
        reconsume_times=msg.reconsume_times, prepared_transaction_offset=msg.prepared_transaction_offset,
        tags_code=m.tags_string_to_tags_code(properties.get(m.PROPERTY_TAGS)))
