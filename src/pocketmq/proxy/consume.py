"""SimpleConsumer RPCs over the brokers' POP (upstream proxy's ReceiveMessageActivity,
AckMessageActivity, ChangeInvisibleDurationActivity, ForwardMessageToDLQActivity): ReceiveMessage
pops from the master of the broker the client chose and streams status, delivery timestamp and
messages; the receipt handle is the broker's extraInfo for the message followed by its commit log
offset, as upstream's ReceiptHandle (opaque to clients, it names the broker set, queue, offsets
and pop time), so AckMessage, ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue need
nothing remembered here.

A group with ``consumeMessageOrderly`` (read from its broker, GET_SUBSCRIPTIONGROUP_CONFIG, cached
a few seconds) is FIFO: its pops are orderly, each message's delivery attempt comes from the
pop's ``orderCountInfo``, and a message past the maximum attempts goes to the DLQ instead of the
client (upstream PopMessageResultFilterImpl's TO_DLQ; the maximum is the group's retryMaxTimes + 1,
also what its consumers are told over Telemetry). Filters: tags, and SQL92."""

from __future__ import annotations

import logging
from typing import AsyncIterator, Protocol

from pocketmq.client.errors import MQBrokerError
from pocketmq.clock import Clock
from pocketmq.protocol import message as pm
from pocketmq.protocol import fastjson
from pocketmq.protocol.client_headers import ConsumerSendMsgBackRequestHeader, GetSubscriptionGroupConfigRequestHeader
from pocketmq.protocol.pop import (
    INIT_MODE_MAX, ORDER_REVIVE_QUEUE, AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ExtraInfo, PopMessageRequestHeader,
    order_count_of, parse_offset_info, parse_order_count_info, real_topic, retry_flag,
)
from pocketmq.proxy.config import ProxyConfig
from pocketmq.proxy.convert import to_grpc_message
from pocketmq.proxy.settings import duration_ms
from pocketmq.proxy.status import ProxyError, ok, status, status_for
from pocketmq.proxy.stubs import pb
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand

log = logging.getLogger("pocketmq.proxy")

POLL_RESERVE_MS = 500  # of the client's deadline, kept for the answer's way back
MAX_BATCH = 32
GROUP_CACHE_SECONDS = 3.0


class PopBackend(Protocol):
    async def broker_call(self, topic: str, broker_name: str, code: int, header: object,
                          timeout: float | None = None) -> RemotingCommand: ...


def check_group(name: str) -> None:
    if not name or not name.strip():
        raise ProxyError(pb.ILLEGAL_CONSUMER_GROUP, "consumer group cannot be empty")
    if len(name) > 255 or any(not (c.isalnum() or c in "%|-_") for c in name):
        raise ProxyError(pb.ILLEGAL_CONSUMER_GROUP, f"consumer group {name!r} is illegal")


def check_invisible(ms: int, min_ms: int, max_ms: int) -> None:
    if ms < min_ms:
        raise ProxyError(pb.ILLEGAL_INVISIBLE_TIME, f"the invisibleTime is too small. min is {min_ms}")
    if ms > max_ms:
        raise ProxyError(pb.ILLEGAL_INVISIBLE_TIME, f"the invisibleTime is too large. max is {max_ms}")


def polling_ms(request: pb.ReceiveMessageRequest, config: ProxyConfig, remaining_ms: int | None) -> int:
    """Upstream's choice: the client's long-polling timeout within [min, max], and never past
    the call's deadline (ILLEGAL_POLLING_TIME when not even the minimum fits)."""
    if request.HasField("long_polling_timeout"):
        poll = request.long_polling_timeout.ToMilliseconds()
    else:
        poll = config.grpcClientConsumerMaxLongPollingTimeoutMillis
    poll = max(config.grpcClientConsumerMinLongPollingTimeoutMillis,
               min(poll, config.grpcClientConsumerMaxLongPollingTimeoutMillis))
    if remaining_ms is not None:
        budget = remaining_ms - POLL_RESERVE_MS
        if budget < poll:
            if budget < config.grpcClientConsumerMinLongPollingTimeoutMillis:
                raise ProxyError(pb.ILLEGAL_POLLING_TIME,
                                 "The deadline time remaining is not enough for polling, please check network condition")
            poll = budget
    return poll


def filter_of(filter_expression: pb.FilterExpression) -> tuple[str, str]:
    """(expType, exp) of a pop: TAG, or SQL92 (the broker answers SUBSCRIPTION_PARSE_FAILED for
    an expression it cannot parse)."""
    expression = filter_expression.expression.strip()
    if filter_expression.type == pb.SQL:
        if not expression:
            raise ProxyError(pb.ILLEGAL_FILTER_EXPRESSION, "SQL92 filter expression cannot be empty")
        return "SQL92", expression
    return "TAG", expression or "*"


