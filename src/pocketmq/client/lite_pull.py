"""Lite pull consumers: ``AsyncLitePullConsumer`` and ``LitePullConsumer`` (sync) (upstream
DefaultLitePullConsumer).

Either ``subscribe()`` (queues assigned by rebalance, like a push consumer) or ``assign()``
explicit queues. Background long-poll pull loops fill a buffer; ``poll()`` hands out what they
fetched and advances the consumed offset; ``commit()`` (or auto-commit every
``auto_commit_interval`` seconds) stores consumed offsets on the broker. ``seek()`` moves a
queue's read position.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Iterable

from pocketmq.client import _sync
from pocketmq.client.api import PullStatus
from pocketmq.client.errors import MQClientError
from pocketmq.client.instance import subscribe_queues
from pocketmq.client.offset_store import ReadOffsetType
from pocketmq.client.process_queue import ProcessQueue
from pocketmq.client.rebalance import RebalancingConsumer
from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol import client_headers as h
from pocketmq.protocol.client_bodies import MessageQueue, SubscriptionData
from pocketmq.protocol.message import MessageExt
from pocketmq.protocol.route import MASTER_ID

log = logging.getLogger("pocketmq.client")


class AsyncLitePullConsumer(RebalancingConsumer):
    consume_type = bodies.CONSUME_ACTIVELY

    def __init__(self, group: str, namesrv_addr: str | list[str] | None = None, *,
                 auto_commit: bool = True, auto_commit_interval: float = 5.0, pull_batch_size: int = 10,
                 pull_threshold_for_queue: int = 1000, poll_timeout: float = 5.0,
                 broker_suspend_max_time: float = 15.0, **kwargs: Any) -> None:
        super().__init__(group, namesrv_addr, **kwargs)
        self.auto_commit = auto_commit
        self.auto_commit_interval = auto_commit_interval
        self.pull_batch_size = pull_batch_size
        self.pull_threshold_for_queue = pull_threshold_for_queue
        self.poll_timeout = poll_timeout
        self.broker_suspend_max_time = broker_suspend_max_time
        self.assigned: set[MessageQueue] | None = None
        self._assign_subs: dict[str, SubscriptionData] = {}
        self._buffer: asyncio.Queue[tuple[MessageQueue, ProcessQueue, list[MessageExt]]] = asyncio.Queue()
        self._consumed: dict[MessageQueue, int] = {}
        self._pull_tasks: dict[MessageQueue, asyncio.Task[None]] = {}
        self._suggested: dict[MessageQueue, int] = {}
        self._commit_task: asyncio.Task[None] | None = None
        self._running = False

    # ------------------------------------------------------------------ setup
    def subscribe(self, topic: str, expression: str = "*", *, sql: bool = False) -> None:
        if self.assigned is not None:
            raise MQClientError("Subscribe and assign are mutually exclusive.")
        super().subscribe(topic, expression, sql=sql)

    def assign(self, mqs: Iterable[MessageQueue]) -> None:
        if self.subscriptions:
            raise MQClientError("Subscribe and assign are mutually exclusive.")
        new = set(mqs)
        self.assigned = new
        for mq in new:
            self._assign_subs.setdefault(mq.topic, SubscriptionData.build(mq.topic))
        if self.instance is not None:
            asyncio.ensure_future(self._apply_assignment())

    async def _apply_assignment(self) -> None:
        assert self.assigned is not None
        for mq in list(self.pq_table):
            if mq not in self.assigned:
                self.pq_table.pop(mq).dropped = True
                task = self._pull_tasks.pop(mq, None)
                if task:
                    task.cancel()
        for mq in sorted(self.assigned):
            if mq in self.pq_table:
                continue
            offset = await self._start_offset(mq)
            if offset < 0:
                continue
            pq = ProcessQueue()
            self.pq_table[mq] = pq
            self._start_queue(mq, pq, offset)

    async def _start_offset(self, mq: MessageQueue) -> int:
        if mq in self._consumed:
            return self._consumed[mq]
        return await self.compute_pull_from_where(mq)

    async def fetch_message_queues(self, topic: str) -> list[MessageQueue]:
        route = await self._inst().update_topic_route(topic)
        assert route is not None
        return sorted(subscribe_queues(topic, route))

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        await self._start_core()
        if self.assigned is not None:
            for topic in self._assign_subs:
                try:
                    await self._inst().update_topic_route(topic)
                except Exception as exc:
                    log.warning("no route for %s: %s", topic, exc)
            await self._apply_assignment()
        if self.auto_commit:
            self._commit_task = asyncio.ensure_future(self._auto_commit_loop())

    async def shutdown(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._commit_task is not None:
            self._commit_task.cancel()
        for task in self._pull_tasks.values():
            task.cancel()
        if self.auto_commit:
            self._stage_consumed()
        await self._shutdown_core()

    async def __aenter__(self) -> "AsyncLitePullConsumer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def do_rebalance(self) -> None:
        if self.assigned is not None:
            return
        await super().do_rebalance()

    async def _auto_commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.auto_commit_interval)
            try:
                await self.commit()
            except Exception as exc:
                log.debug("auto commit failed: %s", exc)

    # ------------------------------------------------------------------ pulling
    def _start_queue(self, mq: MessageQueue, pq: ProcessQueue, offset: int) -> None:
        old = self._pull_tasks.pop(mq, None)
        if old is not None:
            old.cancel()
        self._consumed.setdefault(mq, offset)
        self._pull_tasks[mq] = asyncio.ensure_future(self._pull_loop(mq, pq, offset))

    async def _pull_loop(self, mq: MessageQueue, pq: ProcessQueue, offset: int) -> None:
        inst = self._inst()
        next_offset = offset
        while self._running and not pq.dropped:
            if pq.msg_count > self.pull_threshold_for_queue:
                pq.wakeup.clear()
                try:
                    await asyncio.wait_for(pq.wakeup.wait(), 0.05)
                except asyncio.TimeoutError:
                    pass
                continue
            sub = self.subscriptions.get(mq.topic) or self._assign_subs.get(mq.topic)
            found = inst.find_broker_address_in_subscribe(mq.brokerName, self._suggested.get(mq, MASTER_ID), False)
            if sub is None or found is None:
                inst.refresh_route_soon(mq.topic)
                await asyncio.sleep(1.0)
                continue
            addr, slave = found
            header = h.PullMessageRequestHeader(
                consumerGroup=self.group, topic=mq.topic, queueId=mq.queueId, queueOffset=next_offset,
                maxMsgNums=self.pull_batch_size, sysFlag=h.build_pull_sys_flag(False, True, True),
                commitOffset=0, suspendTimeoutMillis=int(self.broker_suspend_max_time * 1000),
                subVersion=sub.subVersion, subscription=sub.subString, expressionType=sub.expressionType)
            try:
                result = await inst.api.pull_message(addr, header, self.broker_suspend_max_time + 15)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("pull %s failed: %s", mq, exc)
                self._suggested.pop(mq, None)
                inst.refresh_route_soon(mq.topic)
                await asyncio.sleep(1.0)
                continue
            self._suggested[mq] = result.suggest_which_broker_id
            if pq.dropped:
                return
            if result.status is PullStatus.OFFSET_ILLEGAL:
                log.warning("offset %d of %s illegal, moving to %d", next_offset, mq, result.next_begin_offset)
            next_offset = result.next_begin_offset
            if result.status is PullStatus.FOUND:
                msgs = self.filter_by_tags(mq.topic, result.messages)
                if msgs:
                    pq.put(msgs)
                    pq.consuming_orderly = False
                    self._buffer.put_nowait((mq, pq, msgs))
                elif pq.msg_count == 0:
                    self._consumed[mq] = next_offset
            elif pq.msg_count == 0 and result.status is PullStatus.NO_MATCHED_MSG:
                self._consumed[mq] = next_offset

    # ------------------------------------------------------------------ user API
    async def poll(self, timeout: float | None = None) -> list[MessageExt]:
        """Messages fetched so far (waits up to ``timeout`` seconds for some); [] on timeout."""
        deadline = time.monotonic() + (self.poll_timeout if timeout is None else timeout)
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    mq, pq, msgs = self._buffer.get_nowait()
                else:
                    mq, pq, msgs = await asyncio.wait_for(self._buffer.get(), remaining)
            except (asyncio.TimeoutError, asyncio.QueueEmpty):
                return []
            if pq.dropped or self.pq_table.get(mq) is not pq:
                continue
            offset = pq.remove(msgs)
            if offset >= 0:
                self._consumed[mq] = offset
            self.reset_retry_topic(msgs)
            return msgs

    def _stage_consumed(self) -> None:
        for mq, offset in self._consumed.items():
            if mq in self.pq_table and offset >= 0:
                self.offset_store.update(mq, offset)

    async def commit(self) -> None:
        """Store every consumed offset on the broker now (commitSync)."""
        self._stage_consumed()
        await self.offset_store.persist_all(list(self.pq_table))

    async def committed(self, mq: MessageQueue) -> int:
        return await self.offset_store.read(mq, ReadOffsetType.STORE)

    async def seek(self, mq: MessageQueue, offset: int) -> None:
        if mq not in self.pq_table:
            raise MQClientError(f"The message queue is not in assigned list, may be rebalancing, message queue: {mq}")
        inst = self._inst()
        addr = inst.find_broker_address_in_admin(mq.brokerName)
        if addr is not None:
            low, high = await inst.api.get_min_offset(addr, mq), await inst.api.get_max_offset(addr, mq)
            if not low <= offset <= high:
                raise MQClientError(f"Seek offset illegal, seek offset = {offset}, min offset = {low}, max offset = {high}")
        old = self.pq_table[mq]
        old.dropped = True
        pq = ProcessQueue()
        self.pq_table[mq] = pq
        self._consumed[mq] = offset
        self._start_queue(mq, pq, offset)

    async def seek_to_begin(self, mq: MessageQueue) -> None:
        addr = self._inst().find_broker_address_in_admin(mq.brokerName)
        if addr is None:
            raise MQClientError(f"The broker[{mq.brokerName}] not exist")
        await self.seek(mq, await self._inst().api.get_min_offset(addr, mq))

    async def seek_to_end(self, mq: MessageQueue) -> None:
        addr = self._inst().find_broker_address_in_admin(mq.brokerName)
        if addr is None:
            raise MQClientError(f"The broker[{mq.brokerName}] not exist")
        await self.seek(mq, await self._inst().api.get_max_offset(addr, mq))

    def assignment(self) -> set[MessageQueue]:
        return set(self.pq_table)


class LitePullConsumer:
    """Synchronous lite pull consumer: ``with LitePullConsumer("g", ns) as c: c.poll()``."""

    def __init__(self, group: str, namesrv_addr: str | list[str] | None = None, **kwargs: Any) -> None:
        self._async: AsyncLitePullConsumer = _sync.construct(AsyncLitePullConsumer, group, namesrv_addr, **kwargs)

    def subscribe(self, topic: str, expression: str = "*", *, sql: bool = False) -> None:
        async def go() -> None:
            self._async.subscribe(topic, expression, sql=sql)
        _sync.run(go())

    def assign(self, mqs: Iterable[MessageQueue]) -> None:
        mqs = list(mqs)

        async def go() -> None:
            self._async.assign(mqs)
        _sync.run(go())

    def start(self) -> "LitePullConsumer":
        _sync.run(self._async.start())
        return self

    def shutdown(self) -> None:
        _sync.run(self._async.shutdown())

    def __enter__(self) -> "LitePullConsumer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def poll(self, timeout: float | None = None) -> list[MessageExt]:
        return _sync.run(self._async.poll(timeout))

    def commit(self) -> None:
        _sync.run(self._async.commit())

    def committed(self, mq: MessageQueue) -> int:
        return _sync.run(self._async.committed(mq))

    def seek(self, mq: MessageQueue, offset: int) -> None:
        _sync.run(self._async.seek(mq, offset))

    def seek_to_begin(self, mq: MessageQueue) -> None:
        _sync.run(self._async.seek_to_begin(mq))

    def seek_to_end(self, mq: MessageQueue) -> None:
        _sync.run(self._async.seek_to_end(mq))

    def fetch_message_queues(self, topic: str) -> list[MessageQueue]:
        return _sync.run(self._async.fetch_message_queues(topic))

    def assignment(self) -> set[MessageQueue]:
        return _sync.run(_identity(self._async.assignment()))


async def _identity(value: Any) -> Any:
    return value
