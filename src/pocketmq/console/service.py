"""What the console shows and does, as plain data: cluster, topics, consumer groups, messages,
dead-letter queues. Everything goes through PocketMQ's admin API and client (``AsyncAdmin``,
``AsyncProducer``), so the console works against an Apache RocketMQ 4.9 cluster too.

Every call is bounded by the admin API's timeout: a broker that is down or stopped makes a page
say so, never hang. Failures are raised as ``ConsoleError`` with a one-line reason.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pocketmq.client import AsyncProducer, Message
from pocketmq.client.admin import AsyncAdmin
from pocketmq.client.config import ClientConfig
from pocketmq.client.errors import MQBrokerError, MQClientError
from pocketmq.protocol import client_headers as h
from pocketmq.protocol.client_headers import PULL_FLAG_SUBSCRIPTION
from pocketmq.protocol.client_bodies import MessageQueue, SubscriptionGroupConfig
from pocketmq.protocol.message import MessageExt
from pocketmq.protocol.message_id import offset_message_id_problem
from pocketmq.protocol.route import MASTER_ID
from pocketmq.remoting.transport import RemotingError
from pocketmq.security.credentials import SessionCredentials

RETRY_PREFIX = "%RETRY%"
DLQ_PREFIX = "%DLQ%"
MAX_BODY_BYTES = 4 * 1024 * 1024  # the broker's default maxMessageSize
BODY_PREVIEW_BYTES = 4096
SYSTEM_TOPICS = ("TBW102", "SCHEDULE_TOPIC_XXXX", "RMQ_SYS_", "rmq_sys_", "OFFSET_MOVED_EVENT", "SELF_TEST_TOPIC",
                 "BenchmarkTest", "TRANS_CHECK_MAX_TIME_TOPIC")

_FAILURES = (MQClientError, MQBrokerError, RemotingError, OSError, asyncio.TimeoutError, ValueError)


class ConsoleError(Exception):
    """A one-line reason an action or a page could not be done."""


@dataclass
class BrokerRow:
    cluster: str
    name: str
    broker_id: int
    addr: str
    role: str = "?"
    version: str = "?"
    put_tps: str = "?"
    get_tps: str = "?"
    disk_ratio: str = "?"
    max_offset: int | None = None
    slave_lag_bytes: int | None = None
    put_distribution: list[int] = field(default_factory=list)
    error: str | None = None


@dataclass
class QueueRow:
    broker: str
    queue_id: int
    min_offset: int
    max_offset: int
    consumer_offset: int | None = None

    @property
    def lag(self) -> int | None:
        return None if self.consumer_offset is None else max(0, self.max_offset - self.consumer_offset)


@dataclass
class GroupView:
    name: str
    connections: list[Any] = field(default_factory=list)
    subscriptions: dict[str, str] = field(default_factory=dict)
    queues: dict[str, list[QueueRow]] = field(default_factory=dict)
    consume_tps: float = 0.0
    error: str | None = None

    @property
    def lag(self) -> int:
        return sum(q.lag or 0 for rows in self.queues.values() for q in rows)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


class ConsoleService:
    def __init__(self, namesrv_addr: str, timeout: float = 3.0, *, credentials: SessionCredentials | None = None,
                 use_tls: bool = False) -> None:
        self.namesrv_addr = namesrv_addr
        self.timeout = timeout
        self.credentials = credentials
        self.use_tls = use_tls
        self.admin = AsyncAdmin(config=self._client_config())
        self._producer: AsyncProducer | None = None

    def _client_config(self) -> ClientConfig:
        return ClientConfig(namesrv_addr=self.namesrv_addr, api_timeout=self.timeout, credentials=self.credentials,
                            use_tls=self.use_tls)

    async def start(self) -> None:
        await self.admin.start()

    async def shutdown(self) -> None:
        if self._producer is not None:
            await self._producer.shutdown()
        await self.admin.shutdown()

    async def _call(self, coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, self.timeout * 2)
        except _FAILURES as exc:
            raise ConsoleError(_reason(exc)) from None

    # ------------------------------------------------------------------ cluster
    async def brokers(self) -> list[BrokerRow]:
        info = await self._call(self.admin.cluster_info())
        rows: list[BrokerRow] = []
        for cluster, names in sorted(info.clusterAddrTable.items()):
            for name in sorted(names):
                data = info.brokerAddrTable.get(name)
                if data is not None:
                    rows += [BrokerRow(cluster, name, bid, addr) for bid, addr in sorted(data.brokerAddrs.items())]
        await asyncio.gather(*(self._fill_runtime(row) for row in rows))
        masters = {r.name: r.max_offset for r in rows if r.broker_id == MASTER_ID}
        for row in rows:
            master_max = masters.get(row.name)
            if row.broker_id != MASTER_ID and row.max_offset is not None and master_max is not None:
                row.slave_lag_bytes = max(0, master_max - row.max_offset)
        return rows

    async def _fill_runtime(self, row: BrokerRow) -> None:
        try:
            table = await self._call(self.admin.broker_runtime_info(row.addr))
        except ConsoleError as exc:
            row.error = str(exc)
            return
        row.role = table.get("brokerRole", "?")
        row.version = table.get("brokerVersionDesc", "?")
        row.put_tps = table.get("putTps", "?").split(" ")[0]
        row.get_tps = table.get("getTransferedTps", "?").split(" ")[0]
        row.disk_ratio = table.get("commitLogDiskRatio", "?")
        if table.get("commitLogMaxOffset", "").isdigit():
            row.max_offset = int(table["commitLogMaxOffset"])
        row.put_distribution = parse_distribution(table.get("putMessageDistributeTime", ""))

    # ------------------------------------------------------------------ topics
    async def topics(self) -> list[str]:
        return sorted(await self._call(self.admin.topic_list()))

    async def clusters(self) -> list[str]:
        info = await self._call(self.admin.cluster_info())
        return sorted(info.clusterAddrTable)

    async def topic_queues(self, topic: str) -> tuple[Any, list[QueueRow]]:
        route = await self._call(self.admin.topic_route(topic))
        stats = await self._call(self.admin.topic_stats(topic))
        rows = [QueueRow(mq.brokerName, mq.queueId, s.minOffset, s.maxOffset)
                for mq, s in sorted(stats.items(), key=lambda kv: (kv[0].brokerName, kv[0].queueId))]
        return route, rows

    async def create_topic(self, topic: str, cluster: str, queues: int, perm: int = 6) -> None:
        check_name(topic, "topic")
        if not 1 <= queues <= 1024:
            raise ConsoleError("queues must be between 1 and 1024")
        await self._call(self.admin.create_topic(topic, cluster=cluster, read_queue_nums=queues,
                                                 write_queue_nums=queues, perm=perm))

    async def delete_topic(self, topic: str, cluster: str) -> None:
        await self._call(self.admin.delete_topic(topic, cluster))

    # ------------------------------------------------------------------ groups
    async def groups(self) -> list[str]:
        names: set[str] = set()
        for row in await self.brokers():
            if row.broker_id == MASTER_ID and row.error is None:
                try:
                    names.update(await self._call(self.admin.subscription_groups(row.addr)))
                except ConsoleError:
                    continue
        return sorted(n for n in names if not n.startswith(("CID_RMQ_SYS_", "TOOLS_CONSUMER", "SELF_TEST_")))

    async def group(self, group: str) -> GroupView:
        view = GroupView(group)
        try:
            connection = await self._call(self.admin.consumer_connection(group))
            view.connections = list(connection.connectionSet)
            view.subscriptions = {t: s.subString for t, s in connection.subscriptionTable.items()}
        except ConsoleError as exc:
            view.error = f"no online consumer ({exc})"
        try:
            stats = await self._call(self.admin.consume_stats(group))
        except ConsoleError as exc:
            raise ConsoleError(f"consumer group {group}: {exc}") from None
        view.consume_tps = stats.consumeTps
        for mq, w in sorted(stats.offsetTable.items(), key=lambda kv: (kv[0].topic, kv[0].brokerName, kv[0].queueId)):
            view.queues.setdefault(mq.topic, []).append(
                QueueRow(mq.brokerName, mq.queueId, 0, w.brokerOffset, w.consumerOffset))
        return view

    async def reset_offset(self, group: str, topic: str, timestamp_ms: int) -> dict[MessageQueue, int]:
        return await self._call(self.admin.reset_offset_by_timestamp(topic, group, timestamp_ms, True))

    async def create_group(self, group: str, cluster: str) -> None:
        check_name(group, "group")
        await self._call(self.admin.create_subscription_group(SubscriptionGroupConfig(groupName=group),
                                                              cluster=cluster))

    async def delete_group(self, group: str, cluster: str) -> None:
        await self._call(self.admin.delete_subscription_group(group, cluster=cluster))

    # ------------------------------------------------------------------ messages
    async def by_id(self, topic: str, msg_id: str) -> MessageExt:
        msg_id = msg_id.strip()
        if not msg_id:
            raise ConsoleError("give a message id")
        if topic:
            return await self._call(self.admin.query_message_by_id(topic, msg_id))
        problem = offset_message_id_problem(msg_id)
        if problem:
            raise ConsoleError(problem + "; give the topic to look a unique key up")
        return await self._call(self.admin.view_message(msg_id))

    async def by_key(self, topic: str, key: str) -> list[MessageExt]:
        if not topic or not key:
            raise ConsoleError("give a topic and a key")
        return await self._call(self.admin.query_message(topic, key, 64))

    async def by_time(self, topic: str, begin_ms: int, end_ms: int, limit: int = 64) -> list[MessageExt]:
        """Messages of ``topic`` stored between ``begin_ms`` and ``end_ms``, oldest first per queue."""
        if end_ms < begin_ms:
            raise ConsoleError("the end is before the beginning")
        stats = await self._call(self.admin.topic_stats(topic))
        found: list[MessageExt] = []
        for mq in sorted(stats, key=lambda q: (q.brokerName, q.queueId)):
            low = await self._call(self.admin.search_offset(mq, begin_ms))
            high = await self._call(self.admin.search_offset(mq, end_ms))
            offset = low
            while offset <= high and len(found) < limit:
                result = await self._pull(mq, offset)
                if not result:
                    break
                for msg in result:
                    if begin_ms <= msg.store_timestamp <= end_ms:
                        found.append(msg)
                offset = result[-1].queue_offset + 1
        return sorted(found, key=lambda m: m.store_timestamp)[:limit]

    async def _pull(self, mq: MessageQueue, offset: int) -> list[MessageExt]:
        route = await self._call(self.admin.topic_route(mq.topic))
        addr = next((bd.brokerAddrs.get(MASTER_ID) for bd in route.brokerDatas if bd.brokerName == mq.brokerName), None)
        if addr is None:
            raise ConsoleError(f"broker {mq.brokerName} has no master")
        header = h.PullMessageRequestHeader(
            consumerGroup="TOOLS_CONSUMER", topic=mq.topic, queueId=mq.queueId, queueOffset=offset, maxMsgNums=32,
            sysFlag=PULL_FLAG_SUBSCRIPTION, commitOffset=0, suspendTimeoutMillis=0, subVersion=0, subscription="*",
            expressionType="TAG")
        result = await self._call(self.admin.api.pull_message(addr, header, timeout=self.timeout))
        return list(result.messages)

    async def send(self, topic: str, body: bytes, tags: str | None = None, keys: str | None = None,
                   properties: dict[str, str] | None = None) -> Any:
        if len(body) > MAX_BODY_BYTES:
            raise ConsoleError(f"the body has {len(body)} bytes; the broker takes at most {MAX_BODY_BYTES}")
        if not body:
            raise ConsoleError("the body is empty")
        producer = await self._ensure_producer()
        return await self._call(producer.send(Message(topic, body, tags=tags or None, keys=keys or None,
                                                      properties=properties or {})))

    async def resend_to_group(self, msg_id: str, topic: str, group: str) -> Any:
        """Deliver a message again to one consumer group (as a retry of that group; consumers of
        every client language subscribe to it): the dashboard's resend, for DLQ messages too."""
        msg = await self.by_id(topic, msg_id)
        original = msg.properties.get("RETRY_TOPIC") or (msg.topic if not msg.topic.startswith(DLQ_PREFIX) else "")
        props = {k: v for k, v in msg.properties.items()
                 if k not in ("MIN_OFFSET", "MAX_OFFSET", "UNIQ_KEY", "CLUSTER", "REAL_TOPIC", "REAL_QID", "WAIT")}
        if original:
            props["RETRY_TOPIC"] = original
        props.pop("TAGS", None)
        props.pop("KEYS", None)
        return await self.send(RETRY_PREFIX + group, msg.body, tags=msg.tags, keys=msg.keys, properties=props)

    async def dlq_groups(self) -> list[str]:
        return [t[len(DLQ_PREFIX):] for t in await self.topics() if t.startswith(DLQ_PREFIX)]

    async def _ensure_producer(self) -> AsyncProducer:
        if self._producer is None:
            producer = AsyncProducer("CONSOLE_PRODUCER", config=self._client_config())
            await self._call(producer.start())
            self._producer = producer
        return self._producer