def receipt_handles(response: RemotingCommand, messages: list[pm.MessageExt], broker_name: str) -> list[str]:
    """Each message's extraInfo, as upstream clients build it from the pop response header (or
    take it from the message's POP_CK property when the broker put one there), and its commit
    log offset (upstream ReceiptHandle's last field)."""
    fields = response.ext_fields or {}
    starts = parse_offset_info(fields.get("startOffsetInfo"))
    pop_time, invisible, revive_qid = int(fields["popTime"]), int(fields["invisibleTime"]), int(fields["reviveQid"])
    handles = []
    for msg in messages:
        popped = msg.properties.get(pm.PROPERTY_POP_CK)  # a retry message shown under its own topic
        if popped:
            info = ExtraInfo.decode(popped)
        else:
            flag = retry_flag(msg.topic)
            start = int(starts[f"{flag}@{msg.queue_id}"])
            info = ExtraInfo(start, pop_time, invisible, revive_qid, flag, broker_name, msg.queue_id, msg.queue_offset)
        handles.append(encode_handle(info, msg.commit_log_offset))
    return handles


def apply_order_counts(response: RemotingCommand, messages: list[pm.MessageExt]) -> None:
    """An orderly pop's messages are read again in place: their reconsume times are the pop's
    ``orderCountInfo`` (as upstream clients read it)."""
    counts = parse_order_count_info((response.ext_fields or {}).get("orderCountInfo"))
    for msg in messages:
        msg.reconsume_times = order_count_of(counts, msg.topic, msg.queue_id, msg.queue_offset)


