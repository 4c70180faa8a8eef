"""Orderly (FIFO) POP's per-queue state (upstream ConsumerOrderInfoManager): which offsets of a
queue a group has in flight, since when, for how long, which of them are acked, and how often
each was delivered.

An orderly pop does not move the group's offset past what it delivers; it records an
``OrderInfo`` for the queue instead, and while any of its messages is neither acked nor past its
invisible time the queue is blocked for the group: nobody gets the next message of that queue
(so of its message groups) before the previous one is done. An ack sets the message's bit and
moves the group's offset to the first offset not acked; when the invisible time passes, the next
orderly pop reads again from that offset and the redelivered messages count one more attempt.

The state lives in memory: after a restart (or on a new master) the queue is simply not blocked,
and the group's offset — persisted and replicated as any offset — still points at the first
message not acked, so it is delivered again in order. That is at least once, never a skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pocketmq.clock import Clock

Key = tuple[str, str, int]  # topic, group, queueId


@dataclass
class OrderInfo:
    pop_time: int
    invisible_time: int
    offsets: list[int]
    attempt_id: str | None = None
    acked: set[int] = field(default_factory=set)
    counts: dict[int, int] = field(default_factory=dict)  # offset -> earlier deliveries (only > 0)
    next_visible: dict[int, int] = field(default_factory=dict)  # offset -> changed visibility time

    def blocks(self, attempt_id: str | None, now_ms: int) -> bool:
        if not self.offsets or (attempt_id and attempt_id == self.attempt_id):
            return False
        for offset in self.offsets:
            if offset in self.acked:
                continue
            if now_ms < self.next_visible.get(offset, self.pop_time + self.invisible_time):
                return True
        return False

    def next_offset(self) -> int:
        for offset in self.offsets:
            if offset not in self.acked:
                return offset
        return self.offsets[-1] + 1


class ConsumerOrderInfo:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.table: dict[Key, OrderInfo] = {}

    def blocked(self, key: Key, attempt_id: str | None) -> bool:
        info = self.table.get(key)
        return info is not None and info.blocks(attempt_id, self.clock.now_ms())

    def update(self, key: Key, pop_time: int, invisible_time: int, offsets: list[int],
               attempt_id: str | None) -> tuple[dict[int, int], int]:
        """Record a new orderly pop of ``offsets``; return (deliveries before, per offset that had
        any) and the smallest such count over the popped offsets, as upstream reports them."""
        old = self.table.get(key)
        info = OrderInfo(pop_time, invisible_time, list(offsets), attempt_id)
        if old is not None:
            same_attempt = attempt_id is not None and attempt_id == old.attempt_id
            for offset in offsets:
                before = old.counts.get(offset, 0)
                if offset in old.offsets and not same_attempt:
                    before += 1
                if before:
                    info.counts[offset] = before
        self.table[key] = info
        minimum = min((info.counts.get(o, 0) for o in offsets), default=0)
        return dict(info.counts), minimum

    def commit_and_next(self, key: Key, offset: int, pop_time: int) -> int:
        """Upstream commitAndNext: the group's next offset after acking ``offset``; -1 when the
        offset is not in flight, -2 when the ack is of an older pop (ignored)."""
        info = self.table.get(key)
        if info is None:
            return offset + 1
        if not info.offsets:
            return -1
        if pop_time != info.pop_time:
            return -2
        if offset not in info.offsets:
            return -1
        info.acked.add(offset)
        return info.next_offset()

    def change_visibility(self, key: Key, offset: int, pop_time: int, next_visible_ms: int) -> bool:
        info = self.table.get(key)
        if info is None or info.pop_time != pop_time or offset not in info.offsets:
            return False
        info.next_visible[offset] = next_visible_ms
        return True

    def clear(self, key: Key) -> None:
        self.table.pop(key, None)
