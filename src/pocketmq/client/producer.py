"""Producers: ``AsyncProducer`` (asyncio) and ``Producer`` (synchronous facade), plus the
transactional variants (upstream DefaultMQProducer / DefaultMQProducerImpl /
TransactionMQProducer).

Sends go out as SEND_MESSAGE_V2 (310) or SEND_BATCH_MESSAGE (320) with V2 short-name headers,
exactly as the Java client does. A send without an explicit queue picks one with the latency
fault strategy and retries ``retry_times`` more times on other brokers; bodies of at least
``compress_over`` bytes are zlib-compressed; every message gets a UNIQ_KEY.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import inspect
import logging
import re
import time
import zlib
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from pocketmq.client import _sync
from pocketmq.client.config import ClientConfig
from pocketmq.security.credentials import SessionCredentials
from pocketmq.client.errors import MQBrokerError, MQClientError
from pocketmq.client.fault import FaultStrategy, TopicPublishInfo, publish_queues
from pocketmq.client.instance import ClientInstance
from pocketmq.client.message import Message, SendResult, SendStatus
from pocketmq.protocol import message as pm
from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.client_headers import CheckTransactionStateRequestHeader, EndTransactionRequestHeader, SendMessageRequestHeader
from pocketmq.protocol.message_id import decode_offset_message_id, uniq_id_generator
from pocketmq.protocol.route import TopicRouteData
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.header import encode_header
from pocketmq.remoting.command import make_request
from pocketmq.remoting.transport import Connection, RemotingError

log = logging.getLogger("pocketmq.client")

DEFAULT_TOPIC = "TBW102"
RETRY_GROUP_TOPIC_PREFIX = "%RETRY%"
_TOPIC_RE = re.compile(r"^[%|a-zA-Z0-9_-]+$")
_RETRYABLE_BROKER_CODES = {
    ResponseCode.TOPIC_NOT_EXIST, ResponseCode.SERVICE_NOT_AVAILABLE, ResponseCode.SYSTEM_ERROR,
    ResponseCode.NO_PERMISSION, ResponseCode.NO_BUYER_ID, ResponseCode.NOT_IN_CURRENT_UNIT,
    ResponseCode.SYSTEM_BUSY,
}

Selector = Callable[[list[MessageQueue], Message, Any], MessageQueue]
SendCallback = Callable[[SendResult | None, BaseException | None], Any]


def select_by_hash(queues: list[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
    """Same ``arg`` -> same queue (upstream SelectMessageQueueByHash; strings hash as in Java)."""
    value = pm.java_string_hash(arg) if isinstance(arg, str) else hash(arg)
    return queues[abs(value) % len(queues)]


def select_random(queues: list[MessageQueue], msg: Message, arg: Any) -> MessageQueue:
    import random

    return random.choice(queues)


def check_topic(topic: str) -> None:
    if not topic or not topic.strip():
        raise MQClientError("The specified topic is blank")
    if topic.startswith(("%RETRY%", "%DLQ%")):  # as upstream 5's TopicValidator: a group's topics
        if len(topic) > 255:
            raise MQClientError(f"The specified topic is DLQ or Retry topic: {topic}, "
                                "and it's longer than topic max length: 255")
    elif len(topic) > 127:
        raise MQClientError("The specified topic is longer than topic max length 127.")
    if not _TOPIC_RE.match(topic):
        raise MQClientError(f"The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")


class AsyncProducer:
    """An asyncio producer. Use ``async with AsyncProducer("group", "127.0.0.1:9876") as p``."""

    def __init__(self, group: str = "DEFAULT_PRODUCER", namesrv_addr: str | list[str] | None = None, *,
                 send_timeout: float = 3.0, retry_times: int = 2, retry_times_async: int = 2,
                 compress_over: int = 4096, max_message_size: int = 4 * 1024 * 1024,
                 latency_fault_enable: bool = True, retry_another_broker_when_not_store_ok: bool = False,
                 default_topic_queue_nums: int = 4, create_topic_key: str = DEFAULT_TOPIC,
                 instance_name: str | None = None, config: ClientConfig | None = None,
                 credentials: SessionCredentials | None = None) -> None:
        self.group = group
        self.config = config or ClientConfig(namesrv_addr=namesrv_addr)
        if credentials is not None:
            self.config.credentials = credentials
        if instance_name:
            self.config.instance_name = instance_name
        self.send_timeout = send_timeout
        self.retry_times = retry_times
        self.retry_times_async = retry_times_async
        self.compress_over = compress_over
        self.max_message_size = max_message_size
        self.retry_another_broker_when_not_store_ok = retry_another_broker_when_not_store_ok
        self.default_topic_queue_nums = default_topic_queue_nums
        self.create_topic_key = create_topic_key
        self.fault = FaultStrategy(latency_fault_enable)
        self._ids = uniq_id_generator(self.config.clock)
        self.instance: ClientInstance | None = None
        self._topic_info: dict[str, TopicPublishInfo] = {}
        self._owns_instance = True

    # ------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.instance is not None:
            return
        self.instance = ClientInstance(self.config)
        self.instance.register_producer(self)
        await self.instance.start()

    async def shutdown(self) -> None:
        instance, self.instance = self.instance, None
        if instance is None:
            return
        await instance.unregister(producer_group=self.group)
        await instance.shutdown()

    async def __aenter__(self) -> "AsyncProducer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    def _inst(self) -> ClientInstance:
        if self.instance is None:
            raise MQClientError("The producer service state not OK, maybe started once or not started")
        return self.instance

    # ------------------------------------------------------------------------ instance hooks
    def publish_topics(self) -> list[str]:
        return list(self._topic_info)

    def update_publish_info(self, topic: str, route: TopicRouteData) -> None:
        queues, order = publish_queues(topic, route)
        info = self._topic_info.get(topic)
        if info is None:
            self._topic_info[topic] = TopicPublishInfo(queues, order, route)
        else:
            info.queues, info.order_topic, info.route = queues, order, route

    async def check_transaction_state(self, addr: str, conn: Connection, msg: pm.MessageExt,
                                      header: CheckTransactionStateRequestHeader) -> None:
        log.warning("transaction check for %s but producer %s is not transactional", msg.uniq_key, self.group)

    # ------------------------------------------------------------------------ routes
    async def _publish_info(self, topic: str) -> TopicPublishInfo:
        info = self._topic_info.get(topic)
        if info is not None and info.ok():
            return info
        inst = self._inst()
        try:
            await inst.update_topic_route(topic)
        except MQBrokerError as exc:
            if exc.code != ResponseCode.TOPIC_NOT_EXIST:
                raise
        info = self._topic_info.get(topic)
        if info is None or not info.ok():
            try:
                await inst.update_topic_route(topic, default_topic=self.create_topic_key,
                                              default_queue_nums=self.default_topic_queue_nums)
            except MQBrokerError as exc:
                raise MQClientError(f"No route info of this topic: {topic}", exc.code) from exc
            info = self._topic_info.get(topic)
        if info is None or not info.ok():
            raise MQClientError(f"No route info of this topic: {topic}")
        return info

    async def fetch_publish_queues(self, topic: str) -> list[MessageQueue]:
        return list((await self._publish_info(topic)).queues)

    # ------------------------------------------------------------------------ sending
    def _check(self, msg: Message) -> bytes:
        check_topic(msg.topic)
        body = msg.body_bytes()
        if not body:
            raise MQClientError("the message body length is zero")
        if len(body) > self.max_message_size:
            raise MQClientError(f"the message body size over max value, MAX: {self.max_message_size}")
        return body

    async def send(self, msg: Message, *, queue: MessageQueue | None = None, selector: Selector | None = None,
                   arg: Any = None, timeout: float | None = None) -> SendResult:
        """Send and wait for the broker's answer. Without ``queue``/``selector`` failures are
        retried on other brokers; with them the chosen queue is used once."""
        result = await self._send(msg, queue=queue, selector=selector, arg=arg, timeout=timeout,
                                  times=1 + self.retry_times)
        assert result is not None
        return result

    async def send_oneway(self, msg: Message, *, queue: MessageQueue | None = None,
                          selector: Selector | None = None, arg: Any = None) -> None:
        await self._send(msg, queue=queue, selector=selector, arg=arg, timeout=None, times=1, oneway=True)

    def send_async(self, msg: Message, callback: SendCallback | None = None, *, queue: MessageQueue | None = None,
                   selector: Selector | None = None, arg: Any = None,
                   timeout: float | None = None) -> "asyncio.Future[SendResult]":
        """Start a send without waiting (call from the event loop); ``callback(result, error)``
        runs on completion. Returns the future of the result."""
        future = asyncio.ensure_future(self._send(msg, queue=queue, selector=selector, arg=arg, timeout=timeout,
                                                  times=1 + self.retry_times_async))
        if callback is not None:
            def done(f: asyncio.Future) -> None:
                if f.cancelled():
                    callback(None, asyncio.CancelledError())
                elif f.exception() is not None:
                    callback(None, f.exception())
                else:
                    callback(f.result(), None)
            future.add_done_callback(done)
        return future  # type: ignore[return-value]

    async def _send(self, msg: Message, *, queue: MessageQueue | None, selector: Selector | None, arg: Any,
                    timeout: float | None, times: int, oneway: bool = False,
                    extra_props: dict[str, str] | None = None) -> SendResult | None:
        body = self._check(msg)
        timeout = timeout or self.send_timeout
        deadline = time.monotonic() + timeout
        info = await self._publish_info(msg.topic)
        if queue is not None or selector is not None:
            if queue is None:
                assert selector is not None
                queue = selector(list(info.queues), msg, arg)
                if queue is None:
                    raise MQClientError("select message queue return null.")
            return await self._send_kernel(msg, body, queue, deadline - time.monotonic(), oneway, extra_props)
        last_broker: str | None = None
        last_error: BaseException | None = None
        for attempt in range(times):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            mq = self.fault.select(info, last_broker)
            last_broker = mq.brokerName
            started = time.monotonic()
            try:
                result = await self._send_kernel(msg, body, mq, remaining, oneway, extra_props)
            except (RemotingError, MQClientError, asyncio.TimeoutError) as exc:
                self.fault.update(mq.brokerName, (time.monotonic() - started) * 1000, True)
                self._inst().refresh_route_soon(msg.topic)
                last_error = exc
                log.debug("send to %s failed (attempt %d): %s", mq, attempt + 1, exc)
                continue
            except MQBrokerError as exc:
                self.fault.update(mq.brokerName, (time.monotonic() - started) * 1000, True)
                if exc.code in _RETRYABLE_BROKER_CODES:
                    last_error = exc
                    continue
                raise
            self.fault.update(mq.brokerName, (time.monotonic() - started) * 1000, False)
            if result is not None and result.status is not SendStatus.SEND_OK and \
                    self.retry_another_broker_when_not_store_ok and attempt + 1 < times:
                continue
            return result
        raise MQClientError(f"Send [{times}] times, still failed, topic {msg.topic}: {last_error}") from last_error

    async def _broker_addr(self, mq: MessageQueue) -> str:
        inst = self._inst()
        addr = inst.find_broker_address_in_publish(mq.brokerName)
        if addr is None:
            try:
                await inst.update_topic_route(mq.topic)
            except MQBrokerError:
                pass
            addr = inst.find_broker_address_in_publish(mq.brokerName)
        if addr is None:
            raise MQClientError(f"The broker[{mq.brokerName}] not exist")
        return addr

    async def _send_kernel(self, msg: Message, body: bytes, mq: MessageQueue, timeout: float, oneway: bool,
                           extra_props: dict[str, str] | None) -> SendResult | None:
        addr = await self._broker_addr(mq)
        props = msg.wire_properties()
        if extra_props:
            props.update(extra_props)
        uniq = props.get(pm.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        if not uniq:
            uniq = self._ids.create()
            props[pm.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = uniq
        sys_flag = 0
        if len(body) >= self.compress_over:
            body = zlib.compress(body, 5)
            sys_flag |= pm.COMPRESSED_FLAG
        if props.get(pm.PROPERTY_TRANSACTION_PREPARED) == "true":
            sys_flag |= pm.TRANSACTION_PREPARED_TYPE
        reconsume_times = max_reconsume = None
        if msg.topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
            text = props.pop(pm.PROPERTY_RECONSUME_TIME, None)
            reconsume_times = int(text) if text else 0
            text = props.pop(pm.PROPERTY_MAX_RECONSUME_TIMES, None)
            max_reconsume = int(text) if text else None
        header = SendMessageRequestHeader(
            producerGroup=self.group, topic=msg.topic, defaultTopic=self.create_topic_key,
            defaultTopicQueueNums=self.default_topic_queue_nums, queueId=mq.queueId, sysFlag=sys_flag,
            bornTimestamp=self.config.clock.now_ms(), flag=msg.flag, properties=pm.properties_to_string(props),
            reconsumeTimes=reconsume_times if reconsume_times is not None else 0, unitMode=False,
            maxReconsumeTimes=max_reconsume, batch=False)
        result = await self._inst().api.send_message(addr, mq.brokerName, header, body, timeout=timeout,
                                                      oneway=oneway)
        if result is not None:
            result.msg_id = uniq
        return result

    # ------------------------------------------------------------------------ batches
    async def send_batch(self, msgs: Sequence[Message], *, queue: MessageQueue | None = None,
                         timeout: float | None = None) -> SendResult:
        """Send messages of one topic as one SEND_BATCH_MESSAGE; ``msg_id`` is the comma-joined
        UNIQ_KEYs. Batches cannot be delayed, retried-topic or transactional."""
        if not msgs:
            raise MQClientError("the batch is empty")
        topic = msgs[0].topic
        check_topic(topic)
        records = []
        uniq_keys = []
        for msg in msgs:
            if msg.topic != topic:
                raise MQClientError("The topic of the messages in one batch should be the same")
            if msg.delay_level > 0:
                raise MQClientError("TimeDelayLevel is not supported for batching")
            if topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
                raise MQClientError("Retry Group is not supported for batching")
            if msg.wait_store_msg_ok != msgs[0].wait_store_msg_ok:
                raise MQClientError("The waitStoreMsgOK of the messages in one batch should the same")
            body = msg.body_bytes()
            if not body:
                raise MQClientError("the message body length is zero")
            props = msg.wire_properties()
            uniq = props.get(pm.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or self._ids.create()
            props[pm.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = uniq
            uniq_keys.append(uniq)
            records.append(pm.BatchRecord(body=body, properties=pm.properties_to_string(props), flag=msg.flag))
        batch_body = pm.encode_batch_body(records)
        if len(batch_body) > self.max_message_size:
            raise MQClientError(f"the message body size over max value, MAX: {self.max_message_size}")
        header_props = pm.properties_to_string(
            {pm.PROPERTY_WAIT_STORE_MSG_OK: "true" if msgs[0].wait_store_msg_ok else "false"})
        timeout = timeout or self.send_timeout
        deadline = time.monotonic() + timeout
        info = await self._publish_info(topic)
        times = 1 if queue is not None else 1 + self.retry_times
        last_broker = None
        last_error: BaseException | None = None
        for _ in range(times):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            mq = queue or self.fault.select(info, last_broker)
            last_broker = mq.brokerName
            started = time.monotonic()
            header = SendMessageRequestHeader(
                producerGroup=self.group, topic=topic, defaultTopic=self.create_topic_key,
                defaultTopicQueueNums=self.default_topic_queue_nums, queueId=mq.queueId, sysFlag=0,
                bornTimestamp=self.config.clock.now_ms(), flag=0, properties=header_props, reconsumeTimes=0,
                unitMode=False, batch=True)
            try:
                addr = await self._broker_addr(mq)
                result = await self._inst().api.send_message(addr, mq.brokerName, header, batch_body,
                                                             timeout=remaining, batch=True)
            except (RemotingError, MQClientError) as exc:
                self.fault.update(mq.brokerName, (time.monotonic() - started) * 1000, True)
                last_error = exc
                continue
            except MQBrokerError as exc:
                self.fault.update(mq.brokerName, (time.monotonic() - started) * 1000, True)
                if exc.code in _RETRYABLE_BROKER_CODES:
                    last_error = exc
                    continue
                raise
            self.fault.update(mq.brokerName, (time.monotonic() - started) * 1000, False)
            assert result is not None
            result.msg_id = ",".join(uniq_keys)
            return result
        raise MQClientError(f"Send [{times}] times, still failed, topic {topic}: {last_error}") from last_error


# ---------------------------------------------------------------------------- transactions
class LocalTransactionState(enum.Enum):
    COMMIT_MESSAGE = pm.TRANSACTION_COMMIT_TYPE
    ROLLBACK_MESSAGE = pm.TRANSACTION_ROLLBACK_TYPE
    UNKNOWN = pm.TRANSACTION_NOT_TYPE


@dataclass
class TransactionSendResult:
    send_result: SendResult
    local_state: LocalTransactionState

    @property
    def msg_id(self) -> str:
        return self.send_result.msg_id


LocalExecutor = Callable[[Message, Any], "LocalTransactionState | Awaitable[LocalTransactionState]"]
Checker = Callable[[pm.MessageExt], "LocalTransactionState | Awaitable[LocalTransactionState]"]


async def _call_user(fn: Callable[..., Any], *args: Any) -> Any:
    """Await a coroutine function; run a plain function on a worker thread."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await asyncio.get_running_loop().run_in_executor(None, fn, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _as_state(value: Any) -> LocalTransactionState:
    if isinstance(value, LocalTransactionState):
        return value
    if value is True:
        return LocalTransactionState.COMMIT_MESSAGE
    if value is False:
        return LocalTransactionState.ROLLBACK_MESSAGE
    return LocalTransactionState.UNKNOWN


