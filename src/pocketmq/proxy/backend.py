"""The proxy's way to the brokers in cluster mode: topic routes from the name servers and sends
to the master of a broker set, over remoting with PocketMQ's own client API. Routes are cached
for a few seconds (a send needs one per message); a failed send drops the topic's cache.

For transactions it also acts as the producer towards the brokers, as upstream's proxy does: it
heartbeats the producer groups of live gRPC producers (the group of a gRPC message is its topic)
so that a broker's CHECK_TRANSACTION_STATE comes to this process, which hands it to ``on_check``,
and it sends END_TRANSACTION."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from dataclasses import dataclass
from typing import Awaitable, Callable

from pocketmq.client.api import MQClientAPI
from pocketmq.client.errors import MQBrokerError
from pocketmq.client.message import SendResult
from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.config import split_namesrv_addr
from pocketmq.config import local_address
from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol.client_headers import (
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader, SendMessageRequestHeader,
)
from pocketmq.protocol.message import MessageExt, decode_message, java_string_hash, properties_to_string
from pocketmq.protocol.route import TopicRouteData, is_readable, is_writeable
from pocketmq.proxy.convert import OutgoingMessage
from pocketmq.proxy.status import ProxyError
from pocketmq.proxy.stubs import pb
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import Connection, RemotingClient, RemotingError

log = logging.getLogger("pocketmq.proxy")

MASTER_ID = 0
ROUTE_TTL_SECONDS = 5.0
HEARTBEAT_SECONDS = 30.0

CheckHandler = Callable[[str, CheckTransactionStateRequestHeader, MessageExt], Awaitable[None]]


@dataclass(frozen=True)
class WriteQueue:
    broker_name: str
    queue_id: int
    broker_addr: str


class ClusterBackend:
    def __init__(self, namesrv_addr: str, *, timeout_ms: int = 3000, clock: Clock = SYSTEM_CLOCK,
                 before_request: Callable[[RemotingCommand], None] | None = None) -> None:
        self.clock = clock
        self.timeout = timeout_ms / 1000
        # before_request signs what goes to brokers with aclEnable (the proxy's own account)
        self.remoting = RemotingClient(connect_timeout=self.timeout, before_request=before_request)
        self.api = MQClientAPI(self.remoting, split_namesrv_addr(namesrv_addr), timeout=self.timeout)
        self._routes: dict[str, tuple[float, TopicRouteData]] = {}
        self._queues: dict[str, tuple[TopicRouteData, list[WriteQueue]]] = {}
        self._fetching: dict[str, asyncio.Future[TopicRouteData]] = {}
        self._round_robin = itertools.count()
        self.client_id = f"{local_address()}@{os.getpid()}#proxy"
        self.producer_groups: set[str] = set()
        self.on_check: CheckHandler | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.remoting.dispatcher.register(RequestCode.CHECK_TRANSACTION_STATE, self._on_check_transaction_state)

    async def start(self) -> None:
        self._heartbeat_task = asyncio.ensure_future(self._heartbeat_loop())

    async def close(self) -> None:
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
        await self.remoting.close()

    # ------------------------------------------------------------------ transactions
    async def add_producer_groups(self, groups: set[str]) -> None:
        """Heartbeat new producer groups at once, so a check-back can find this process."""
        if not groups <= self.producer_groups:
            self.producer_groups |= groups
            await self.heartbeat()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self.heartbeat()

    async def heartbeat(self) -> None:
        if not self.producer_groups:
            return
        data = bodies.HeartbeatData(self.client_id, [bodies.ProducerData(g) for g in sorted(self.producer_groups)])
        addrs: set[str] = set()
        for group in sorted(self.producer_groups):
            try:
                route = await self.route(group)  # a gRPC producer's group is its topic
            except Exception as exc:  # noqa: BLE001 - no route: nothing to heartbeat for it
                log.debug("no route for producer group %s: %s", group, exc)
                continue
            addrs.update(a for b in route.brokerDatas for a in b.brokerAddrs.values())
        for addr in sorted(addrs):
            try:
                await self.api.send_heartbeat(addr, data)
            except (RemotingError, MQBrokerError) as exc:
                log.warning("heartbeat to broker %s failed: %s", addr, exc)

    async def _on_check_transaction_state(self, request: RemotingCommand, conn: Connection) -> None:
        header = decode_header(CheckTransactionStateRequestHeader, request.ext_fields)
        msg = decode_message(request.body_bytes(), decompress=True)
        if self.on_check is not None:
            await self.on_check(conn.name or conn.remote_address, header, msg)
        return None

    async def end_transaction(self, addr: str, header: EndTransactionRequestHeader) -> None:
        await self.api.end_transaction_oneway(addr, header)

    # ------------------------------------------------------------------ POP
    async def master_of(self, topic: str, broker_name: str) -> str:
        """The master address of ``broker_name`` in the topic's route (any readable master when
        the name is empty or unknown to the route)."""
        route = await self.route(topic)
        masters = {b.brokerName: b.brokerAddrs.get(MASTER_ID) for b in route.brokerDatas}
        addr = masters.get(broker_name)
        if addr:
            return addr
        for data in sorted(route.queueDatas, key=lambda q: q.brokerName):
            if masters.get(data.brokerName) and is_readable(data.perm):
                return masters[data.brokerName]  # type: ignore[return-value]
        raise ProxyError(pb.NOT_FOUND, f"no master of broker {broker_name!r} serves topic {topic}")

    async def broker_call(self, topic: str, broker_name: str, code: int, header: object,
                          timeout: float | None = None) -> RemotingCommand:
        """One request to a broker set's master; the raw response (any code)."""
        addr = await self.master_of(topic, broker_name)
        return await self.api.invoke(addr, self.api.request(code, header), timeout or self.timeout)

    async def route(self, topic: str) -> TopicRouteData:
        """The topic's route; TOPIC_NOT_EXIST from the name server when it has none."""
        cached = self._routes.get(topic)
        now = self.clock.monotonic()
        if cached is not None and now - cached[0] < ROUTE_TTL_SECONDS:
            return cached[1]
        pending = self._fetching.get(topic)
        if pending is None:  # one name-server lookup per topic at a time, shared by every sender
            pending = asyncio.ensure_future(self.api.get_topic_route(topic, timeout=self.timeout))
            self._fetching[topic] = pending
            pending.add_done_callback(lambda _: self._fetching.pop(topic, None))
        route = await asyncio.shield(pending)
        self._routes[topic] = (now, route)
        return route

    def forget(self, topic: str) -> None:
        self._routes.pop(topic, None)
        self._queues.pop(topic, None)

    async def write_queues(self, topic: str) -> list[WriteQueue]:
        route = await self.route(topic)
        cached = self._queues.get(topic)
        if cached is not None and cached[0] is route:
            return cached[1]
        queues = self.queues_of(route)
        self._queues[topic] = (route, queues)
        return queues

    def queues_of(self, route: TopicRouteData) -> list[WriteQueue]:
        """Writable queues of the route's masters, by broker name."""
        masters = {b.brokerName: b.brokerAddrs.get(MASTER_ID) for b in route.brokerDatas}
        queues = []
        for data in sorted(route.queueDatas, key=lambda q: q.brokerName):
            addr = masters.get(data.brokerName)
            if addr and is_writeable(data.perm):
                queues.extend(WriteQueue(data.brokerName, i, addr) for i in range(data.writeQueueNums))
        return queues

    async def select_queue(self, topic: str, message_group: str | None) -> WriteQueue:
        """A message group always goes to the same queue (FIFO); others round-robin (upstream)."""
        queues = await self.write_queues(topic)
        if not queues:
            raise ProxyError(pb.FORBIDDEN, f"topic {topic} has no writable queue")
        if message_group:
            return queues[java_string_hash(message_group) % len(queues)]
        return queues[next(self._round_robin) % len(queues)]

    async def send(self, message: OutgoingMessage, now_ms: int) -> tuple[SendResult, str]:
        """The broker's answer and the address of the master that stored the message."""
        queue = await self.select_queue(message.topic, message.message_group)
        header = SendMessageRequestHeader(
            producerGroup=message.topic, topic=message.topic, defaultTopic="TBW102", defaultTopicQueueNums=4,
            queueId=queue.queue_id, sysFlag=message.sys_flag, bornTimestamp=message.born_timestamp_ms or now_ms,
            flag=0, properties=properties_to_string(message.properties), reconsumeTimes=message.reconsume_times,
            unitMode=False, batch=False)
        try:
            result = await self.api.send_message(queue.broker_addr, queue.broker_name, header, message.body,
                                                 timeout=self.timeout)
        except MQBrokerError as exc:
            if exc.code in (ResponseCode.TOPIC_NOT_EXIST, ResponseCode.NO_PERMISSION):
                self.forget(message.topic)
            raise
        except Exception:
            self.forget(message.topic)
            raise
        assert result is not None
        result.msg_id = message.message_id
        return result, queue.broker_addr
