"""SimpleConsumer RPCs over the brokers' POP (upstream proxy's ReceiveMessageActivity,
AckMessageActivity, ChangeInvisibleDurationActivity): ReceiveMessage pops from the master of the
broker the client chose and streams status, delivery timestamp and messages; the receipt handle
is the broker's extraInfo for the message (opaque to clients, it names the broker set, queue,
offsets and pop time), so AckMessage and ChangeInvisibleDuration need nothing remembered here."""

from __future__ import annotations

import logging
from typing import AsyncIterator, Protocol

from pocketmq.client.errors import MQBrokerError
from pocketmq.clock import Clock
from pocketmq.protocol import message as pm
from pocketmq.protocol.pop import (
    INIT_MODE_MAX, AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ExtraInfo, PopMessageRequestHeader,
    parse_offset_info, retry_flag,
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


def tag_expression(filter_expression: pb.FilterExpression) -> str:
    if filter_expression.type == pb.SQL:
        raise ProxyError(pb.ILLEGAL_FILTER_EXPRESSION, "SQL92 filters are not supported by POP here yet")
    return filter_expression.expression.strip() or "*"


def receipt_handles(response: RemotingCommand, messages: list[pm.MessageExt], broker_name: str) -> list[str]:
    """Each message's extraInfo, as upstream clients build it from the pop response header."""
    fields = response.ext_fields or {}
    starts = parse_offset_info(fields.get("startOffsetInfo"))
    pop_time, invisible, revive_qid = int(fields["popTime"]), int(fields["invisibleTime"]), int(fields["reviveQid"])
    handles = []
    for msg in messages:
        flag = retry_flag(msg.topic)
        start = int(starts[f"{flag}@{msg.queue_id}"])
        handles.append(ExtraInfo(start, pop_time, invisible, revive_qid, flag, broker_name, msg.queue_id,
                                 msg.queue_offset).encode())
    return handles


class Consumption:
    def __init__(self, config: ProxyConfig, backend: PopBackend, clock: Clock) -> None:
        self.config = config
        self.backend = backend
        self.clock = clock

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
            header = PopMessageRequestHeader(
                consumerGroup=request.group.name, topic=topic, queueId=-1, maxMsgNums=batch, invisibleTime=invisible,
                pollTime=poll, bornTime=self.clock.now_ms(), initMode=INIT_MODE_MAX, expType="TAG",
                exp=tag_expression(request.filter_expression), order=False)
            response = await self.backend.broker_call(topic, broker_name, RequestCode.POP_MESSAGE, header,
                                                      timeout=poll / 1000 + 3)
            if response.code in (ResponseCode.PULL_NOT_FOUND, ResponseCode.NO_MESSAGE):
                yield pb.ReceiveMessageResponse(status=status(pb.MESSAGE_NOT_FOUND, "no new message"))
                return
            if response.code != ResponseCode.SUCCESS:
                raise MQBrokerError(response.code, response.remark)
            messages = pm.decode_messages(response.body_bytes(), decompress=True)
            handles = receipt_handles(response, messages, broker_name)
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

    async def ack_one(self, request: pb.AckMessageRequest, entry: pb.AckMessageEntry) -> pb.AckMessageResultEntry:
        result = pb.AckMessageResultEntry(message_id=entry.message_id, receipt_handle=entry.receipt_handle)
        try:
            info = decode_handle(entry.receipt_handle)
            check_not_expired(info, self.clock.now_ms())
            header = AckMessageRequestHeader(consumerGroup=request.group.name, topic=request.topic.name,
                                             queueId=info.queue_id, extraInfo=entry.receipt_handle,
                                             offset=info.queue_offset)
            response = await self.backend.broker_call(request.topic.name, info.broker_name, RequestCode.ACK_MESSAGE,
                                                      header)
            result.status.CopyFrom(broker_status(response))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            result.status.CopyFrom(status_for(exc))
        return result

    async def change_invisible_duration(self, request: pb.ChangeInvisibleDurationRequest
                                        ) -> pb.ChangeInvisibleDurationResponse:
        from pocketmq.proxy.service import check_topic

        try:
            check_topic(request.topic.name)
            check_group(request.group.name)
            invisible = request.invisible_duration.ToMilliseconds()
            check_invisible(invisible, 1, self.config.maxInvisibleTimeMills)
            info = decode_handle(request.receipt_handle)
            check_not_expired(info, self.clock.now_ms())
            header = ChangeInvisibleTimeRequestHeader(
                consumerGroup=request.group.name, topic=request.topic.name, queueId=info.queue_id,
                extraInfo=request.receipt_handle, offset=info.queue_offset, invisibleTime=invisible)
            response = await self.backend.broker_call(request.topic.name, info.broker_name,
                                                      RequestCode.CHANGE_MESSAGE_INVISIBLETIME, header)
            answer = broker_status(response)
            if answer.code != pb.OK:
                return pb.ChangeInvisibleDurationResponse(status=answer)
            fields = response.ext_fields or {}
            handle = ExtraInfo(info.queue_offset, int(fields["popTime"]), int(fields["invisibleTime"]),
                               int(fields["reviveQid"]), info.retry, info.broker_name, info.queue_id,
                               info.queue_offset).encode()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status
            return pb.ChangeInvisibleDurationResponse(status=status_for(exc))
        return pb.ChangeInvisibleDurationResponse(status=ok(), receipt_handle=handle)


def decode_handle(handle: str) -> ExtraInfo:
    try:
        return ExtraInfo.decode(handle)
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
