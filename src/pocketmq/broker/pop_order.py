"""Orderly (FIFO) POP's per-queue state (upstream ConsumerOrderInfoManager): which offsets of a
queue a group has in flight, since when, for how long, which of them are acked, and how often
each was delivered.

An orderly pop does not move the group's offset past what it delivers; it records an
``OrderInfo`` for the queue instead, and while any of its messages is neither acked nor past its
invisible time the queue is blocked for the group: nobody gets the next message of that queue
(so of its message groups) before the previous one is done. An ack sets the message's bit and
moves the group's offset to the first offset not acked; when the invisible time passes, the next
orderly pop reads again from that offset and the redelivered messages count one more attempt.

The table is persisted as upstream's ``config/consumerOrderInfo.json`` (``{"table":
{"topic@group": {queueId: {"popTime", "i", "o", "ot", "oc", "l", "cm", "a"}}}}``, ``o`` the first
offset then the others' distances from it, ``cm`` the acked bits) every 10 s and at shutdown,
and loaded at start-up, so a restart keeps a queue blocked while its message is in flight (a
kill -9 loses what changed since the last write). Entries of queues not consumed for 24 h are
dropped when written, as upstream's autoClean. Upstream's SlaveSynchronize does not copy it: a
slave that becomes master starts unblocked, and the group's offset — persisted and replicated as
any offset — still points at the first message not acked, so it is delivered again in order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pocketmq.clock import Clock
from pocketmq.persist import load_json_file, write_file_safely
from pocketmq.protocol import fastjson

Key = tuple[str, str, int]  # topic, group, queueId
CLEAN_SPAN_FROM_LAST_MS = 24 * 3600 * 1000  # upstream: entries not consumed for a day are dropped
FILE_NAME = "consumerOrderInfo.json"


@dataclass
class OrderInfo:
    pop_time: int
    invisible_time: int
    offsets: list[int]
    attempt_id: str | None = None
    acked: set[int] = field(default_factory=set)
    counts: dict[int, int] = field(default_factory=dict)  # offset -> earlier deliveries (only > 0)
    next_visible: dict[int, int] = field(default_factory=dict)  # offset -> changed visibility time
    last_consume: int = 0  # when last popped, acked or changed (upstream lastConsumeTimestamp)

    def encode(self) -> dict[str, Any]:
        """Upstream OrderInfo's JSON (fastjson omits null fields)."""
        first = self.offsets[0]
        out: dict[str, Any] = {"popTime": self.pop_time, "i": self.invisible_time,
                               "o": [first] + [o - first for o in self.offsets[1:]], "l": self.last_consume,
                               "cm": sum(1 << i for i, o in enumerate(self.offsets) if o in self.acked)}
        if self.attempt_id is not None:
            out["a"] = self.attempt_id
        if self.counts:
            out["oc"] = dict(self.counts)
        if self.next_visible:
            out["ot"] = dict(self.next_visible)
        return out

    @classmethod
    def decode(cls, data: dict[str, Any]) -> "OrderInfo":
        relative = [int(o) for o in data.get("o") or []]
        offsets = relative[:1] + [relative[0] + d for d in relative[1:]]
        bits = int(data.get("cm") or 0)
        return cls(int(data.get("popTime") or 0), int(data.get("i") or 0), offsets, data.get("a"),
                   {o for i, o in enumerate(offsets) if bits >> i & 1},
                   {int(k): int(v) for k, v in (data.get("oc") or {}).items()},
                   {int(k): int(v) for k, v in (data.get("ot") or {}).items()}, int(data.get("l") or 0))

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
    def __init__(self, clock: Clock, store_root: str | None = None) -> None:
        self.clock = clock
        self.table: dict[Key, OrderInfo] = {}
        self.path = os.path.join(store_root, "config", FILE_NAME) if store_root else None

    def load(self) -> None:
        data = load_json_file(self.path, fastjson.loads) if self.path else None
        for topic_group, queues in ((data or {}).get("table") or {}).items():
            topic, _, group = topic_group.partition("@")
            for queue_id, info in (queues or {}).items():
                decoded = OrderInfo.decode(info)
                if decoded.offsets:
                    self.table[(topic, group, int(queue_id))] = decoded

    def encode(self) -> bytes:
        now = self.clock.now_ms()
        for key in [k for k, info in self.table.items() if now - info.last_consume > CLEAN_SPAN_FROM_LAST_MS]:
            del self.table[key]
        table: dict[str, dict[int, Any]] = {}
        for (topic, group, queue_id), info in self.table.items():
            table.setdefault(f"{topic}@{group}", {})[queue_id] = info.encode()
        return fastjson.dumps({"table": table})

    def persist(self) -> None:
        if self.path:
            write_file_safely(self.path, self.encode())

    def blocked(self, key: Key, attempt_id: str | None) -> bool:
        info = self.table.get(key)
        return info is not None and info.blocks(attempt_id, self.clock.now_ms())

    def update(self, key: Key, pop_time: int, invisible_time: int, offsets: list[int],
               attempt_id: str | None) -> tuple[dict[int, int], int]:
        """Record a new orderly pop of ``offsets``; return (deliveries before, per offset that had
        any) and the smallest such count over the popped offsets, as upstream reports them."""
        old = self.table.get(key)
        info = OrderInfo(pop_time, invisible_time, list(offsets), attempt_id, last_consume=self.clock.now_ms())
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
        info.last_consume = self.clock.now_ms()
        return info.next_offset()

    def change_visibility(self, key: Key, offset: int, pop_time: int, next_visible_ms: int) -> bool:
        info = self.table.get(key)
        if info is None or info.pop_time != pop_time or offset not in info.offsets:
            return False
        info.next_visible[offset] = next_visible_ms
        info.last_consume = self.clock.now_ms()
        return True

    def clear(self, key: Key) -> None:
        self.table.pop(key, None)
