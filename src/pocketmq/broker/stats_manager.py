"""Broker statistics (upstream BrokerStatsManager, StatsItemSet, StatsItem): per-topic put and
per-topic@group get counters, sampled every 10 s, 10 min and 1 h into upstream's minute, hour
and day windows, answered by VIEW_BROKER_STATS_DATA; plus the incoming message-type and size
counters the Prometheus exposition reads.

The hot path only adds to plain ints (``on_put``, ``on_get``, ``on_send_back``); windows and
families are computed when someone asks. Times come from an injected clock (milliseconds)."""

from __future__ import annotations

import bisect
import collections
import time
from typing import Callable

from pocketmq.metrics.buckets import MESSAGE_SIZE_BUCKETS

TOPIC_PUT_NUMS = "TOPIC_PUT_NUMS"
TOPIC_PUT_SIZE = "TOPIC_PUT_SIZE"
GROUP_GET_NUMS = "GROUP_GET_NUMS"
GROUP_GET_SIZE = "GROUP_GET_SIZE"
GROUP_GET_LATENCY = "GROUP_GET_LATENCY"
SNDBCK_PUT_NUMS = "SNDBCK_PUT_NUMS"
BROKER_PUT_NUMS = "BROKER_PUT_NUMS"
BROKER_GET_NUMS = "BROKER_GET_NUMS"
GROUP_GET_FROM_DISK_NUMS = "GROUP_GET_FROM_DISK_NUMS"
GROUP_GET_FROM_DISK_SIZE = "GROUP_GET_FROM_DISK_SIZE"
BROKER_GET_FROM_DISK_NUMS = "BROKER_GET_FROM_DISK_NUMS"
BROKER_GET_FROM_DISK_SIZE = "BROKER_GET_FROM_DISK_SIZE"
COMMERCIAL_NAMES = ("COMMERCIAL_SEND_TIMES", "COMMERCIAL_RCV_TIMES", "COMMERCIAL_SEND_SIZE", "COMMERCIAL_RCV_SIZE",
                    "COMMERCIAL_RCV_EPOLLS", "COMMERCIAL_SNDBCK_TIMES", "COMMERCIAL_PERM_FAILURES")
# The sets a 4.9.7 broker keeps (queue-level sets only with enableQueueStat, which PocketMQ lacks).
STATS_NAMES = (TOPIC_PUT_NUMS, TOPIC_PUT_SIZE, GROUP_GET_NUMS, GROUP_GET_SIZE, GROUP_GET_LATENCY, SNDBCK_PUT_NUMS,
               BROKER_PUT_NUMS, BROKER_GET_NUMS, GROUP_GET_FROM_DISK_NUMS, GROUP_GET_FROM_DISK_SIZE,
               BROKER_GET_FROM_DISK_NUMS, BROKER_GET_FROM_DISK_SIZE, *COMMERCIAL_NAMES)

MINUTE_SAMPLE_MS = 10_000
HOUR_SAMPLE_MS = 600_000
DAY_SAMPLE_MS = 3_600_000


def message_type(properties: str) -> str:
    """RocketMQ 5's message_type label from a stored property string (cheap substring tests)."""
    if "TRAN_MSG\x01true" in properties:
        return "transaction"
    if "DELAY\x01" in properties or "TIMER_" in properties:
        return "delay"
    if "__SHARDINGKEY\x01" in properties:
        return "fifo"
    return "normal"


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class StatsItem:
    """One key's running value and call count, with the three sampled windows."""

    __slots__ = ("value", "times", "minute", "hour", "day")

    def __init__(self) -> None:
        self.value = 0
        self.times = 0
        self.minute: collections.deque[tuple[int, int, int]] = collections.deque(maxlen=7)
        self.hour: collections.deque[tuple[int, int, int]] = collections.deque(maxlen=7)
        self.day: collections.deque[tuple[int, int, int]] = collections.deque(maxlen=25)

    def sample(self, window: collections.deque[tuple[int, int, int]], now_ms: int, period_ms: int) -> None:
        """As upstream's samplingIn*: the first sample is preceded by a zero one a period earlier."""
        if not window:
            window.append((now_ms - period_ms, 0, 0))
        window.append((now_ms, self.times, self.value))


