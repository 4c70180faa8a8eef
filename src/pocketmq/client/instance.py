"""ClientInstance: the per-client runtime behind producers, consumers and admin (upstream
MQClientInstance).

Owns: the client id, the remoting connections, name-server route fetching and its cache
(refreshed every ``poll_name_server_interval`` and on demand after failures), the broker address
table and broker address selection (master for publishing; suggested id, then the next slave,
then any address for subscribing), heartbeats to brokers, the periodic offset persistence and
rebalance loops, and the requests brokers send to clients (NOTIFY_CONSUMER_IDS_CHANGED,
CHECK_TRANSACTION_STATE, RESET_CONSUMER_CLIENT_OFFSET, GET_CONSUMER_RUNNING_INFO).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Awaitable, Callable, Protocol

from pocketmq.client.api import MQClientAPI
from pocketmq.client.config import ClientConfig
from pocketmq.client.errors import MQBrokerError, MQClientError
from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol import client_headers as h
from pocketmq.protocol.message import PROPERTY_PRODUCER_GROUP, decode_message
from pocketmq.protocol.route import MASTER_ID, TopicRouteData
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import Connection, Dispatcher, RemotingClient, RemotingError
from pocketmq.security.signing import sign_request
from pocketmq.security.tls import insecure_client_context

log = logging.getLogger("pocketmq.client")


class ProducerHooks(Protocol):
    group: str

    def publish_topics(self) -> list[str]: ...
    def update_publish_info(self, topic: str, route: TopicRouteData) -> None: ...
    async def check_transaction_state(self, addr: str, conn: Connection, msg: Any,
                                      header: h.CheckTransactionStateRequestHeader) -> None: ...


class ConsumerHooks(Protocol):
    group: str

    def consumer_data(self) -> bodies.ConsumerData: ...
    def subscribe_topics(self) -> list[str]: ...
    def update_subscribe_info(self, topic: str, mqs: set[bodies.MessageQueue]) -> None: ...
    async def do_rebalance(self) -> None: ...
    async def persist_offsets(self) -> None: ...
    async def reset_offset(self, topic: str, table: dict[bodies.MessageQueue, int]) -> None: ...
    def running_info(self) -> bytes: ...


def subscribe_queues(topic: str, route: TopicRouteData) -> set[bodies.MessageQueue]:
    """Readable queues of a route (upstream topicRouteData2TopicSubscribeInfo)."""
    from pocketmq.protocol.route import is_readable

    return {bodies.MessageQueue(topic, q.brokerName, i)
            for q in route.queueDatas if is_readable(q.perm) for i in range(q.readQueueNums)}


class ClientInstance:
    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig()
        self.client_id = self.config.build_client_id()
        self.dispatcher = Dispatcher()
        credentials = self.config.credentials
        sign = None if credentials is None else functools.partial(sign_request, credentials=credentials)
        context = self.config.ssl_context or (insecure_client_context() if self.config.use_tls else None)
        self.remoting = RemotingClient(self.dispatcher, connect_timeout=self.config.api_timeout, before_request=sign,
                                       ssl_context=context)
        self.api = MQClientAPI(self.remoting, self.config.namesrv_list(), timeout=self.config.api_timeout,
                               language=self.config.language)
        self.routes: dict[str, TopicRouteData] = {}
        self.broker_addrs: dict[str, dict[int, str]] = {}
        self.broker_versions: dict[str, int] = {}
        self.producers: dict[str, ProducerHooks] = {}
        self.consumers: dict[str, ConsumerHooks] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._rebalance_wakeup = asyncio.Event()
        self._route_locks: dict[str, asyncio.Lock] = {}
        self._last_refresh: dict[str, float] = {}
        self._heartbeat_lock = asyncio.Lock()
        self.started = False
        for code, handler in (
            (RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, self._on_consumer_ids_changed),
            (RequestCode.CHECK_TRANSACTION_STATE, self._on_check_transaction_state),
            (RequestCode.RESET_CONSUMER_CLIENT_OFFSET, self._on_reset_offset),
            (RequestCode.GET_CONSUMER_RUNNING_INFO, self._on_running_info),
            (RequestCode.GET_CONSUMER_STATUS_FROM_CLIENT, self._on_consumer_status),
        ):
            self.dispatcher.register(code, handler)

    # ------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        cfg = self.config
        self._spawn(self._every(cfg.poll_name_server_interval, self.update_all_routes, first_delay=0.01))
        self._spawn(self._every(cfg.heartbeat_broker_interval, self.send_heartbeat_to_all_brokers, first_delay=1.0))
        self._spawn(self._every(cfg.persist_consumer_offset_interval, self.persist_all_offsets, first_delay=10.0))
        self._spawn(self._rebalance_loop())

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    async def _every(self, interval: float, fn: Callable[[], Awaitable[Any]], first_delay: float) -> None:
        await asyncio.sleep(first_delay)
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("periodic %s failed: %s", getattr(fn, "__name__", fn), exc)
            await asyncio.sleep(interval)

    async def _rebalance_loop(self) -> None:
        # Checks ``started`` as well as being cancelled: on Python 3.11, asyncio.wait_for drops a
        # cancellation that arrives just as its inner wait completes, and shutdown awaits this task.
        while self.started:
            try:
                await asyncio.wait_for(self._rebalance_wakeup.wait(), self.config.rebalance_interval)
            except asyncio.TimeoutError:
                pass
            self._rebalance_wakeup.clear()
            if self.started:
                await self.do_rebalance()

    def rebalance_immediately(self) -> None:
        self._rebalance_wakeup.set()

    async def do_rebalance(self) -> None:
        for consumer in list(self.consumers.values()):
            try:
                await consumer.do_rebalance()
            except Exception:
                log.exception("rebalance of %s failed", consumer.group)

    async def shutdown(self) -> None:
        if not self.started:
            await self.remoting.close()
            return
        self.started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except BaseException:
                pass
        self._tasks.clear()
        await self.remoting.close()

    # ------------------------------------------------------------------------ registration
    def register_producer(self, producer: ProducerHooks) -> None:
        if producer.group in self.producers:
            raise MQClientError(f"the producer group[{producer.group}] has been created before")
        self.producers[producer.group] = producer

    def register_consumer(self, consumer: ConsumerHooks) -> None:
        if consumer.group in self.consumers:
            raise MQClientError(f"the consumer group[{consumer.group}] has been created before")
        self.consumers[consumer.group] = consumer

    async def unregister(self, producer_group: str | None = None, consumer_group: str | None = None) -> None:
        if producer_group:
            self.producers.pop(producer_group, None)
        if consumer_group:
            self.consumers.pop(consumer_group, None)
        for name, addrs in list(self.broker_addrs.items()):
            for addr in list(addrs.values()):
                try:
                    await self.api.unregister_client(addr, self.client_id, producer_group, consumer_group)
                except Exception as exc:
                    log.debug("unregister from %s failed: %s", addr, exc)

    # ------------------------------------------------------------------------ routes
    async def update_all_routes(self) -> None:
        topics: set[str] = set()
        for producer in list(self.producers.values()):
            topics.update(producer.publish_topics())
        for consumer in list(self.consumers.values()):
            topics.update(consumer.subscribe_topics())
        for topic in topics:
            try:
                await self.update_topic_route(topic)
            except Exception as exc:
                log.debug("route refresh of %s failed: %s", topic, exc)

    async def update_topic_route(self, topic: str, *, default_topic: str | None = None,
                                 default_queue_nums: int = 4) -> TopicRouteData | None:
        """Fetch ``topic``'s route and publish it to producers and consumers. With
        ``default_topic`` (TBW102) and no route for ``topic``, the default topic's brokers stand
        in with at most ``default_queue_nums`` queues (auto-creation on first send)."""
        lock = self._route_locks.setdefault(topic, asyncio.Lock())
        async with lock:
            route: TopicRouteData | None
            try:
                route = await self.api.get_topic_route(topic)
            except MQBrokerError as exc:
                if exc.code != ResponseCode.TOPIC_NOT_EXIST or default_topic is None:
                    raise
                route = await self.api.get_topic_route(default_topic)
                for q in route.queueDatas:
                    n = min(default_queue_nums, q.readQueueNums)
                    q.readQueueNums = n
                    q.writeQueueNums = n
            self._last_refresh[topic] = time.monotonic()
            self.routes[topic] = route
            for bd in route.brokerDatas:
                self.broker_addrs[bd.brokerName] = dict(bd.brokerAddrs)
            for producer in list(self.producers.values()):
                producer.update_publish_info(topic, route)
            queues = subscribe_queues(topic, route)
            for consumer in list(self.consumers.values()):
                if topic in consumer.subscribe_topics():
                    consumer.update_subscribe_info(topic, queues)
            return route

    def refresh_route_soon(self, topic: str, min_interval: float = 1.0) -> None:
        """After a failure: refresh ``topic``'s route in the background (at most once a second)."""
        if time.monotonic() - self._last_refresh.get(topic, 0.0) < min_interval:
            return
        self._last_refresh[topic] = time.monotonic()

        async def refresh() -> None:
            try:
                await self.update_topic_route(topic)
            except Exception as exc:
                log.debug("route refresh of %s failed: %s", topic, exc)

        self._spawn(refresh())

    def find_broker_address_in_publish(self, broker_name: str) -> str | None:
        addrs = self.broker_addrs.get(broker_name)
        return addrs.get(MASTER_ID) if addrs else None

    def find_broker_address_in_subscribe(self, broker_name: str, broker_id: int = MASTER_ID,
                                         only_this_broker: bool = False) -> tuple[str, bool] | None:
        """(address, is_slave): the suggested id, else id+1 for a slave, else (unless
        ``only_this_broker``) any address of the broker set."""
        addrs = self.broker_addrs.get(broker_name)
        if not addrs:
            return None
        addr = addrs.get(broker_id)
        if addr is not None:
            return addr, broker_id != MASTER_ID
        if broker_id != MASTER_ID and addrs.get(broker_id + 1):
            return addrs[broker_id + 1], True
        if only_this_broker:
            return None
        some_id = min(addrs)
        return addrs[some_id], some_id != MASTER_ID

    def find_broker_address_in_admin(self, broker_name: str) -> str | None:
        found = self.find_broker_address_in_subscribe(broker_name, MASTER_ID, False)
        return found[0] if found else None

    def find_consumer_address(self, topic: str) -> str | None:
        """Any broker serving ``topic`` (for GET_CONSUMER_LIST_BY_GROUP)."""
        route = self.routes.get(topic)
        if route is None:
            return None
        for bd in sorted(route.brokerDatas, key=lambda b: b.brokerName):
            if bd.brokerAddrs:
                return bd.brokerAddrs.get(MASTER_ID) or bd.brokerAddrs[min(bd.brokerAddrs)]
        return None

    # ------------------------------------------------------------------------ heartbeat
    def heartbeat_data(self) -> bodies.HeartbeatData:
        data = bodies.HeartbeatData(self.client_id)
        for group in self.producers:
            data.producerDataSet.append(bodies.ProducerData(group))
        if self.producers:
            data.producerDataSet.append(bodies.ProducerData("CLIENT_INNER_PRODUCER"))
        for consumer in self.consumers.values():
            data.consumerDataSet.append(consumer.consumer_data())
        return data

    async def send_heartbeat_to_all_brokers(self) -> None:
        async with self._heartbeat_lock:
            data = self.heartbeat_data()
            if not data.producerDataSet and not data.consumerDataSet:
                return
            only_masters = not data.consumerDataSet
            sends = []
            for name, addrs in list(self.broker_addrs.items()):
                for broker_id, addr in list(addrs.items()):
                    if only_masters and broker_id != MASTER_ID:
                        continue
                    sends.append(self._heartbeat_one(addr, data))
            await asyncio.gather(*sends)

    async def _heartbeat_one(self, addr: str, data: bodies.HeartbeatData) -> None:
        try:
            self.broker_versions[addr] = await self.api.send_heartbeat(addr, data)
        except Exception as exc:
            log.debug("heartbeat to %s failed: %s", addr, exc)

    async def persist_all_offsets(self) -> None:
        for consumer in list(self.consumers.values()):
            try:
                await consumer.persist_offsets()
            except Exception as exc:
                log.debug("persisting offsets of %s failed: %s", consumer.group, exc)

    # ------------------------------------------------------------------------ server -> client
    def _on_consumer_ids_changed(self, request: RemotingCommand, conn: Connection) -> None:
        self.rebalance_immediately()
        return None

    async def _on_check_transaction_state(self, request: RemotingCommand, conn: Connection) -> None:
        header = decode_header(h.CheckTransactionStateRequestHeader, request.ext_fields)
        msg = decode_message(request.body_bytes(), decompress=True)
        group = msg.properties.get(PROPERTY_PRODUCER_GROUP)
        producer = self.producers.get(group or "")
        if producer is None:
            log.warning("transaction check for unknown producer group %s", group)
            return None
        await producer.check_transaction_state(conn.name or conn.remote_address, conn, msg, header)
        return None

    async def _on_reset_offset(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        header = decode_header(h.ResetOffsetRequestHeader, request.ext_fields)
        table = bodies.decode_reset_offset_body(request.body_bytes())
        consumer = self.consumers.get(header.group)
        if consumer is not None:
            await consumer.reset_offset(header.topic, table)
        return make_response(request)

    def _on_running_info(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        header = decode_header(h.GetConsumerRunningInfoRequestHeader, request.ext_fields)
        consumer = self.consumers.get(header.consumerGroup)
        if consumer is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR,
                                 f"The Consumer Group <{header.consumerGroup}> not exist in this consumer")
        return make_response(request, body=consumer.running_info())

    def _on_consumer_status(self, request: RemotingCommand, conn: Connection) -> RemotingCommand:
        return make_response(request, body=b'{"messageQueueTable":{}}')
