"""Queue locks for orderly consumers (upstream RebalanceLockManager): one client holds each
(group, message queue); a lock expires 60 s after its last renewal."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from pocketmq.protocol.client_bodies import MessageQueue

LOCK_MAX_LIVE_SECONDS = 60.0


@dataclass(slots=True)
class _Lock:
    client_id: str
    last_update: float


class RebalanceLockManager:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.table: dict[str, dict[MessageQueue, _Lock]] = {}

    def _holder(self, group: str, mq: MessageQueue) -> _Lock | None:
        lock = self.table.get(group, {}).get(mq)
        if lock is not None and self.clock() - lock.last_update > LOCK_MAX_LIVE_SECONDS:
            return None
        return lock

    def try_lock_batch(self, group: str, mqs: list[MessageQueue], client_id: str) -> list[MessageQueue]:
        locks = self.table.setdefault(group, {})
        now = self.clock()
        locked = []
        for mq in mqs:
            holder = self._holder(group, mq)
            if holder is None or holder.client_id == client_id:
                locks[mq] = _Lock(client_id, now)
                locked.append(mq)
        return locked

    def unlock_batch(self, group: str, mqs: list[MessageQueue], client_id: str) -> None:
        locks = self.table.get(group)
        if not locks:
            return
        for mq in mqs:
            lock = locks.get(mq)
            if lock is not None and lock.client_id == client_id:
                del locks[mq]

    def is_locked(self, group: str, mq: MessageQueue, client_id: str) -> bool:
        holder = self._holder(group, mq)
        return holder is not None and holder.client_id == client_id
