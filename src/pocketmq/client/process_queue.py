"""ProcessQueue: the messages pulled from one queue and not yet consumed (upstream
ProcessQueue). Its lowest unconsumed offset is what may be committed; its count and size drive
pull flow control; for orderly consumption it also holds the broker lock state and the
messages being consumed right now."""

from __future__ import annotations

import asyncio
import time

from pocketmq.protocol.message import MessageExt

LOCK_MAX_LIVE = 30.0       # rocketmq.client.rebalance.lockMaxLiveTime
PULL_MAX_IDLE = 120.0      # rocketmq.client.pull.pullMaxIdleTime


class ProcessQueue:
    def __init__(self) -> None:
        self.msgs: dict[int, MessageExt] = {}  # queue offset -> message, insertion order = offset order
        self.consuming: dict[int, MessageExt] = {}  # orderly: taken but not committed
        self.msg_count = 0
        self.msg_size = 0
        self.max_offset = -1
        self.dropped = False
        self.locked = False
        self.last_lock_time = 0.0
        self.last_pull_time = time.monotonic()
        self.last_consume_time = time.monotonic()
        self.consume_lock = asyncio.Lock()  # orderly: one consumer at a time
        self.consuming_orderly = False
        self.try_unlock_times = 0
        self.wakeup = asyncio.Event()  # pull loop waits on it while flow control holds

    def put(self, msgs: list[MessageExt]) -> bool:
        """Add pulled messages; True when an orderly consumer should be dispatched."""
        for msg in msgs:
            if msg.queue_offset in self.msgs or msg.queue_offset in self.consuming:
                continue
            if msg.queue_offset < self.max_offset:
                # arrives out of order only after a seek: keep the dict sorted
                self.msgs[msg.queue_offset] = msg
                self.msgs = dict(sorted(self.msgs.items()))
            else:
                self.msgs[msg.queue_offset] = msg
            self.max_offset = max(self.max_offset, msg.queue_offset)
            self.msg_count += 1
            self.msg_size += len(msg.body)
        dispatch = bool(self.msgs) and not self.consuming_orderly
        if dispatch:
            self.consuming_orderly = True
        return dispatch

    def remove(self, msgs: list[MessageExt]) -> int:
        """Drop consumed messages; returns the offset to commit (-1 if nothing was held)."""
        if not self.msgs and self.max_offset < 0:
            return -1
        for msg in msgs:
            if self.msgs.pop(msg.queue_offset, None) is not None:
                self.msg_count -= 1
                self.msg_size -= len(msg.body)
        self.last_consume_time = time.monotonic()
        self.wakeup.set()
        if self.msgs:
            return next(iter(self.msgs))
        return self.max_offset + 1

    def span(self) -> int:
        if not self.msgs:
            return 0
        return next(reversed(self.msgs)) - next(iter(self.msgs))

    # ----------------------------------------------------------------- orderly
    def take(self, n: int) -> list[MessageExt]:
        taken = []
        while self.msgs and len(taken) < n:
            offset = next(iter(self.msgs))
            msg = self.msgs.pop(offset)
            self.consuming[offset] = msg
            taken.append(msg)
        if not taken:
            self.consuming_orderly = False
        return taken

    def commit(self) -> int:
        """Orderly success: forget the consuming messages; returns the next offset or -1."""
        if not self.consuming:
            return -1
        offset = max(self.consuming) + 1
        for msg in self.consuming.values():
            self.msg_count -= 1
            self.msg_size -= len(msg.body)
        self.consuming.clear()
        self.wakeup.set()
        return offset

    def rollback(self, msgs: list[MessageExt] | None = None) -> None:
        """Orderly retry: put the consuming messages back in front."""
        back = dict(self.consuming)
        self.consuming.clear()
        self.msgs = dict(sorted({**back, **self.msgs}.items()))

    def lock_expired(self) -> bool:
        return time.monotonic() - self.last_lock_time > LOCK_MAX_LIVE

    def pull_expired(self) -> bool:
        return time.monotonic() - self.last_pull_time > PULL_MAX_IDLE

    def clear(self) -> None:
        self.msgs.clear()
        self.consuming.clear()
        self.msg_count = 0
        self.msg_size = 0
        self.max_offset = -1
