"""The MessagingService RPC handlers (grpc.aio): QueryRoute, Heartbeat, SendMessage (normal,
FIFO, delay, transaction), EndTransaction, Telemetry (settings, and the broker's transaction
check-backs pushed to a live producer), NotifyClientTermination, and the SimpleConsumer's
ReceiveMessage / AckMessage / ChangeInvisibleDuration over the brokers' POP (``consume``); the
other RPCs (QueryAssignment for push consumers, FIFO receive, pull, recall, lite topics) answer
NOT_IMPLEMENTED in their status.

Every handler answers with an upstream status code (``status``): nothing a client sends makes a
handler raise into grpc. The ``authorization`` header and ``x-mq-namespace`` are dealt with
before the handlers, by ``guard``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from typing import AsyncIterator, Protocol

import grpc

from pocketmq.client.message import SendResult, SendStatus
from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.protocol.route import TopicRouteData, is_readable, is_writeable
from pocketmq.proxy.config import ProxyConfig
from pocketmq.protocol.client_headers import CheckTransactionStateRequestHeader, EndTransactionRequestHeader
from pocketmq.protocol.message import (
    PROPERTY_PRODUCER_GROUP, PROPERTY_TRANSFER_FLAG, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
    TRANSACTION_ROLLBACK_TYPE, MessageExt,
)
from pocketmq.protocol.message_id import decode_offset_message_id
from pocketmq.proxy.consume import Consumption
from pocketmq.proxy.front import PeerTable
from pocketmq.proxy.convert import OutgoingMessage, to_grpc_message, to_outgoing
from pocketmq.proxy.topic_types import TopicMessageTypes, accepted, message_type_of, validate
from pocketmq.proxy.transactions import TransactionTable
from pocketmq.proxy.settings import ClientSettings
from pocketmq.proxy.status import ProxyError, ok, status, status_for
from pocketmq.proxy.stubs import pb, pb_grpc

log = logging.getLogger("pocketmq.proxy")

CLIENT_ID_KEY = "x-mq-client-id"
_TOPIC_RE = re.compile(r"^[%|a-zA-Z0-9_-]+$")
_SYSTEM_TOPICS = frozenset({"TBW102", "SCHEDULE_TOPIC_XXXX", "BenchmarkTest", "OFFSET_MOVED_EVENT",
                            "SELF_TEST_TOPIC", "RMQ_SYS_TRACE_TOPIC"})
# With enableTopicMessageTypeCheck off, a route accepts every type (topic_types.py otherwise).
ACCEPTED_TYPES = (pb.NORMAL, pb.FIFO, pb.DELAY, pb.TRANSACTION)
_SEND_STATUS_CODE = {
    SendStatus.SEND_OK: pb.OK,
    SendStatus.FLUSH_DISK_TIMEOUT: pb.MASTER_PERSISTENCE_TIMEOUT,
    SendStatus.FLUSH_SLAVE_TIMEOUT: pb.SLAVE_PERSISTENCE_TIMEOUT,
    SendStatus.SLAVE_NOT_AVAILABLE: pb.HA_NOT_AVAILABLE,
}


class Backend(Protocol):
    async def route(self, topic: str) -> TopicRouteData: ...

    async def send(self, message: OutgoingMessage, now_ms: int) -> tuple[SendResult, str]: ...

    async def end_transaction(self, addr: str, header: EndTransactionRequestHeader) -> None: ...

    async def add_producer_groups(self, groups: set[str]) -> None: ...

    # Local mode also has ``async def broker_endpoints(broker_addr) -> pb.Endpoints | None``.


def check_topic(name: str) -> None:
    if not name or not name.strip():
        raise ProxyError(pb.ILLEGAL_TOPIC, "The specified topic is blank")
    if len(name) > 127:
        raise ProxyError(pb.ILLEGAL_TOPIC, "The specified topic is longer than topic max length.")
    if not _TOPIC_RE.match(name):
        raise ProxyError(pb.ILLEGAL_TOPIC,
                         f"The specified topic[{name}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")
    if name in _SYSTEM_TOPICS or name.startswith("RMQ_SYS_") or name.startswith("rmq_sys_"):
        raise ProxyError(pb.ILLEGAL_TOPIC, "cannot access system topic")


def client_id_of(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_ID_KEY:
            return value if isinstance(value, str) else value.decode()
    return ""


def remote_host_of(context: grpc.aio.ServicerContext, peers: PeerTable | None = None) -> str:
    """``ipv4:127.0.0.1:5000`` -> ``127.0.0.1:5000`` (upstream puts host:port in __BORNHOST);
    the real client when the call came through the TLS front (``peers``)."""
    peer = context.peer() or ""
    real = peers.real(peer) if peers is not None else None
    if real:
        return real
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.replace("%5B", "[").replace("%5D", "]")
    return rest if kind == "ipv4" else ""


def permission_queues(perm: int, read: int, write: int) -> list[int]:
    """Upstream's split of a broker's queues: read-only, write-only, then read-write ones."""
    if is_readable(perm) and is_writeable(perm):
        both = min(read, write)
        return [pb.READ] * (read - both) + [pb.WRITE] * (write - both) + [pb.READ_WRITE] * both
    if is_writeable(perm):
        return [pb.WRITE] * write
    if is_readable(perm):
        return [pb.READ] * read
    return [pb.NONE] * max(1, read, write)


class MessagingService(pb_grpc.MessagingServiceServicer):
    def __init__(self, config: ProxyConfig, backend: Backend, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.backend = backend
        self.clock = clock
        self.transactions = TransactionTable(clock=clock)
        self.consumption = Consumption(config, backend, clock)  # type: ignore[arg-type]
        self.topic_types = TopicMessageTypes(backend, clock)  # type: ignore[arg-type]
        self.settings = ClientSettings(config, is_fifo=self.consumption.is_fifo,
                                       max_attempts=self.consumption.max_attempts)
        self.channels: dict[str, asyncio.Queue[pb.TelemetryCommand | None]] = {}
        self.peers: PeerTable | None = None  # set by the endpoint when a TLS front relays calls
        if hasattr(backend, "on_check"):
            backend.on_check = self.on_transaction_check  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ routes
    def advertised_endpoints(self, requested: pb.Endpoints) -> pb.Endpoints:
        """Where clients reach every broker through this endpoint: the configured host, else the
        address the client dialled, else this host on grpcServerPort."""
        if self.config.proxyAdvertiseHost:
            return pb.Endpoints(scheme=pb.IPv4, addresses=[
                pb.Address(host=self.config.proxyAdvertiseHost, port=self.config.grpcServerPort)])
        if requested.addresses:
            return requested
        return pb.Endpoints(scheme=pb.IPv4, addresses=[pb.Address(host="127.0.0.1", port=self.config.grpcServerPort)])

    async def endpoints_of(self, broker_addr: str, advertised: pb.Endpoints) -> pb.Endpoints | None:
        """The endpoint clients reach a broker through: this one in cluster mode; in local mode
        the endpoint embedded with that broker (None: it has none)."""
        lookup = getattr(self.backend, "broker_endpoints", None)
        if lookup is None:
            return advertised
        try:
            return await lookup(broker_addr)
        except Exception:  # noqa: BLE001 - a broker we cannot place is left out of the route
            log.exception("cannot find the gRPC endpoint of broker %s", broker_addr)
            return None

    async def QueryRoute(self, request: pb.QueryRouteRequest, context: grpc.aio.ServicerContext) -> pb.QueryRouteResponse:
        try:
            check_topic(request.topic.name)
            route = await self.backend.route(request.topic.name)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            return pb.QueryRouteResponse(status=status_for(exc))
        endpoints = self.advertised_endpoints(request.endpoints)
        brokers = {b.brokerName: b for b in route.brokerDatas}
        accept = ACCEPTED_TYPES
        if self.config.enableTopicMessageTypeCheck:  # the topic's message.type, as upstream's RouteActivity
            accept = tuple(accepted(await self.topic_types.of(request.topic.name)))
        queues = []
        for data in sorted(route.queueDatas, key=lambda q: q.brokerName):
            broker_data = brokers.get(data.brokerName)
            if broker_data is None:
                continue
            for broker_id, broker_addr in sorted(broker_data.brokerAddrs.items()):
                broker_endpoints = await self.endpoints_of(broker_addr, endpoints)
                if broker_endpoints is None:
                    continue
                broker = pb.Broker(name=data.brokerName, id=broker_id, endpoints=broker_endpoints)
                for queue_id, permission in enumerate(
                        permission_queues(data.perm, data.readQueueNums, data.writeQueueNums)):
                    queues.append(pb.MessageQueue(topic=request.topic, id=queue_id, permission=permission,
                                                  broker=broker, accept_message_types=accept))
        return pb.QueryRouteResponse(status=ok(), message_queues=queues)

    # ------------------------------------------------------------------ clients
    async def Heartbeat(self, request: pb.HeartbeatRequest, context: grpc.aio.ServicerContext) -> pb.HeartbeatResponse:
        client_id = client_id_of(context)
        if not client_id:
            return pb.HeartbeatResponse(status=status(pb.CLIENT_ID_REQUIRED, "client id cannot be empty"))
        if self.settings.get(client_id) is None:
            return pb.HeartbeatResponse(status=status(pb.UNRECOGNIZED_CLIENT_TYPE,
                                                      "cannot find client settings for this client"))
        return pb.HeartbeatResponse(status=ok())

    async def NotifyClientTermination(self, request: pb.NotifyClientTerminationRequest,
                                      context: grpc.aio.ServicerContext) -> pb.NotifyClientTerminationResponse:
        client_id = client_id_of(context)
        if not client_id:
            return pb.NotifyClientTerminationResponse(status=status(pb.CLIENT_ID_REQUIRED, "client id cannot be empty"))
        if self.settings.remove(client_id) is None:
            return pb.NotifyClientTerminationResponse(status=status(
                pb.UNRECOGNIZED_CLIENT_TYPE, "cannot find client settings for this client"))
        return pb.NotifyClientTerminationResponse(status=ok())

    async def Telemetry(self, request_iterator: AsyncIterator[pb.TelemetryCommand],
                        context: grpc.aio.ServicerContext) -> AsyncIterator[pb.TelemetryCommand]:
        """Answers what the client sends and, while the stream is open, pushes the server's own
        commands (transaction check-backs) to it."""
        client_id = client_id_of(context)
        outbound: asyncio.Queue[pb.TelemetryCommand | None] = asyncio.Queue()
        if client_id:
            self.channels[client_id] = outbound

        async def read() -> None:
            try:
                async for command in request_iterator:
                    answer = await self.telemetry_answer(client_id, command)
                    if answer is not None:
                        outbound.put_nowait(answer)
            except Exception as exc:  # noqa: BLE001 - a broken stream ends the call, nothing else
                log.debug("telemetry stream of %s ended: %s", client_id, exc)
            finally:
                outbound.put_nowait(None)

        reader = asyncio.ensure_future(read())
        try:
            while (item := await outbound.get()) is not None:
                yield item
        finally:
            reader.cancel()
            if self.channels.get(client_id) is outbound:
                del self.channels[client_id]

    async def telemetry_answer(self, client_id: str, command: pb.TelemetryCommand) -> pb.TelemetryCommand | None:
        kind = command.WhichOneof("command")
        if kind != "settings":
            return None  # thread stack traces and verify results: nothing asked for them yet
        if not client_id:
            return pb.TelemetryCommand(status=status(pb.CLIENT_ID_REQUIRED, "client id cannot be empty"))
        settings = command.settings
        if settings.WhichOneof("pub_sub") is None:
            return pb.TelemetryCommand(status=status(
                pb.BAD_REQUEST, "there is no publishing or subscription data in settings"))
        try:
            for topic in settings.publishing.topics:
                check_topic(topic.name)
        except ProxyError as exc:
            return pb.TelemetryCommand(status=status_for(exc))
        await self.consumption.refresh_groups(settings)  # a FIFO group's consumers learn it here
        answer = pb.TelemetryCommand(status=ok(), settings=self.settings.update(client_id, settings))
        topics = {topic.name for topic in settings.publishing.topics}
        if topics:
            try:
                await self.backend.add_producer_groups(topics)
            except Exception:  # noqa: BLE001 - check-backs wait for the next heartbeat
                log.exception("cannot register producer groups %s with the brokers", sorted(topics))
        return answer

    # ------------------------------------------------------------------ transactions
    async def on_transaction_check(self, broker_addr: str, header: CheckTransactionStateRequestHeader,
                                   msg: MessageExt) -> None:
        """A broker asks about a half message: hand it to a live producer of its topic."""
        group = msg.properties.get(PROPERTY_PRODUCER_GROUP) or msg.topic
        transaction_id = header.transactionId or header.msgId or ""
        producers = [cid for cid in self.settings.clients_publishing(group) if cid in self.channels]
        if not producers or not transaction_id:
            log.warning("transaction check for %s (group %s): no live producer", transaction_id, group)
            return
        self.transactions.add(group, transaction_id, broker_addr, header.tranStateTableOffset,
                              header.commitLogOffset, header.msgId or "")
        command = pb.RecoverOrphanedTransactionCommand(message=to_grpc_message(msg, pb.TRANSACTION),
                                                       transaction_id=transaction_id)
        self.channels[random.choice(producers)].put_nowait(
            pb.TelemetryCommand(recover_orphaned_transaction_command=command))

    async def EndTransaction(self, request: pb.EndTransactionRequest,
                             context: grpc.aio.ServicerContext) -> pb.EndTransactionResponse:
        try:
            check_topic(request.topic.name)
            if not request.transaction_id.strip():
                raise ProxyError(pb.INVALID_TRANSACTION_ID, "transaction id cannot be empty")
            data = self.transactions.take(request.topic.name, request.transaction_id)
            if data is None:
                raise ProxyError(pb.INVALID_TRANSACTION_ID,
                                 f"cannot find transaction data, transactionId={request.transaction_id}")
            resolution = {pb.COMMIT: TRANSACTION_COMMIT_TYPE, pb.ROLLBACK: TRANSACTION_ROLLBACK_TYPE}.get(
                request.resolution, TRANSACTION_NOT_TYPE)
            header = EndTransactionRequestHeader(
                producerGroup=request.topic.name, tranStateTableOffset=data.tran_state_table_offset,
                commitLogOffset=data.commit_log_offset, commitOrRollback=resolution,
                msgId=request.message_id or data.message_id,
                fromTransactionCheck=request.source == pb.SOURCE_SERVER_CHECK, transactionId=request.transaction_id)
            await self.backend.end_transaction(data.broker_addr, header)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            return pb.EndTransactionResponse(status=status_for(exc))
        return pb.EndTransactionResponse(status=ok())

    # ------------------------------------------------------------------ send
    async def SendMessage(self, request: pb.SendMessageRequest,
                          context: grpc.aio.ServicerContext) -> pb.SendMessageResponse:
        if not request.messages:
            return pb.SendMessageResponse(status=status(pb.MESSAGE_CORRUPTED, "no message to send"))
        topic = request.messages[0].topic.name
        if any(m.topic.name != topic for m in request.messages):
            return pb.SendMessageResponse(status=status(pb.MESSAGE_CORRUPTED, "topic in message is not same"))
        try:
            check_topic(topic)
        except ProxyError as exc:
            return pb.SendMessageResponse(status=status_for(exc))
        remote = remote_host_of(context, self.peers)
        entries = [await self.send_one(message, remote) for message in request.messages]
        codes = {entry.status.code for entry in entries}
        if len(codes) > 1:
            overall = status(pb.MULTIPLE_RESULTS)
        else:
            overall = entries[0].status
        return pb.SendMessageResponse(status=overall, entries=entries)

    async def send_one(self, message: pb.Message, remote_host: str) -> pb.SendResultEntry:
        now_ms = self.clock.now_ms()
        try:
            outgoing = to_outgoing(message, self.config, now_ms, remote_host)
            await self.check_message_type(outgoing)
            result, broker_addr = await self.backend.send(outgoing, now_ms)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            return pb.SendResultEntry(status=status_for(exc))
        code = _SEND_STATUS_CODE.get(result.status, pb.INTERNAL_SERVER_ERROR)
        if code != pb.OK:
            return pb.SendResultEntry(status=status(code, f"send message failed, sendStatus={result.status.name}"))
        transaction_id = ""
        if message.system_properties.message_type == pb.TRANSACTION:
            transaction_id = result.transaction_id or result.msg_id
            self.remember_half(message, result, broker_addr, transaction_id)
        return pb.SendResultEntry(status=ok(), message_id=result.msg_id, transaction_id=transaction_id,
                                  offset=result.queue_offset)

    async def check_message_type(self, outgoing: OutgoingMessage) -> None:
        """upstream ProducerProcessor: with enableTopicMessageTypeCheck, a message's type must be
        its topic's message.type (or the topic MIXED); retry and DLQ topics and transferred
        messages are not checked."""
        topic = outgoing.topic
        if not self.config.enableTopicMessageTypeCheck or PROPERTY_TRANSFER_FLAG in outgoing.properties \
                or topic.startswith(("%RETRY%", "%DLQ%")):
            return
        validate(await self.topic_types.of(topic), message_type_of(outgoing.properties))

    def remember_half(self, message: pb.Message, result: SendResult, broker_addr: str, transaction_id: str) -> None:
        _, _, commit_log_offset = decode_offset_message_id(result.offset_msg_id)
        keep_ms = 0
        if message.system_properties.HasField("orphaned_transaction_recovery_duration"):
            keep_ms = message.system_properties.orphaned_transaction_recovery_duration.ToMilliseconds()
        self.transactions.add(message.topic.name, transaction_id, broker_addr, result.queue_offset,
                              commit_log_offset, result.msg_id, keep_ms)

    # ------------------------------------------------------------------ consumers (POP)
    async def QueryAssignment(self, request: pb.QueryAssignmentRequest,
                              context: grpc.aio.ServicerContext) -> pb.QueryAssignmentResponse:
        """Upstream's non-FIFO assignment: one queue (id -1: every queue, POP picks) per readable
        master broker of the topic; every PushConsumer of the group gets all of them."""
        try:
            check_topic(request.topic.name)
            from pocketmq.proxy.consume import check_group  # noqa: PLC0415
            check_group(request.group.name)
            route = await self.backend.route(request.topic.name)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            return pb.QueryAssignmentResponse(status=status_for(exc))
        endpoints = self.advertised_endpoints(request.endpoints)
        masters = {b.brokerName: b.brokerAddrs.get(0) for b in route.brokerDatas}
        assignments = []
        for data in sorted(route.queueDatas, key=lambda q: q.brokerName):
            addr = masters.get(data.brokerName)
            if not addr or not is_readable(data.perm):
                continue
            broker_endpoints = await self.endpoints_of(addr, endpoints)
            if broker_endpoints is None:
                continue
            permission = pb.READ_WRITE if is_writeable(data.perm) else pb.READ
            queue = pb.MessageQueue(topic=request.topic, id=-1, permission=permission,
                                    broker=pb.Broker(name=data.brokerName, id=0, endpoints=broker_endpoints))
            assignments.append(pb.Assignment(message_queue=queue))
        if not assignments:
            return pb.QueryAssignmentResponse(status=status(pb.FORBIDDEN, f"topic {request.topic.name} has no "
                                                                          "readable queue here"))
        return pb.QueryAssignmentResponse(status=ok(), assignments=assignments)

    async def ReceiveMessage(self, request: pb.ReceiveMessageRequest,
                             context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ReceiveMessageResponse]:
        remaining = context.time_remaining()
        async for response in self.consumption.receive(request, None if remaining is None else int(remaining * 1000)):
            yield response

    async def AckMessage(self, request: pb.AckMessageRequest,
                         context: grpc.aio.ServicerContext) -> pb.AckMessageResponse:
        return await self.consumption.ack(request)

    async def ChangeInvisibleDuration(self, request: pb.ChangeInvisibleDurationRequest,
                                      context: grpc.aio.ServicerContext) -> pb.ChangeInvisibleDurationResponse:
        return await self.consumption.change_invisible_duration(request)

    async def ForwardMessageToDeadLetterQueue(self, request: pb.ForwardMessageToDeadLetterQueueRequest,
                                              context: grpc.aio.ServicerContext
                                              ) -> pb.ForwardMessageToDeadLetterQueueResponse:
        return await self.consumption.forward_message_to_dlq(request)

    # ------------------------------------------------------------------ not yet

    async def PullMessage(self, request, context):  # type: ignore[no-untyped-def]
        yield pb.PullMessageResponse(status=not_implemented("PullMessage"))

    async def UpdateOffset(self, request, context):  # type: ignore[no-untyped-def]
        return pb.UpdateOffsetResponse(status=not_implemented("UpdateOffset"))

    async def GetOffset(self, request, context):  # type: ignore[no-untyped-def]
        return pb.GetOffsetResponse(status=not_implemented("GetOffset"))

    async def QueryOffset(self, request, context):  # type: ignore[no-untyped-def]
        return pb.QueryOffsetResponse(status=not_implemented("QueryOffset"))

    async def RecallMessage(self, request, context):  # type: ignore[no-untyped-def]
        return pb.RecallMessageResponse(status=not_implemented("RecallMessage"))

    async def SyncLiteSubscription(self, request, context):  # type: ignore[no-untyped-def]
        return pb.SyncLiteSubscriptionResponse(status=not_implemented("SyncLiteSubscription"))


def not_implemented(rpc: str) -> pb.Status:
    return status(pb.NOT_IMPLEMENTED, f"{rpc} is not implemented by PocketMQ's endpoint yet")