class Consumption:
    def __init__(self, config: ProxyConfig, backend: PopBackend, clock: Clock) -> None:
        self.config = config
        self.backend = backend
        self.clock = clock
        # group -> (when read, consumeMessageOrderly, retryMaxTimes)
        self._groups: dict[str, tuple[float, bool, int]] = {}

    def is_fifo(self, group: str) -> bool:
        """What the last look-up said (the Telemetry answer's ``fifo``)."""
        cached = self._groups.get(group)
        return cached is not None and cached[1]

    def max_attempts(self, group: str) -> int:
        """The group's retryMaxTimes + 1 as last read (the proxy's retryMaxTimes before that)."""
        cached = self._groups.get(group)
        return (cached[2] if cached is not None else self.config.retryMaxTimes) + 1

    async def group_is_orderly(self, topic: str, broker_name: str, group: str) -> bool:
        cached = self._groups.get(group)
        now = self.clock.monotonic()
        if cached is not None and now - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        orderly, retry_max = False, self.config.retryMaxTimes
        try:
            response = await self.backend.broker_call(topic, broker_name, RequestCode.GET_SUBSCRIPTIONGROUP_CONFIG,
                                                      GetSubscriptionGroupConfigRequestHeader(group=group))
            if response.code == ResponseCode.SUCCESS and response.body:
                data = fastjson.loads(response.body_bytes())
                orderly = str(data.get("consumeMessageOrderly", False)).lower() == "true"
                retry_max = int(data.get("retryMaxTimes", retry_max))
        except Exception as exc:  # noqa: BLE001 - the pop itself reports what is wrong
            log.debug("cannot read the config of group %s: %s", group, exc)
            return cached[1] if cached is not None else False
        self._groups[group] = (now, orderly, retry_max)
        return orderly

    async def refresh_groups(self, settings: pb.Settings) -> None:
        """Before a consumer's settings are answered: learn whether its group is FIFO."""
        if not settings.HasField("subscription"):
            return
        group = settings.subscription.group.name
        for entry in settings.subscription.subscriptions[:1]:
            await self.group_is_orderly(entry.topic.name, "", group)

    async def receive(self, request: pb.ReceiveMessageRequest,
                      remaining_ms: int | None) -> AsyncIterator[pb.ReceiveMessageResponse]:
        from pocketmq.proxy.service import check_topic

        try:
            topic = request.message_queue.topic.name
            check_topic(topic)
            check_group(request.group.name)
            poll = polling_ms(request, self.config, remaining_ms)
            if request.auto_renew:
                invisible = self.config.defaultInvisibleTimeMills
            else:
                invisible = request.invisible_duration.ToMilliseconds()
                check_invisible(invisible, self.config.minInvisibleTimeMillsForRecv, self.config.maxInvisibleTimeMills)
            batch = max(1, min(request.batch_size or 1, MAX_BATCH))
            broker_name = request.message_queue.broker.name
            if not broker_name:
                raise ProxyError(pb.BAD_REQUEST, "message_queue.broker.name is required")
            exp_type, exp = filter_of(request.filter_expression)
            group = request.group.name
            orderly = await self.group_is_orderly(topic, broker_name, group)
            header = PopMessageRequestHeader(
                consumerGroup=group, topic=topic, queueId=-1, maxMsgNums=batch, invisibleTime=invisible,
                pollTime=poll, bornTime=self.clock.now_ms(), initMode=INIT_MODE_MAX, expType=exp_type,
                exp=exp, order=orderly, attemptId=request.attempt_id or None)
            response = await self.backend.broker_call(topic, broker_name, RequestCode.POP_MESSAGE, header,
                                                      timeout=poll / 1000 + 3)
            if response.code in (ResponseCode.PULL_NOT_FOUND, ResponseCode.NO_MESSAGE, ResponseCode.POLLING_TIMEOUT):
                yield pb.ReceiveMessageResponse(status=status(pb.MESSAGE_NOT_FOUND, "no new message"))
                return
            if response.code == ResponseCode.POLLING_FULL:  # upstream ReceiveMessageResponseStreamWriter
                yield pb.ReceiveMessageResponse(status=status(pb.TOO_MANY_REQUESTS, "polling full"))
                return
            if response.code == ResponseCode.SUBSCRIPTION_PARSE_FAILED:
                raise ProxyError(pb.ILLEGAL_FILTER_EXPRESSION, response.remark or "expression format is not correct")
            if response.code != ResponseCode.SUCCESS:
                raise MQBrokerError(response.code, response.remark)
            messages = pm.decode_messages(response.body_bytes(), decompress=True)
            handles = receipt_handles(response, messages, broker_name)
            if orderly:
                apply_order_counts(response, messages)
                messages, handles = await self.divert_exhausted(topic, group, messages, handles)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            yield pb.ReceiveMessageResponse(status=status_for(exc))
            return
        if not messages:
            yield pb.ReceiveMessageResponse(status=status(pb.MESSAGE_NOT_FOUND, "no match message"))
            return
        yield pb.ReceiveMessageResponse(status=ok())
        delivery = pb.ReceiveMessageResponse()
        delivery.delivery_timestamp.FromMilliseconds(self.clock.now_ms())
        yield delivery
        for msg, handle in zip(messages, handles):
            out = to_grpc_message(msg)
            out.system_properties.receipt_handle = handle
            out.system_properties.invisible_duration.CopyFrom(duration_ms(invisible))
            yield pb.ReceiveMessageResponse(message=out)

    async def ack(self, request: pb.AckMessageRequest) -> pb.AckMessageResponse:
        from pocketmq.proxy.service import check_topic

        try:
            check_topic(request.topic.name)
            check_group(request.group.name)
        except ProxyError as exc:
            return pb.AckMessageResponse(status=status_for(exc))
        entries = [await self.ack_one(request, entry) for entry in request.entries]
        codes = {e.status.code for e in entries}
        overall = status(pb.MULTIPLE_RESULTS) if len(codes) > 1 else (entries[0].status if entries else ok())
        return pb.AckMessageResponse(status=overall, entries=entries)

    async def divert_exhausted(self, topic: str, group: str, messages: list[pm.MessageExt], handles: list[str]
                               ) -> tuple[list[pm.MessageExt], list[str]]:
        """FIFO messages delivered the maximum number of times go to the DLQ, not to the client."""
        max_attempts = self.max_attempts(group)
        kept: list[tuple[pm.MessageExt, str]] = []
        for msg, handle in zip(messages, handles):
            if msg.reconsume_times < max_attempts:
                kept.append((msg, handle))
                continue
            message_id = msg.properties.get(pm.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or msg.msg_id
            answer = await self.forward_to_dlq(topic, group, handle, message_id)
            if answer.code != pb.OK:
                log.warning("cannot move FIFO message %s of %s to the DLQ: %s", message_id, group, answer.message)
        return [m for m, _ in kept], [h for _, h in kept]

    async def ack_handle(self, topic: str, group: str, handle: str) -> pb.Status:
        info, _ = decode_handle(handle)
        header = AckMessageRequestHeader(consumerGroup=group, topic=topic, queueId=info.queue_id,
                                         extraInfo=info.encode(), offset=info.queue_offset)
        response = await self.backend.broker_call(topic, info.broker_name, RequestCode.ACK_MESSAGE, header)
        return broker_status(response)

    async def ack_one(self, request: pb.AckMessageRequest, entry: pb.AckMessageEntry) -> pb.AckMessageResultEntry:
        result = pb.AckMessageResultEntry(message_id=entry.message_id, receipt_handle=entry.receipt_handle)
        try:
            info, _ = decode_handle(entry.receipt_handle)
            check_not_expired(info, self.clock.now_ms())
            result.status.CopyFrom(await self.ack_handle(request.topic.name, request.group.name, entry.receipt_handle))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            result.status.CopyFrom(status_for(exc))
        return result

    async def forward_to_dlq(self, topic: str, group: str, handle: str, message_id: str) -> pb.Status:
        """Upstream ProducerProcessor.forwardMessageToDeadLetterQueue: CONSUMER_SEND_MSG_BACK with
        delayLevel -1 (straight to ``%DLQ%<group>``), then the message is acked."""
        info, commit_log_offset = decode_handle(handle)
        if commit_log_offset < 0:
            raise ProxyError(pb.INVALID_RECEIPT_HANDLE, "commit log offset is empty")
        header = ConsumerSendMsgBackRequestHeader(
            offset=commit_log_offset, group=group, delayLevel=-1, originMsgId=message_id,
            originTopic=real_topic(topic, group, info.retry), maxReconsumeTimes=0)
        response = await self.backend.broker_call(topic, info.broker_name, RequestCode.CONSUMER_SEND_MSG_BACK, header)
        answer = broker_status(response)
        if answer.code == pb.OK:
            await self.ack_handle(topic, group, handle)
        return answer

    async def forward_message_to_dlq(self, request: pb.ForwardMessageToDeadLetterQueueRequest
                                     ) -> pb.ForwardMessageToDeadLetterQueueResponse:
        from pocketmq.proxy.service import check_topic

        try:
            check_topic(request.topic.name)
            check_group(request.group.name)
            answer = await self.forward_to_dlq(request.topic.name, request.group.name, request.receipt_handle,
                                               request.message_id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            return pb.ForwardMessageToDeadLetterQueueResponse(status=status_for(exc))
        return pb.ForwardMessageToDeadLetterQueueResponse(status=answer)

    async def change_invisible_duration(self, request: pb.ChangeInvisibleDurationRequest
                                        ) -> pb.ChangeInvisibleDurationResponse:
        from pocketmq.proxy.service import check_topic

        try:
            check_topic(request.topic.name)
            check_group(request.group.name)
            invisible = request.invisible_duration.ToMilliseconds()
            check_invisible(invisible, 1, self.config.maxInvisibleTimeMills)
            info, commit_log_offset = decode_handle(request.receipt_handle)
            check_not_expired(info, self.clock.now_ms())
            header = ChangeInvisibleTimeRequestHeader(
                consumerGroup=request.group.name, topic=request.topic.name, queueId=info.queue_id,
                extraInfo=info.encode(), offset=info.queue_offset, invisibleTime=invisible)
            response = await self.backend.broker_call(request.topic.name, info.broker_name,
                                                      RequestCode.CHANGE_MESSAGE_INVISIBLETIME, header)
            answer = broker_status(response)
            if answer.code != pb.OK:
                return pb.ChangeInvisibleDurationResponse(status=answer)
            fields = response.ext_fields or {}
            # A changed message has a checkpoint of its own (starting at it); an orderly one keeps its pop.
            start = info.ck_queue_offset if info.revive_qid == ORDER_REVIVE_QUEUE else info.queue_offset
            handle = encode_handle(ExtraInfo(start, int(fields["popTime"]), int(fields["invisibleTime"]),
                                             int(fields["reviveQid"]), info.retry, info.broker_name, info.queue_id,
                                             info.queue_offset), commit_log_offset)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            return pb.ChangeInvisibleDurationResponse(status=status_for(exc))
        return pb.ChangeInvisibleDurationResponse(status=ok(), receipt_handle=handle)


def encode_handle(info: ExtraInfo, commit_log_offset: int) -> str:
    return f"{info.encode()} {commit_log_offset}"


def decode_handle(handle: str) -> tuple[ExtraInfo, int]:
    """The extraInfo of a receipt handle and its commit log offset (-1 in a bare extraInfo)."""
    try:
        parts = (handle or "").split(" ")
        if len(parts) == 9:
            return ExtraInfo.decode(" ".join(parts[:8])), int(parts[8])
        return ExtraInfo.decode(handle), -1
    except ValueError:
        raise ProxyError(pb.INVALID_RECEIPT_HANDLE, "receipt handle is invalid") from None


def check_not_expired(info: ExtraInfo, now_ms: int) -> None:
    """Upstream's validateReceiptHandle: a handle whose invisible time is over is refused (the
    message may already be with another consumer)."""
    if info.pop_time + info.invisible_time < now_ms:
        raise ProxyError(pb.INVALID_RECEIPT_HANDLE, "receipt handle is expired")


def broker_status(response: RemotingCommand) -> pb.Status:
    if response.code == ResponseCode.SUCCESS:
        return ok()
    if response.code in (ResponseCode.MESSAGE_ILLEGAL, ResponseCode.NO_MESSAGE):
        return status(pb.INVALID_RECEIPT_HANDLE, response.remark or "receipt handle is invalid")
    return status_for(MQBrokerError(response.code, response.remark))
