"""Held POP long-polling requests (upstream PopLongPollingService's counts): how many requests
wait per ``(topic, group, queueId)`` and over the whole service, and when a new one may not
wait — POLLING_FULL once ``maxPopPollingSize`` requests are held over the service or more than
``popPollingSize`` for one key. As upstream, pops and notifications are two services, counted
apart; POLLING_INFO reports the pops'."""

from __future__ import annotations

import contextlib
from typing import Iterator

Key = tuple[str, str, int]  # topic, group, queueId


class PollingCounts:
    def __init__(self) -> None:
        self.held: dict[Key, int] = {}
        self.total = 0

    def full(self, key: Key, max_total: int, max_per_key: int) -> bool:
        return self.total >= max_total or self.held.get(key, 0) > max_per_key

    def count(self, key: Key) -> int:
        return self.held.get(key, 0)

    @contextlib.contextmanager
    def holding(self, key: Key) -> Iterator[None]:
        self.held[key] = self.held.get(key, 0) + 1
        self.total += 1
        try:
            yield
        finally:
            self.total -= 1
            left = self.held.get(key, 1) - 1
            if left > 0:
                self.held[key] = left
            else:
                self.held.pop(key, None)
