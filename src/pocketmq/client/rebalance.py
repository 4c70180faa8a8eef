"""What push and lite-pull consumers share: subscriptions, the rebalance that assigns queues
to this client (averaging / circle / consistent hash in clustering, every queue in
broadcasting), one ProcessQueue per owned queue, where to start reading a new queue
(consume-from-where), the offset store, and the instance hooks (heartbeat data, route updates,
offset persistence, offset reset).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from typing import Any

from pocketmq.client.allocate import AllocateAveragely, AllocateStrategy
from pocketmq.client.config import ClientConfig
from pocketmq.client.errors import MQClientError
from pocketmq.client.instance import ClientInstance
from pocketmq.client.offset_store import LocalFileOffsetStore, OffsetStore, ReadOffsetType, RemoteBrokerOffsetStore
from pocketmq.client.process_queue import ProcessQueue
from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol.client_bodies import BROADCASTING, CLUSTERING, MessageQueue, SubscriptionData
from pocketmq.protocol.message import MessageExt, PROPERTY_RETRY_TOPIC
from pocketmq.protocol.route import MASTER_ID

log = logging.getLogger("pocketmq.client")

RETRY_PREFIX = "%RETRY%"


class MessageModel(str, enum.Enum):
    CLUSTERING = CLUSTERING
    BROADCASTING = BROADCASTING


class ConsumeFromWhere(str, enum.Enum):
    LAST_OFFSET = "CONSUME_FROM_LAST_OFFSET"
    FIRST_OFFSET = "CONSUME_FROM_FIRST_OFFSET"
    TIMESTAMP = "CONSUME_FROM_TIMESTAMP"


def retry_topic(group: str) -> str:
    return RETRY_PREFIX + group


class RebalancingConsumer:
    consume_type = bodies.CONSUME_PASSIVELY
    orderly = False

    def __init__(self, group: str, namesrv_addr: str | list[str] | None, *,
                 message_model: MessageModel | str = MessageModel.CLUSTERING,
                 consume_from_where: ConsumeFromWhere | str = ConsumeFromWhere.LAST_OFFSET,
                 consume_timestamp: int | None = None,
                 allocate_strategy: AllocateStrategy | None = None,
                 offset_store_dir: str | None = None,
                 instance_name: str | None = None,
                 config: ClientConfig | None = None) -> None:
        if not group:
            raise MQClientError("consumerGroup is null")
        self.group = group
        self.config = config or ClientConfig(namesrv_addr=namesrv_addr)
        if instance_name:
            self.config.instance_name = instance_name
        self.message_model = MessageModel(message_model)
        self.consume_from_where = ConsumeFromWhere(consume_from_where)
        # upstream default: half an hour ago
        self.consume_timestamp = consume_timestamp or self.config.clock.now_ms() - 30 * 60 * 1000
        self.allocate_strategy = allocate_strategy or AllocateAveragely()
        self.offset_store_dir = offset_store_dir
        self.subscriptions: dict[str, SubscriptionData] = {}
        self.topic_queues: dict[str, set[MessageQueue]] = {}
        self.pq_table: dict[MessageQueue, ProcessQueue] = {}
        self.instance: ClientInstance | None = None
        self.offset_store: OffsetStore = OffsetStore()
        self._rebalance_lock = asyncio.Lock()
        self.start_time = self.config.clock.now_ms()

    @property
    def clustering(self) -> bool:
        return self.message_model is MessageModel.CLUSTERING

    def _inst(self) -> ClientInstance:
        if self.instance is None:
            raise MQClientError("The consumer service state not OK, maybe started once or not started")
        return self.instance

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, topic: str, expression: str = "*", *, sql: bool = False) -> None:
        """Tag expression (``"TagA || TagB"``, ``"*"``) or, with ``sql=True``, an SQL92 filter."""
        sub = SubscriptionData.build(topic, expression, bodies.EXPRESSION_SQL92 if sql else bodies.EXPRESSION_TAG)
        self.subscriptions[topic] = sub
        if self.instance is not None:
            asyncio.ensure_future(self._after_subscription_change(topic))

    def unsubscribe(self, topic: str) -> None:
        self.subscriptions.pop(topic, None)

    async def _after_subscription_change(self, topic: str) -> None:
        inst = self._inst()
        try:
            await inst.update_topic_route(topic)
        except Exception as exc:
            log.warning("no route for %s yet: %s", topic, exc)
        await inst.send_heartbeat_to_all_brokers()
        inst.rebalance_immediately()

    # ------------------------------------------------------------------ lifecycle
    async def _start_core(self) -> None:
        if self.instance is not None:
            return
        if self.clustering and self.consume_type == bodies.CONSUME_PASSIVELY:
            self.subscriptions.setdefault(retry_topic(self.group), SubscriptionData.build(retry_topic(self.group)))
        inst = ClientInstance(self.config)
        self.instance = inst
        if self.clustering:
            self.offset_store = RemoteBrokerOffsetStore(inst, self.group)
        else:
            self.offset_store = LocalFileOffsetStore(self.offset_store_dir, inst.client_id, self.group)
        await self.offset_store.load()
        inst.register_consumer(self)
        await inst.start()
        for topic in list(self.subscriptions):
            try:
                await inst.update_topic_route(topic)
            except Exception as exc:
                (log.debug if topic.startswith(RETRY_PREFIX) else log.warning)("no route for %s yet: %s", topic, exc)
        await inst.send_heartbeat_to_all_brokers()
        inst.rebalance_immediately()

    async def _shutdown_core(self) -> None:
        inst = self.instance
        if inst is None:
            return
        for pq in self.pq_table.values():
            pq.dropped = True
        await self.persist_offsets()
        if self.orderly and self.clustering:
            await self._unlock_all(list(self.pq_table))
        self.instance = None
        await inst.unregister(consumer_group=self.group)
        await inst.shutdown()

    # ------------------------------------------------------------------ instance hooks
    def consumer_data(self) -> bodies.ConsumerData:
        return bodies.ConsumerData(groupName=self.group, consumeType=self.consume_type,
                                   messageModel=self.message_model.value,
                                   consumeFromWhere=self.consume_from_where.value,
                                   subscriptionDataSet=list(self.subscriptions.values()), unitMode=False)

    def subscribe_topics(self) -> list[str]:
        return list(self.subscriptions)

    def update_subscribe_info(self, topic: str, mqs: set[MessageQueue]) -> None:
        self.topic_queues[topic] = mqs

    async def persist_offsets(self) -> None:
        await self.offset_store.persist_all(list(self.pq_table))

    async def reset_offset(self, topic: str, table: dict[MessageQueue, int]) -> None:
        for mq, offset in table.items():
            pq = self.pq_table.pop(mq, None)
            if pq is not None:
                pq.dropped = True
                pq.clear()
            self.offset_store.update(mq, offset)
        await self.offset_store.persist_all(table.keys())
        for mq in table:
            self.offset_store.remove(mq)
        self._inst().rebalance_immediately()

    def running_info(self) -> bytes:
        props = {"PROP_CONSUME_TYPE": self.consume_type, "PROP_CONSUMEORDERLY": str(self.orderly).lower(),
                 "PROP_CLIENT_VERSION": "V4_9_8", "PROP_CONSUMER_START_TIMESTAMP": str(self.start_time),
                 "PROP_NAMESERVER_ADDR": ";".join(self.config.namesrv_list())}
        mq_table = {mq: {"cachedMsgCount": pq.msg_count, "cachedMsgSizeInMiB": pq.msg_size // (1024 * 1024),
                         "commitOffset": self.offset_store.table.get(mq, -1), "droped": pq.dropped,
                         "locked": pq.locked, "lastPullTimestamp": self.config.clock.now_ms()}
                    for mq, pq in self.pq_table.items()}
        return bodies.encode_consumer_running_info(props, list(self.subscriptions.values()), mq_table)

    # ------------------------------------------------------------------ rebalance
    async def do_rebalance(self) -> None:
        if self.instance is None:
            return
        async with self._rebalance_lock:
            for topic in list(self.subscriptions):
                try:
                    await self._rebalance_topic(topic)
                except Exception as exc:
                    log.warning("rebalance of %s/%s failed: %s", self.group, topic, exc)
            for mq in [mq for mq in self.pq_table if mq.topic not in self.subscriptions]:
                pq = self.pq_table.pop(mq)
                pq.dropped = True

    async def allocated_queues(self, topic: str) -> set[MessageQueue] | None:
        mqs = self.topic_queues.get(topic)
        if not mqs:
            try:
                await self._inst().update_topic_route(topic)
            except Exception:
                return None
            mqs = self.topic_queues.get(topic)
            if not mqs:
                return None
        if not self.clustering:
            return set(mqs)
        inst = self._inst()
        addr = inst.find_consumer_address(topic)
        if addr is None:
            await inst.update_topic_route(topic)
            addr = inst.find_consumer_address(topic)
        if addr is None:
            return None
        cids = await inst.api.get_consumer_id_list(addr, self.group)
        if not cids:
            return None
        return set(self.allocate_strategy.allocate(self.group, inst.client_id, sorted(mqs), sorted(cids)))

    async def _rebalance_topic(self, topic: str) -> None:
        allocated = await self.allocated_queues(topic)
        if allocated is None:
            return
        await self._update_process_queues(topic, allocated)

    async def _update_process_queues(self, topic: str, allocated: set[MessageQueue]) -> bool:
        changed = False
        for mq, pq in list(self.pq_table.items()):
            if mq.topic != topic or mq in allocated:
                continue
            pq.dropped = True
            if await self._remove_unnecessary(mq, pq):
                self.pq_table.pop(mq, None)
                changed = True
        for mq in sorted(allocated):
            if mq in self.pq_table:
                continue
            if self.orderly and self.clustering and not await self._lock(mq):
                continue
            self.offset_store.remove(mq)
            offset = await self.compute_pull_from_where(mq)
            if offset < 0:
                log.warning("cannot compute the start offset of %s", mq)
                continue
            pq = ProcessQueue()
            if self.orderly and self.clustering:
                pq.locked = True
                pq.last_lock_time = time.monotonic()
            self.pq_table[mq] = pq
            self._start_queue(mq, pq, offset)
            changed = True
        if changed:
            self._queues_changed(topic, allocated)
        return changed

    def _queues_changed(self, topic: str, allocated: set[MessageQueue]) -> None:
        pass

    def _start_queue(self, mq: MessageQueue, pq: ProcessQueue, offset: int) -> None:
        raise NotImplementedError

    async def _remove_unnecessary(self, mq: MessageQueue, pq: ProcessQueue) -> bool:
        await self.offset_store.persist(mq)
        self.offset_store.remove(mq)
        if self.orderly and self.clustering:
            if pq.consume_lock.locked():
                pq.try_unlock_times += 1
                return False
            await self._unlock_all([mq])
        return True

    async def compute_pull_from_where(self, mq: MessageQueue) -> int:
        """Committed offset if any; otherwise per consume-from-where (upstream RebalancePushImpl)."""
        inst = self._inst()
        last = await self.offset_store.read(mq, ReadOffsetType.STORE)
        if last >= 0:
            return last
        if last != -1:
            return -1
        where = self.consume_from_where
        if where is ConsumeFromWhere.FIRST_OFFSET or mq.topic.startswith(RETRY_PREFIX) and where is ConsumeFromWhere.LAST_OFFSET:
            return 0
        addr = await self._any_broker_addr(mq)
        if addr is None:
            return -1
        try:
            if where is ConsumeFromWhere.LAST_OFFSET or mq.topic.startswith(RETRY_PREFIX):
                return await inst.api.get_max_offset(addr, mq)
            return await inst.api.search_offset(addr, mq, self.consume_timestamp)
        except Exception as exc:
            log.warning("offset lookup for %s failed: %s", mq, exc)
            return -1

    async def _any_broker_addr(self, mq: MessageQueue) -> str | None:
        inst = self._inst()
        addr = inst.find_broker_address_in_admin(mq.brokerName)
        if addr is None:
            try:
                await inst.update_topic_route(mq.topic)
            except Exception:
                return None
            addr = inst.find_broker_address_in_admin(mq.brokerName)
        return addr

    # ------------------------------------------------------------------ locks (orderly)
    async def _lock(self, mq: MessageQueue) -> bool:
        inst = self._inst()
        found = inst.find_broker_address_in_subscribe(mq.brokerName, MASTER_ID, True)
        if found is None:
            return False
        try:
            locked = await inst.api.lock_batch_mq(found[0], bodies.LockBatchRequestBody(self.group, inst.client_id, [mq]))
        except Exception as exc:
            log.debug("lock of %s failed: %s", mq, exc)
            return False
        ok = mq in locked
        pq = self.pq_table.get(mq)
        if pq is not None:
            pq.locked = ok
            if ok:
                pq.last_lock_time = time.monotonic()
        return ok

    async def lock_all(self) -> None:
        """Renew the broker locks of every owned queue (orderly clustering, every 20 s)."""
        inst = self.instance
        if inst is None:
            return
        by_broker: dict[str, list[MessageQueue]] = {}
        for mq in self.pq_table:
            by_broker.setdefault(mq.brokerName, []).append(mq)
        for broker, mqs in by_broker.items():
            found = inst.find_broker_address_in_subscribe(broker, MASTER_ID, True)
            if found is None:
                continue
            try:
                locked = set(await inst.api.lock_batch_mq(found[0], bodies.LockBatchRequestBody(self.group, inst.client_id, mqs)))
            except Exception as exc:
                log.debug("lock batch at %s failed: %s", found[0], exc)
                continue
            now = time.monotonic()
            for mq in mqs:
                pq = self.pq_table.get(mq)
                if pq is None:
                    continue
                pq.locked = mq in locked
                if pq.locked:
                    pq.last_lock_time = now
                    pq.wakeup.set()

    async def _unlock_all(self, mqs: list[MessageQueue]) -> None:
        inst = self.instance
        if inst is None:
            return
        by_broker: dict[str, list[MessageQueue]] = {}
        for mq in mqs:
            by_broker.setdefault(mq.brokerName, []).append(mq)
        for broker, group_mqs in by_broker.items():
            found = inst.find_broker_address_in_subscribe(broker, MASTER_ID, True)
            if found is None:
                continue
            try:
                await inst.api.unlock_batch_mq(found[0], bodies.LockBatchRequestBody(self.group, inst.client_id, group_mqs))
            except Exception as exc:
                log.debug("unlock at %s failed: %s", found[0], exc)

    # ------------------------------------------------------------------ helpers
    def reset_retry_topic(self, msgs: list[MessageExt]) -> None:
        """Messages redelivered through %RETRY%<group> show their original topic."""
        rt = retry_topic(self.group)
        for msg in msgs:
            original = msg.properties.get(PROPERTY_RETRY_TOPIC)
            if original and msg.topic == rt:
                msg.topic = original

    def filter_by_tags(self, topic: str, msgs: list[MessageExt]) -> list[MessageExt]:
        sub = self.subscriptions.get(topic)
        if sub is None or sub.expressionType != bodies.EXPRESSION_TAG or not sub.tagsSet:
            return msgs
        return [m for m in msgs if m.tags in sub.tagsSet]