class AsyncTransactionProducer(AsyncProducer):
    """Half message -> local transaction -> END_TRANSACTION; the broker's check-backs go to
    ``checker(msg) -> LocalTransactionState`` (sync or async callable)."""

    def __init__(self, group: str, namesrv_addr: str | list[str] | None = None, *, checker: Checker,
                 **kwargs: Any) -> None:
        super().__init__(group, namesrv_addr, **kwargs)
        self.checker = checker

    async def send_message_in_transaction(self, msg: Message, execute: LocalExecutor,
                                          arg: Any = None) -> TransactionSendResult:
        if msg.delay_level > 0:
            msg.delay_level = 0  # upstream clears the delay level of transactional messages
        result = await self._send(msg, queue=None, selector=None, arg=None, timeout=None,
                                  times=1 + self.retry_times,
                                  extra_props={pm.PROPERTY_TRANSACTION_PREPARED: "true",
                                               pm.PROPERTY_PRODUCER_GROUP: self.group})
        assert result is not None
        remark = None
        if result.status is SendStatus.SEND_OK:
            msg.transaction_id = result.msg_id
            try:
                state = _as_state(await _call_user(execute, msg, arg))
            except Exception as exc:
                log.warning("local transaction of %s raised: %s", result.msg_id, exc)
                state = LocalTransactionState.UNKNOWN
                remark = f"executeLocalTransactionBranch exception: {exc}"
        else:
            state = LocalTransactionState.ROLLBACK_MESSAGE
        await self._end_transaction(result, state, remark)
        return TransactionSendResult(result, state)

    async def _end_transaction(self, result: SendResult, state: LocalTransactionState, remark: str | None) -> None:
        offset_id = result.offset_msg_id or result.msg_id
        _, _, commit_log_offset = decode_offset_message_id(offset_id)
        header = EndTransactionRequestHeader(
            producerGroup=self.group, tranStateTableOffset=result.queue_offset, commitLogOffset=commit_log_offset,
            commitOrRollback=state.value, msgId=result.msg_id, fromTransactionCheck=False,
            transactionId=result.msg_id)
        addr = await self._broker_addr(result.message_queue)
        try:
            await self._inst().api.end_transaction_oneway(addr, header, remark)
        except Exception as exc:  # the broker will check back
            log.warning("END_TRANSACTION to %s failed: %s", addr, exc)

    async def check_transaction_state(self, addr: str, conn: Connection, msg: pm.MessageExt,
                                      header: CheckTransactionStateRequestHeader) -> None:
        remark = None
        try:
            state = _as_state(await _call_user(self.checker, msg))
        except Exception as exc:
            state = LocalTransactionState.UNKNOWN
            remark = f"checkLocalTransactionState exception: {exc}"
        end = EndTransactionRequestHeader(
            producerGroup=self.group, tranStateTableOffset=header.tranStateTableOffset,
            commitLogOffset=msg.commit_log_offset, commitOrRollback=state.value,
            msgId=msg.uniq_key or header.msgId or msg.msg_id, fromTransactionCheck=True,
            transactionId=header.transactionId)
        request = make_request(RequestCode.END_TRANSACTION, encode_header(end), language=self.config.language,
                               oneway=True)
        request.remark = remark
        if conn.is_open:
            conn.invoke_oneway(request)


