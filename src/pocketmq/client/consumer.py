"""Push consumers: ``AsyncPushConsumer`` (asyncio) and ``PushConsumer`` (synchronous facade)
(upstream DefaultMQPushConsumer, PullMessageService, ConsumeMessageConcurrentlyService,
ConsumeMessageOrderlyService).

Each owned queue has one long-polling pull loop (15 s broker hold) that stops while the queue
holds more than ``pull_threshold_for_queue`` messages or ``pull_threshold_size_for_queue`` MiB.
Concurrent listeners run up to ``consume_threads`` batches at once; a failed batch is sent back
to the broker (``%RETRY%<group>``, then ``%DLQ%<group>`` after ``max_reconsume_times``).
Orderly listeners consume one queue at a time, in order, holding the broker's queue lock.
Listeners may be plain functions (run on worker threads) or coroutine functions. Pulls go to
the broker id the broker suggests, falling back to a slave when the master is gone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import inspect
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pocketmq.client import _sync
from pocketmq.client.api import PullStatus
from pocketmq.client.errors import MQClientError
from pocketmq.client.message import message_id
from pocketmq.client.process_queue import ProcessQueue
from pocketmq.client.rebalance import ConsumeFromWhere, MessageModel, RebalancingConsumer
from pocketmq.protocol import client_headers as h
from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.message import MessageExt, PROPERTY_CONSUME_START_TIMESTAMP
from pocketmq.protocol.route import MASTER_ID

log = logging.getLogger("pocketmq.client")

__all__ = ["AsyncPushConsumer", "PushConsumer", "ConsumeStatus", "ConsumeOrderlyStatus", "ConsumeContext",
           "ConsumeOrderlyContext", "MessageModel", "ConsumeFromWhere"]


class ConsumeStatus(enum.Enum):
    """Result of a concurrent listener (upstream ConsumeConcurrentlyStatus)."""

    CONSUME_SUCCESS = "CONSUME_SUCCESS"
    RECONSUME_LATER = "RECONSUME_LATER"


class ConsumeOrderlyStatus(enum.Enum):
    SUCCESS = "SUCCESS"
    SUSPEND_CURRENT_QUEUE_A_MOMENT = "SUSPEND_CURRENT_QUEUE_A_MOMENT"


@dataclass
class ConsumeContext:
    """Passed to concurrent listeners. Set ``delay_level`` (retry delay, 0 = broker picks
    3 + reconsumeTimes; -1 = straight to DLQ) or ``ack_index`` (last consumed message's index)."""

    message_queue: MessageQueue
    delay_level: int = 0
    ack_index: int = 2 ** 31 - 1


@dataclass
class ConsumeOrderlyContext:
    message_queue: MessageQueue
    suspend_millis: int = -1


Listener = Callable[[list[MessageExt], Any], Any]


async def _call_listener(fn: Listener, executor: concurrent.futures.Executor | None, *args: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


class AsyncPushConsumer(RebalancingConsumer):
    """``consumer.subscribe("T", "TagA"); consumer.register_listener(fn); await consumer.start()``.
    ``fn(msgs, context)`` returns ``ConsumeStatus`` (None or True = success; False or an
    exception = retry later); orderly listeners return ``ConsumeOrderlyStatus``."""

    def __init__(self, group: str, namesrv_addr: str | list[str] | None = None, *,
                 listener: Listener | None = None, orderly: bool = False,
                 consume_threads: int = 20, consume_batch_size: int = 1, pull_batch_size: int = 32,
                 pull_threshold_for_queue: int = 1000, pull_threshold_size_for_queue: int = 100,
                 consume_concurrently_max_span: int = 2000, max_reconsume_times: int = -1,
                 suspend_current_queue_time_millis: int = 1000, pull_interval: float = 0.0,
                 broker_suspend_max_time: float = 15.0, consumer_timeout_when_suspend: float = 30.0,
                 await_termination: float = 5.0, **kwargs: Any) -> None:
        super().__init__(group, namesrv_addr, **kwargs)
        self.listener = listener
        self.orderly = orderly
        self.consume_threads = consume_threads
        self.consume_batch_size = consume_batch_size
        self.pull_batch_size = pull_batch_size
        self.pull_threshold_for_queue = pull_threshold_for_queue
        self.pull_threshold_size_for_queue = pull_threshold_size_for_queue
        self.consume_concurrently_max_span = consume_concurrently_max_span
        self.max_reconsume_times = max_reconsume_times
        self.suspend_current_queue_time_millis = suspend_current_queue_time_millis
        self.pull_interval = pull_interval
        self.broker_suspend_max_time = broker_suspend_max_time
        self.consumer_timeout_when_suspend = consumer_timeout_when_suspend
        self.await_termination = await_termination
        self.suggested_broker: dict[MessageQueue, int] = {}
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._pull_tasks: dict[MessageQueue, asyncio.Task[None]] = {}
        self._consume_tasks: set[asyncio.Task[None]] = set()
        self._lock_task: asyncio.Task[None] | None = None
        self._running = False

    def register_listener(self, listener: Listener, *, orderly: bool | None = None) -> None:
        self.listener = listener
        if orderly is not None:
            self.orderly = orderly

    @property
    def max_reconsume(self) -> int:
        if self.max_reconsume_times >= 0:
            return self.max_reconsume_times
        return 2 ** 31 - 1 if self.orderly else 16

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._running:
            return
        if self.listener is None:
            raise MQClientError("messageListener is null")
        if not self.subscriptions:
            raise MQClientError("no subscription: call subscribe() first")
        self._running = True
        self._semaphore = asyncio.Semaphore(self.consume_threads)
        self._executor = concurrent.futures.ThreadPoolExecutor(self.consume_threads,
                                                               thread_name_prefix=f"ConsumeMessageThread_{self.group}")
        await self._start_core()
        if self.orderly and self.clustering:
            self._lock_task = asyncio.ensure_future(self._lock_loop())

    async def shutdown(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._lock_task is not None:
            self._lock_task.cancel()
        for task in self._pull_tasks.values():
            task.cancel()
        if self._consume_tasks:
            await asyncio.wait(list(self._consume_tasks), timeout=self.await_termination)
        await self._shutdown_core()
        # A rebalance that was under way may have started pull tasks after the cancel above;
        # with the instance gone no new ones start, so cancel whatever is left, then wait.
        for task in self._pull_tasks.values():
            task.cancel()
        for task in list(self._pull_tasks.values()):
            try:
                await task
            except BaseException:
                pass
        self._pull_tasks.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> "AsyncPushConsumer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def _lock_loop(self) -> None:
        while True:
            await asyncio.sleep(20.0)
            try:
                await self.lock_all()
            except Exception as exc:
                log.debug("lock renewal failed: %s", exc)

    # ------------------------------------------------------------------ pulling
    def _start_queue(self, mq: MessageQueue, pq: ProcessQueue, offset: int) -> None:
        old = self._pull_tasks.pop(mq, None)
        if old is not None:
            old.cancel()
        self._pull_tasks[mq] = asyncio.ensure_future(self._pull_loop(mq, pq, offset))

    async def _wait(self, pq: ProcessQueue, seconds: float) -> None:
        pq.wakeup.clear()
        try:
            await asyncio.wait_for(pq.wakeup.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _pull_loop(self, mq: MessageQueue, pq: ProcessQueue, offset: int) -> None:
        inst = self._inst()
        next_offset = offset
        previously_locked = False
        try:
            while self._running and not pq.dropped:
                if pq.msg_count > self.pull_threshold_for_queue or \
                        pq.msg_size > self.pull_threshold_size_for_queue * 1024 * 1024:
                    await self._wait(pq, 0.05)
                    continue
                if self.orderly:
                    if self.clustering and not pq.locked:
                        await self._wait(pq, 3.0)
                        continue
                    if self.clustering and not previously_locked:
                        previously_locked = True
                        recomputed = await self.compute_pull_from_where(mq)
                        if recomputed >= 0:
                            next_offset = recomputed
                elif pq.span() > self.consume_concurrently_max_span:
                    await self._wait(pq, 0.05)
                    continue
                sub = self.subscriptions.get(mq.topic)
                if sub is None:
                    await asyncio.sleep(3.0)
                    continue
                found = inst.find_broker_address_in_subscribe(mq.brokerName,
                                                              self.suggested_broker.get(mq, MASTER_ID), False)
                if found is None:
                    inst.refresh_route_soon(mq.topic)
                    await asyncio.sleep(3.0)
                    continue
                addr, slave = found
                commit_offset = self.offset_store.table.get(mq, 0) if self.clustering else 0
                sys_flag = h.build_pull_sys_flag(commit_offset > 0 and not slave, True, True)
                header = h.PullMessageRequestHeader(
                    consumerGroup=self.group, topic=mq.topic, queueId=mq.queueId, queueOffset=next_offset,
                    maxMsgNums=self.pull_batch_size, sysFlag=sys_flag, commitOffset=commit_offset,
                    suspendTimeoutMillis=int(self.broker_suspend_max_time * 1000), subVersion=sub.subVersion,
                    subscription=sub.subString, expressionType=sub.expressionType)
                try:
                    result = await inst.api.pull_message(addr, header, self.consumer_timeout_when_suspend)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.debug("pull %s from %s failed: %s", mq, addr, exc)
                    self.suggested_broker.pop(mq, None)
                    inst.refresh_route_soon(mq.topic)
                    await asyncio.sleep(3.0 if not slave else 1.0)
                    continue
                pq.last_pull_time = time.monotonic()
                self.suggested_broker[mq] = result.suggest_which_broker_id
                if pq.dropped:
                    break
                if result.status is PullStatus.FOUND:
                    next_offset = result.next_begin_offset
                    msgs = self.filter_by_tags(mq.topic, result.messages)
                    if not msgs:
                        if pq.msg_count == 0:
                            self.offset_store.update(mq, next_offset, True)
                    else:
                        dispatch = pq.put(msgs)
                        self._submit(msgs, pq, mq, dispatch)
                elif result.status in (PullStatus.NO_NEW_MSG, PullStatus.NO_MATCHED_MSG):
                    next_offset = result.next_begin_offset
                    if pq.msg_count == 0:
                        self.offset_store.update(mq, next_offset, True)
                else:  # OFFSET_ILLEGAL
                    log.warning("pull offset %d of %s is illegal, moving to %d", next_offset, mq,
                                result.next_begin_offset)
                    pq.dropped = True
                    self.offset_store.update(mq, result.next_begin_offset)
                    await self.offset_store.persist(mq)
                    if self.pq_table.get(mq) is pq:
                        del self.pq_table[mq]
                    inst.rebalance_immediately()
                    break
                if self.pull_interval > 0:
                    await asyncio.sleep(self.pull_interval)
        finally:
            if self._pull_tasks.get(mq) is asyncio.current_task():
                del self._pull_tasks[mq]

    # ------------------------------------------------------------------ consuming
    def _spawn_consume(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._consume_tasks.add(task)
        task.add_done_callback(self._consume_tasks.discard)

    def _submit(self, msgs: list[MessageExt], pq: ProcessQueue, mq: MessageQueue, dispatch: bool) -> None:
        if self.orderly:
            if dispatch:
                self._spawn_consume(self._consume_orderly(pq, mq))
            return
        n = max(1, self.consume_batch_size)
        for i in range(0, len(msgs), n):
            self._spawn_consume(self._consume_concurrently(msgs[i:i + n], pq, mq))

    def _prepare(self, msgs: list[MessageExt]) -> None:
        self.reset_retry_topic(msgs)
        now = str(self.config.clock.now_ms())
        for msg in msgs:
            msg.properties[PROPERTY_CONSUME_START_TIMESTAMP] = now

    async def _consume_concurrently(self, msgs: list[MessageExt], pq: ProcessQueue, mq: MessageQueue) -> None:
        assert self._semaphore is not None and self.listener is not None
        async with self._semaphore:
            if pq.dropped:
                return
            self._prepare(msgs)
            context = ConsumeContext(mq)
            try:
                status = await _call_listener(self.listener, self._executor, msgs, context)
            except Exception as exc:
                log.warning("listener of %s raised: %r", self.group, exc)
                status = ConsumeStatus.RECONSUME_LATER
            if status is None or status is True:
                status = ConsumeStatus.CONSUME_SUCCESS
            elif status is False:
                status = ConsumeStatus.RECONSUME_LATER
            if pq.dropped:
                return
            ack_index = min(context.ack_index, len(msgs) - 1) if status is ConsumeStatus.CONSUME_SUCCESS else -1
            failed = msgs[ack_index + 1:]
            retry_locally: list[MessageExt] = []
            if failed and self.clustering:
                for msg in failed:
                    if not await self.send_message_back(msg, context.delay_level, mq.brokerName):
                        msg.reconsume_times += 1
                        retry_locally.append(msg)
            elif failed:
                log.warning("BROADCASTING: dropping %d failed messages of %s", len(failed), mq)
            done = [m for m in msgs if m not in retry_locally] if retry_locally else msgs
            offset = pq.remove(done)
            if offset >= 0 and not pq.dropped:
                self.offset_store.update(mq, offset, True)
            if retry_locally:
                self._spawn_consume(self._consume_later(retry_locally, pq, mq, 5.0))

    async def _consume_later(self, msgs: list[MessageExt], pq: ProcessQueue, mq: MessageQueue, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._running and not pq.dropped:
            await self._consume_concurrently(msgs, pq, mq)

    async def send_message_back(self, msg: MessageExt, delay_level: int, broker_name: str | None) -> bool:
        """CONSUMER_SEND_MSG_BACK to the queue's master; False if it failed."""
        inst = self._inst()
        addr = inst.find_broker_address_in_publish(broker_name) if broker_name else None
        if addr is None:
            addr = f"{msg.store_host[0]}:{msg.store_host[1]}"
        try:
            await inst.api.consumer_send_message_back(addr, msg, self.group, delay_level, self.max_reconsume,
                                                      origin_msg_id=message_id(msg))
            return True
        except Exception as exc:
            log.warning("send back of %s failed: %s", msg.msg_id, exc)
            return False

    async def _consume_orderly(self, pq: ProcessQueue, mq: MessageQueue) -> None:
        assert self.listener is not None
        async with pq.consume_lock:
            while self._running and not pq.dropped:
                if self.clustering and (not pq.locked or pq.lock_expired()):
                    if not await self._lock(mq):
                        await asyncio.sleep(0.1 if not pq.dropped else 0)
                        if not await self._lock(mq):
                            pq.consuming_orderly = False
                            self._spawn_consume(self._retry_orderly_later(pq, mq, 3.0))
                            return
                msgs = pq.take(max(1, self.consume_batch_size))
                if not msgs:
                    return
                self._prepare(msgs)
                context = ConsumeOrderlyContext(mq)
                try:
                    status = await _call_listener(self.listener, self._executor, msgs, context)
                except Exception as exc:
                    log.warning("orderly listener of %s raised: %r", self.group, exc)
                    status = ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
                if status is None or status is True or status is ConsumeStatus.CONSUME_SUCCESS:
                    status = ConsumeOrderlyStatus.SUCCESS
                if pq.dropped:
                    return
                if status is ConsumeOrderlyStatus.SUCCESS:
                    offset = pq.commit()
                else:
                    if any(m.reconsume_times >= self.max_reconsume for m in msgs):
                        sent = all([await self.send_message_back(m, -1, mq.brokerName) for m in msgs
                                    if m.reconsume_times >= self.max_reconsume])
                        if sent:
                            offset = pq.commit()
                            if offset >= 0:
                                self.offset_store.update(mq, offset)
                            continue
                    for m in msgs:
                        m.reconsume_times += 1
                    pq.rollback()
                    suspend = context.suspend_millis if context.suspend_millis > 0 else self.suspend_current_queue_time_millis
                    await asyncio.sleep(suspend / 1000)
                    continue
                if offset >= 0:
                    self.offset_store.update(mq, offset)

    async def _retry_orderly_later(self, pq: ProcessQueue, mq: MessageQueue, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._running and not pq.dropped and pq.msgs and not pq.consuming_orderly:
            pq.consuming_orderly = True
            await self._consume_orderly(pq, mq)


class PushConsumer:
    """Synchronous push consumer: listeners run on worker threads; ``with PushConsumer(...)``
    starts and stops it."""

    def __init__(self, group: str, namesrv_addr: str | list[str] | None = None, **kwargs: Any) -> None:
        self._async: AsyncPushConsumer = _sync.construct(AsyncPushConsumer, group, namesrv_addr, **kwargs)

    @property
    def async_consumer(self) -> AsyncPushConsumer:
        return self._async

    def subscribe(self, topic: str, expression: str = "*", *, sql: bool = False) -> None:
        async def go() -> None:
            self._async.subscribe(topic, expression, sql=sql)
        _sync.run(go())

    def register_listener(self, listener: Listener, *, orderly: bool | None = None) -> None:
        self._async.register_listener(listener, orderly=orderly)

    def start(self) -> "PushConsumer":
        _sync.run(self._async.start())
        return self

    def shutdown(self) -> None:
        _sync.run(self._async.shutdown())

    def __enter__(self) -> "PushConsumer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