def window_stats(window: collections.deque[tuple[int, int, int]]) -> dict[str, float | int]:
    """Upstream computeStatsData: sum, tps and avgpt between the first and last sample."""
    if not window:
        return {"sum": 0, "tps": 0.0, "avgpt": 0.0}
    first_ts, first_times, first_value = window[0]
    last_ts, last_times, last_value = window[-1]
    total = last_value - first_value
    elapsed = last_ts - first_ts
    tps = total * 1000.0 / elapsed if elapsed else 0.0
    times = last_times - first_times
    return {"sum": total, "tps": tps, "avgpt": total / times if times > 0 else 0.0}


class TypedIn:
    """Incoming messages of one topic and message type, for rocketmq_messages_in_total and friends."""

    __slots__ = ("messages", "bytes", "size_buckets", "size_sum", "size_count")

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.size_buckets = [0] * (len(MESSAGE_SIZE_BUCKETS) + 1)
        self.size_sum = 0
        self.size_count = 0


class BrokerStatsManager:
    def __init__(self, cluster_name: str, clock: Callable[[], int] = wall_clock_ms) -> None:
        self.cluster_name = cluster_name
        self.clock = clock
        self.sets: dict[str, dict[str, StatsItem]] = {name: {} for name in STATS_NAMES}
        self._typed_in: dict[str, dict[str, TypedIn]] = {}
        self.pulled: dict[tuple[str, str, int], int] = {}  # (topic, group, queue id) -> next offset to pull
        self.dlq: dict[tuple[str, str], int] = {}  # (group, origin topic) -> messages sent to the DLQ
        self.end_transactions: dict[tuple[str, bool], int] = {}  # (real topic, committed) -> count
        self._topic_put: dict[str, tuple[StatsItem, StatsItem, dict[str, TypedIn] | None]] = {}
        self._group_get: dict[tuple[str, str], tuple[StatsItem, StatsItem]] = {}
        self._broker_put: StatsItem | None = None  # created on first use, as upstream
        self._broker_get: StatsItem | None = None
        self._next_due = {"minute": 0, "hour": 0, "day": 0}

    def _item(self, name: str, key: str) -> StatsItem:
        table = self.sets[name]
        item = table.get(key)
        if item is None:
            item = table[key] = StatsItem()
        return item

    # ------------------------------------------------------------------------------ hot path
    def on_put(self, topic: str, message_type: str, nums: int, size: int) -> None:
        """A stored send: TOPIC_PUT_NUMS += nums (one call), TOPIC_PUT_SIZE += size, BROKER_PUT_NUMS += nums,
        and the topic's message-type counters and size histogram (one observation per request)."""
        entry = self._topic_put.get(topic)
        if entry is None:
            entry = self._new_put_entry(topic)
        put_nums, put_size, by_type = entry
        put_nums.value += nums
        put_nums.times += 1
        put_size.value += size
        put_size.times += 1
        broker_put = self._broker_put
        if broker_put is None:
            broker_put = self._broker_put = self._item(BROKER_PUT_NUMS, self.cluster_name)
        broker_put.value += nums  # upstream adds to the value only, not the call count
        if by_type is None:
            return  # retry and DLQ topics: RocketMQ 5 leaves them out of the message families
        typed = by_type.get(message_type)
        if typed is None:
            typed = by_type[message_type] = TypedIn()
        typed.messages += nums
        typed.bytes += size
        each = size // nums if nums > 1 else size
        typed.size_buckets[0 if each <= 1024 else bisect.bisect_left(MESSAGE_SIZE_BUCKETS, each)] += 1
        typed.size_sum += each
        typed.size_count += 1

    def _new_put_entry(self, topic: str) -> tuple[StatsItem, StatsItem, dict[str, TypedIn] | None]:
        by_type: dict[str, TypedIn] | None = None
        if not topic.startswith(("%RETRY%", "%DLQ%")):
            by_type = self._typed_in[topic] = {}
        entry = self._topic_put[topic] = (self._item(TOPIC_PUT_NUMS, topic), self._item(TOPIC_PUT_SIZE, topic),
                                          by_type)
        return entry

    @property
    def typed_in(self) -> dict[tuple[str, str], TypedIn]:
        """(topic, message type) -> incoming counters, for the exposition."""
        return {(topic, kind): typed for topic, by_type in list(self._typed_in.items())
                for kind, typed in list(by_type.items())}

    def on_get(self, group: str, topic: str, nums: int, size: int, queue_id: int = -1, next_offset: int = -1) -> None:
        """A pull that found messages: GROUP_GET_NUMS/SIZE under ``topic@group``, BROKER_GET_NUMS,
        and how far the group has pulled the queue (for the inflight and queueing figures)."""
        if queue_id >= 0:
            self.pulled[(topic, group, queue_id)] = next_offset
        pair = self._group_get.get((topic, group))
        if pair is None:
            key = f"{topic}@{group}"
            pair = self._group_get[(topic, group)] = (self._item(GROUP_GET_NUMS, key), self._item(GROUP_GET_SIZE, key))
        get_nums, get_size = pair
        get_nums.value += nums
        get_nums.times += 1
        get_size.value += size
        get_size.times += 1
        if self._broker_get is None:
            self._broker_get = self._item(BROKER_GET_NUMS, self.cluster_name)
        self._broker_get.value += nums

    def on_dlq(self, group: str, origin_topic: str) -> None:
        """A message sent to the group's DLQ (rocketmq_send_to_dlq_messages_total)."""
        key = (group, origin_topic)
        self.dlq[key] = self.dlq.get(key, 0) + 1

    def on_end_transaction(self, topic: str, commit: bool) -> None:
        """A half message committed or rolled back (rocketmq_commit/rollback_messages_total)."""
        key = (topic, commit)
        self.end_transactions[key] = self.end_transactions.get(key, 0) + 1

    def on_send_back(self, group: str, topic: str) -> None:
        item = self._item(SNDBCK_PUT_NUMS, f"{topic}@{group}")
        item.value += 1
        item.times += 1

    # ------------------------------------------------------------------------------ sampling
    def tick(self) -> None:
        """Take whichever samples are due (call every second or so)."""
        now = self.clock()
        for window, period in (("minute", MINUTE_SAMPLE_MS), ("hour", HOUR_SAMPLE_MS), ("day", DAY_SAMPLE_MS)):
            if now >= self._next_due[window]:
                self._next_due[window] = now + period
                self.sample(window, now, period)

    def sample(self, window: str, now_ms: int, period_ms: int) -> None:
        for table in self.sets.values():
            for item in table.values():
                item.sample(getattr(item, window), now_ms, period_ms)

    # -------------------------------------------------------------------------------- answers
    def view(self, name: str, key: str) -> dict[str, dict[str, float | int]] | None:
        """BrokerStatsData of one item, or None when upstream would say it does not exist."""
        item = self.sets.get(name, {}).get(key)
        if item is None:
            return None
        return {"statsDay": window_stats(item.day), "statsHour": window_stats(item.hour),
                "statsMinute": window_stats(item.minute)}

    def group_get(self) -> list[tuple[str, str, int, int]]:
        """(topic, group, messages, bytes) of every topic@group pulled from."""
        return [(topic, group, nums.value, size.value) for (topic, group), (nums, size) in self._group_get.items()]

    def forget_topic(self, topic: str) -> None:
        """Upstream onTopicDeleted (with autoDeleteUnusedStats): drop the topic's items."""
        self._topic_put.pop(topic, None)
        for name in (TOPIC_PUT_NUMS, TOPIC_PUT_SIZE):
            self.sets[name].pop(topic, None)
        self._typed_in.pop(topic, None)
        for key in [k for k in self._group_get if k[0] == topic]:
            del self._group_get[key]
        for key in [k for k in self.pulled if k[0] == topic]:
            del self.pulled[key]
        prefix = topic + "@"
        for name in (GROUP_GET_NUMS, GROUP_GET_SIZE, SNDBCK_PUT_NUMS):
            table = self.sets[name]
            for key in [k for k in table if k.startswith(prefix)]:
                del table[key]