# ---------------------------------------------------------------------------- sync facades
class Producer:
    """Synchronous producer for plain scripts: ``with Producer("pg", "127.0.0.1:9876") as p:
    p.send(Message("T", b"hi"))``. Runs an ``AsyncProducer`` on a background event loop."""

    _async_class: type[AsyncProducer] = AsyncProducer

    def __init__(self, group: str = "DEFAULT_PRODUCER", namesrv_addr: str | list[str] | None = None,
                 **kwargs: Any) -> None:
        self._async = _sync.construct(self._async_class, group, namesrv_addr, **kwargs)

    @property
    def async_producer(self) -> AsyncProducer:
        return self._async

    @property
    def group(self) -> str:
        return self._async.group

    def start(self) -> "Producer":
        _sync.run(self._async.start())
        return self

    def shutdown(self) -> None:
        _sync.run(self._async.shutdown())

    def __enter__(self) -> "Producer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def send(self, msg: Message, *, queue: MessageQueue | None = None, selector: Selector | None = None,
             arg: Any = None, timeout: float | None = None) -> SendResult:
        return _sync.run(self._async.send(msg, queue=queue, selector=selector, arg=arg, timeout=timeout))

    def send_oneway(self, msg: Message, *, queue: MessageQueue | None = None, selector: Selector | None = None,
                    arg: Any = None) -> None:
        _sync.run(self._async.send_oneway(msg, queue=queue, selector=selector, arg=arg))

    def send_async(self, msg: Message, callback: SendCallback | None = None, *, queue: MessageQueue | None = None,
                   selector: Selector | None = None, arg: Any = None,
                   timeout: float | None = None) -> concurrent.futures.Future[SendResult]:
        """Returns at once; ``callback(result, error)`` runs on the client's loop thread."""
        async def go() -> SendResult:
            return await self._async.send_async(msg, callback, queue=queue, selector=selector, arg=arg,
                                                timeout=timeout)
        return _sync.submit(go())

    def send_batch(self, msgs: Sequence[Message], *, queue: MessageQueue | None = None,
                   timeout: float | None = None) -> SendResult:
        return _sync.run(self._async.send_batch(msgs, queue=queue, timeout=timeout))

    def fetch_publish_queues(self, topic: str) -> list[MessageQueue]:
        return _sync.run(self._async.fetch_publish_queues(topic))


class TransactionProducer(Producer):
    """Synchronous transactional producer; ``execute`` and ``checker`` are plain callables."""

    _async_class = AsyncTransactionProducer

    def __init__(self, group: str, namesrv_addr: str | list[str] | None = None, *, checker: Checker,
                 **kwargs: Any) -> None:
        super().__init__(group, namesrv_addr, checker=checker, **kwargs)

    def send_message_in_transaction(self, msg: Message, execute: LocalExecutor, arg: Any = None) -> TransactionSendResult:
        producer = self._async
        assert isinstance(producer, AsyncTransactionProducer)
        return _sync.run(producer.send_message_in_transaction(msg, execute, arg))
