"""Pull requests (upstream PullMessageProcessor) and long polling (PullRequestHoldService).

A pull is checked (permissions, group, topic, queue, subscription), answered from the store
with the raw stored entries as the body (slices of the mapped files, not copies), and, when
nothing is there yet and the client allows it, held until a message for that queue arrives
or the hold time runs out, then answered once more without holding.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pocketmq.aio import resolve
from pocketmq.protocol.client_bodies import SubscriptionData
from pocketmq.protocol.client_headers import (
    PULL_FLAG_COMMIT_OFFSET, PULL_FLAG_SUBSCRIPTION, PULL_FLAG_SUSPEND, PullMessageRequestHeader,
)
from pocketmq.protocol.route import is_readable
from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import Connection
from pocketmq.store.results import GetMessageStatus

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")

MAX_PULL_BATCH = 10_000
SUB_ALL = "*"


def parse_tag_subscription(topic: str, expression: str | None, sub_version: int = 0) -> SubscriptionData:
    """``TagA || TagB`` -> tags and their Java hash codes; ``*`` or empty means everything."""
    subscription = SubscriptionData.build(topic, expression)
    subscription.subVersion = sub_version
    return subscription


def tag_codes_of(subscription: SubscriptionData) -> set[int] | None:
    if subscription.expressionType not in ("TAG", "", None):
        return None
    if subscription.subString in ("", SUB_ALL) or not subscription.codeSet:
        return None
    return set(subscription.codeSet)


@dataclass(eq=False)
class HeldPull:
    offset: int
    tag_codes: set[int] | None
    future: asyncio.Future[None] = field(repr=False, default=None)  # type: ignore[assignment]


class PullHoldService:
    """Held long-poll requests per (topic, queueId), woken when a message for that queue lands."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, int], list[HeldPull]] = {}

    async def hold(self, topic: str, queue_id: int, offset: int, tag_codes: set[int] | None, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        entry = HeldPull(offset, tag_codes, loop.create_future())
        key = (topic, queue_id)
        self.held.setdefault(key, []).append(entry)
        timer = loop.call_later(timeout, resolve, entry.future, None)  # not wait_for: no Task per pull
        try:
            await entry.future
        finally:
            timer.cancel()
            waiting = self.held.get(key)
            if waiting is not None:
                try:
                    waiting.remove(entry)
                except ValueError:
                    pass
                if not waiting:
                    del self.held[key]

    def notify_message_arriving(self, topic: str, queue_id: int, max_offset: int, tags_code: int | None) -> None:
        waiting = self.held.get((topic, queue_id))
        if not waiting:
            return
        for entry in waiting:
            if entry.future.done() or max_offset <= entry.offset:
                continue
            if entry.tag_codes is not None and tags_code is not None and tags_code not in entry.tag_codes:
                continue
            entry.future.set_result(None)

    def wake_all(self) -> None:
        for waiting in self.held.values():
            for entry in waiting:
                if not entry.future.done():
                    entry.future.set_result(None)


class PullProcessor:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker
        self.config = broker.config
        self.hold_service = PullHoldService()
        self._groups_served_before_heartbeat: set[str] = set()

    async def process(self, request: RemotingCommand, channel: Connection) -> RemotingCommand | None:
        header = decode_header(PullMessageRequestHeader, request.ext_fields)
        response = self._pull(request, header, allow_suspend=True)
        if isinstance(response, RemotingCommand):
            return response
        subscription, hold_ms = response
        request.suspended = True  # the rpc latency histogram's is_long_polling
        await self.hold_service.hold(header.topic, header.queueId, header.queueOffset, tag_codes_of(subscription),
                                     hold_ms / 1000)
        if not channel.is_open:  # the consumer went away while its pull was held: nobody to read for
            return None
        again = self._pull(request, header, allow_suspend=False)
        assert isinstance(again, RemotingCommand)
        return again

    def _error(self, request: RemotingCommand, code: int, remark: str) -> RemotingCommand:
        return make_response(request, code, remark, ext_fields={})

    def _pull(self, request: RemotingCommand, header: PullMessageRequestHeader,
              allow_suspend: bool) -> RemotingCommand | tuple[SubscriptionData, int]:
        """A response, or (subscription, hold milliseconds) when the request should be held."""
        broker = self.broker
        if not is_readable(self.config.brokerPermission):
            return self._error(request, ResponseCode.NO_PERMISSION,
                               f"the broker[{self.config.brokerIP1}] pulling message is forbidden")
        group_config = broker.subscription_group_manager.find(header.consumerGroup)
        if group_config is None:
            return self._error(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                               f"subscription group [{header.consumerGroup}] does not exist, "
                               "See http://rocketmq.apache.org/docs/faq/ for further details.")
        if not group_config.consumeEnable:
            return self._error(request, ResponseCode.NO_PERMISSION,
                               f"subscription group no permission, {header.consumerGroup}")
        topic_config = broker.topic_config_manager.get(header.topic)
        if topic_config is None:
            return self._error(request, ResponseCode.TOPIC_NOT_EXIST,
                               f"topic[{header.topic}] not exist, apply first please! "
                               "See http://rocketmq.apache.org/docs/faq/ for further details.")
        if not is_readable(topic_config.perm):
            return self._error(request, ResponseCode.NO_PERMISSION, f"the topic[{header.topic}] pulling message is forbidden")
        if header.queueId < 0 or header.queueId >= topic_config.readQueueNums:
            return self._error(request, ResponseCode.SYSTEM_ERROR,
                               f"queueId[{header.queueId}] is illegal, topic:[{header.topic}] "
                               f"topicConfig.readQueueNums:[{topic_config.readQueueNums}] consumer:[{request.language}]")
        subscription = self._subscription(request, header, group_config.consumeBroadcastEnable)
        if isinstance(subscription, RemotingCommand):
            return subscription
        max_nums = max(1, min(header.maxMsgNums, MAX_PULL_BATCH))
        result = broker.store.get_message(header.consumerGroup, header.topic, header.queueId, header.queueOffset,
                                          max_nums, tag_codes_of(subscription), broker.message_filter(subscription))
        if result is None:
            return self._error(request, ResponseCode.SYSTEM_ERROR, "store getMessage return null")
        code, next_begin = self._map_status(result.status, header.queueOffset, result.next_begin_offset)
        suggest = group_config.brokerId
        if self.config.slaveReadEnable and result.suggest_pulling_from_slave:
            suggest = group_config.whichBrokerWhenConsumeSlowly
        if broker.is_slave and not broker.store_config.offsetCheckInSlave and code == ResponseCode.PULL_OFFSET_MOVED:
            code, next_begin, suggest = ResponseCode.PULL_RETRY_IMMEDIATELY, header.queueOffset, group_config.brokerId
        if (code == ResponseCode.PULL_NOT_FOUND and allow_suspend and header.sysFlag & PULL_FLAG_SUSPEND):
            hold_ms = header.suspendTimeoutMillis if self.config.longPollingEnable else self.config.shortPollingTimeMills
            hold_ms = max(0, min(hold_ms, self.config.brokerSuspendMaxTimeMillis))
            if hold_ms > 0:
                self._commit_if_asked(header, allow_suspend)
                return subscription, hold_ms
        self._commit_if_asked(header, allow_suspend)
        fields = {"suggestWhichBrokerId": str(suggest), "nextBeginOffset": str(next_begin),
                  "minOffset": str(result.min_offset), "maxOffset": str(result.max_offset)}
        body = None
        if code == ResponseCode.SUCCESS:
            body = list(result.buffers)
            broker.stats_manager.on_get(header.consumerGroup, header.topic, len(body), result.buffer_total_size,
                                        header.queueId, next_begin)
        return make_response(request, code, result.status.name, ext_fields=fields, body=body)

    def _subscription(self, request: RemotingCommand, header: PullMessageRequestHeader,
                      broadcast_enabled: bool) -> SubscriptionData | RemotingCommand:
        broker = self.broker
        expression_type = (header.expressionType or "TAG").upper()
        if header.sysFlag & PULL_FLAG_SUBSCRIPTION:
            if expression_type == "TAG":
                return parse_tag_subscription(header.topic, header.subscription, header.subVersion)
            subscription = SubscriptionData(topic=header.topic, subString=header.subscription or "",
                                            expressionType=expression_type, subVersion=header.subVersion)
        else:
            group_info = broker.consumer_manager.find(header.consumerGroup)
            if group_info is None:
                return self._before_heartbeat(request, header, "the consumer's group info not exist")
            if not broadcast_enabled and group_info.message_model == "BROADCASTING":
                return self._error(request, ResponseCode.NO_PERMISSION,
                                   f"the consumer group[{header.consumerGroup}] can not consume by broadcast way")
            found = group_info.subscriptions.get(header.topic)
            if found is None:
                return self._before_heartbeat(request, header, "the consumer's subscription not exist")
            if found.subVersion < header.subVersion:
                return self._error(request, ResponseCode.SUBSCRIPTION_NOT_LATEST,
                                   "the consumer's subscription not latest")
            subscription = found
        if subscription.expressionType not in ("TAG", "") and not self.config.enablePropertyFilter:
            return self._error(request, ResponseCode.SYSTEM_ERROR,
                               "The broker does not support consumer to filter message by " + subscription.expressionType)
        problem = broker.check_filter(subscription)
        if problem:
            return self._error(request, ResponseCode.SUBSCRIPTION_PARSE_FAILED, problem)
        return subscription

    def _before_heartbeat(self, request: RemotingCommand, header: PullMessageRequestHeader,
                          problem: str) -> SubscriptionData | RemotingCommand:
        """A pull from a consumer this broker has not heard a heartbeat from (it restarted, or it
        expired the client while it was stopped). Upstream answers SUBSCRIPTION_NOT_EXIST until the
        next heartbeat, up to 30 s of stall; a TAG pull is served with a match-all filter instead,
        since every official client filters the pulled messages by its tags again. A filter the
        client cannot apply itself (SQL92) still waits for the heartbeat."""
        expression_type = (header.expressionType or "TAG").upper()
        if expression_type != "TAG":
            return self._error(request, ResponseCode.SUBSCRIPTION_NOT_EXIST,
                               f"{problem}, group: {header.consumerGroup}")
        if header.consumerGroup not in self._groups_served_before_heartbeat:
            self._groups_served_before_heartbeat.add(header.consumerGroup)
            log.info("pull from %s before its heartbeat (%s): serving topic %s unfiltered until it arrives",
                     header.consumerGroup, problem, header.topic)
        return parse_tag_subscription(header.topic, SUB_ALL, header.subVersion)

    def _commit_if_asked(self, header: PullMessageRequestHeader, allow_suspend: bool) -> None:
        if allow_suspend and header.sysFlag & PULL_FLAG_COMMIT_OFFSET and not self.broker.is_slave:
            self.broker.consumer_offset_manager.commit(header.consumerGroup, header.topic, header.queueId,
                                                       header.commitOffset)

    @staticmethod
    def _map_status(status: GetMessageStatus, offset: int, next_begin: int) -> tuple[int, int]:
        if status is GetMessageStatus.FOUND:
            return ResponseCode.SUCCESS, next_begin
        if status in (GetMessageStatus.MESSAGE_WAS_REMOVING, GetMessageStatus.NO_MATCHED_MESSAGE):
            return ResponseCode.PULL_RETRY_IMMEDIATELY, next_begin
        if status in (GetMessageStatus.NO_MATCHED_LOGIC_QUEUE, GetMessageStatus.NO_MESSAGE_IN_QUEUE):
            return (ResponseCode.PULL_NOT_FOUND if offset == 0 else ResponseCode.PULL_OFFSET_MOVED), next_begin
        if status in (GetMessageStatus.OFFSET_FOUND_NULL, GetMessageStatus.OFFSET_OVERFLOW_ONE):
            return ResponseCode.PULL_NOT_FOUND, next_begin
        if status in (GetMessageStatus.OFFSET_OVERFLOW_BADLY, GetMessageStatus.OFFSET_TOO_SMALL):
            return ResponseCode.PULL_OFFSET_MOVED, next_begin
        return ResponseCode.PULL_RETRY_IMMEDIATELY, next_begin