# putMessageDistributeTime buckets (<=0ms, 0~10ms, 10~50ms, ... 10s~) and a typical value of each, in ms.
_BUCKET_MIDPOINTS_MS = (0, 5, 30, 75, 150, 350, 750, 1500, 2500, 3500, 4500, 7500, 10000)


def parse_distribution(text: str) -> list[int]:
    """``[<=0ms]:3 [0~10ms]:120 ...`` -> [3, 120, ...] (empty when absent)."""
    counts = []
    for item in text.split():
        _, _, count = item.rpartition(":")
        if not count.isdigit():
            return []
        counts.append(int(count))
    return counts if len(counts) == len(_BUCKET_MIDPOINTS_MS) else []


class PutLatency:
    """Mean put latency between two looks at the brokers' put distributions (approximate: each
    put counts as the middle of its bucket), the console's latency chart."""

    def __init__(self) -> None:
        self._last: dict[str, list[int]] = {}

    def mean_ms(self, rows: list[BrokerRow]) -> float:
        puts, total = 0, 0.0
        for row in rows:
            now = row.put_distribution
            before = self._last.get(row.addr)
            if now:
                self._last[row.addr] = now
            if not now or not before:
                continue
            for mid, a, b in zip(_BUCKET_MIDPOINTS_MS, before, now):
                puts += max(0, b - a)
                total += max(0, b - a) * mid
        return round(total / puts, 2) if puts else 0.0


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_%|")


def check_name(name: str, what: str) -> None:
    """Upstream's topic/group name rule: 1-127 characters of ``[%|a-zA-Z0-9_-]``."""
    if not name or len(name) > 127 or any(c not in _NAME_CHARS for c in name):
        raise ConsoleError(f"bad {what} name {name!r}: use 1-127 characters of letters, digits, '-', '_', '%', '|'")


def is_system_topic(topic: str) -> bool:
    return topic.startswith(SYSTEM_TOPICS) or topic.startswith((RETRY_PREFIX, DLQ_PREFIX))
