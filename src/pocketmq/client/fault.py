"""Producer queue selection: the per-topic publish info and the latency fault strategy
(upstream TopicPublishInfo, MQFaultStrategy, LatencyFaultToleranceImpl).

After each send the broker's latency maps to a penalty (550 ms -> 30 s ... 15 s -> 10 min; a
failed send counts as 30 s of latency -> 10 min); a penalised broker is skipped while any other
broker is available, and the least-bad broker is used when none is.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field

from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.route import MASTER_ID, TopicRouteData, is_writeable

LATENCY_MAX_MS = (50, 100, 550, 1000, 2000, 3000, 15000)
NOT_AVAILABLE_DURATION_MS = (0, 0, 30000, 60000, 120000, 180000, 600000)
FAILURE_LATENCY_MS = 30000


def publish_queues(topic: str, route: TopicRouteData) -> tuple[list[MessageQueue], bool]:
    """(queues, is_order_topic): ``orderTopicConf`` when set, else every writable queue of every
    broker set that has a master, brokers sorted by name."""
    if route.orderTopicConf:
        queues = []
        for item in route.orderTopicConf.split(";"):
            name, _, nums = item.partition(":")
            if name and nums:
                queues.extend(MessageQueue(topic, name, i) for i in range(int(nums)))
        return queues, True
    masters = {bd.brokerName for bd in route.brokerDatas if MASTER_ID in bd.brokerAddrs}
    queues = []
    for qd in sorted(route.queueDatas, key=lambda q: q.brokerName):
        if is_writeable(qd.perm) and qd.brokerName in masters:
            queues.extend(MessageQueue(topic, qd.brokerName, i) for i in range(qd.writeQueueNums))
    return queues, False


@dataclass
class TopicPublishInfo:
    queues: list[MessageQueue] = field(default_factory=list)
    order_topic: bool = False
    route: TopicRouteData | None = None
    counter: itertools.count = field(default_factory=lambda: itertools.count(random.randrange(1 << 16)))

    def ok(self) -> bool:
        return bool(self.queues)

    def next_index(self) -> int:
        return next(self.counter)

    def select(self, last_broker: str | None = None) -> MessageQueue:
        n = len(self.queues)
        for _ in range(n):
            mq = self.queues[self.next_index() % n]
            if mq.brokerName != last_broker:
                return mq
        return self.queues[self.next_index() % n]


@dataclass
class _FaultItem:
    latency_ms: float
    available_at: float  # time.monotonic()


class LatencyFaultTolerance:
    def __init__(self) -> None:
        self.items: dict[str, _FaultItem] = {}

    def update(self, broker: str, latency_ms: float, not_available_ms: float) -> None:
        self.items[broker] = _FaultItem(latency_ms, time.monotonic() + not_available_ms / 1000)

    def is_available(self, broker: str) -> bool:
        item = self.items.get(broker)
        return item is None or time.monotonic() >= item.available_at

    def remove(self, broker: str) -> None:
        self.items.pop(broker, None)

    def pick_one_at_least(self) -> str | None:
        if not self.items:
            return None
        return min(self.items.items(), key=lambda kv: (kv[1].available_at, kv[1].latency_ms))[0]


class FaultStrategy:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tolerance = LatencyFaultTolerance()

    @staticmethod
    def not_available_duration(latency_ms: float) -> int:
        for limit, duration in zip(reversed(LATENCY_MAX_MS), reversed(NOT_AVAILABLE_DURATION_MS)):
            if latency_ms >= limit:
                return duration
        return 0

    def update(self, broker: str, latency_ms: float, isolation: bool) -> None:
        if not self.enabled:
            return
        latency = FAILURE_LATENCY_MS if isolation else latency_ms
        self.tolerance.update(broker, latency, self.not_available_duration(latency))

    def select(self, info: TopicPublishInfo, last_broker: str | None) -> MessageQueue:
        if not self.enabled:
            return info.select(last_broker)
        n = len(info.queues)
        for _ in range(n):
            mq = info.queues[info.next_index() % n]
            if self.tolerance.is_available(mq.brokerName) and mq.brokerName != last_broker:
                return mq
        for _ in range(n):
            mq = info.queues[info.next_index() % n]
            if self.tolerance.is_available(mq.brokerName):
                return mq
        least_bad = self.tolerance.pick_one_at_least()
        candidates = [mq for mq in info.queues if mq.brokerName == least_bad]
        if candidates:
            return candidates[info.next_index() % len(candidates)]
        return info.select(last_broker)
