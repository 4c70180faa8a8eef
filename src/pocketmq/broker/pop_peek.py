"""POP's read-only requests (upstream PeekMessageProcessor, NotificationProcessor,
PollingInfoProcessor): PEEK_MESSAGE reads a group's next messages without a checkpoint and
without moving its offset; NOTIFICATION answers ``hasMsg`` (long-polling up to ``pollTime`` when
nothing is there yet, ``pollingFull`` when too many requests are held already: maxPopPollingSize,
popPollingSize), so a client knows a pop would find something; POLLING_INFO counts the pops
held for a topic, group and queue. All three check as upstream does: NO_PERMISSION,
TOPIC_NOT_EXIST, INVALID_PARAMETER for a queue id past the read queues,
SUBSCRIPTION_GROUP_NOT_EXIST."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketmq.broker.pop_polling import PollingCounts
from pocketmq.protocol.pop import (
    NotificationRequestHeader, NotificationResponseHeader, PeekMessageRequestHeader, PollingInfoRequestHeader,
    PollingInfoResponseHeader, pop_retry_topic,
)
from pocketmq.protocol.route import is_readable
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import HeaderError, decode_header, encode_header
from pocketmq.remoting.transport import Connection

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController
    from pocketmq.broker.pop import PopService

MAX_PEEK_BATCH = 32


class PopPeek:
    def __init__(self, broker: "BrokerController", pop: "PopService") -> None:
        self.broker = broker
        self.pop = pop
        self.polling = PollingCounts()  # held notifications (upstream: their own polling service)

    def register(self, register: Any) -> None:
        register(RequestCode.PEEK_MESSAGE, self.peek)
        register(RequestCode.NOTIFICATION, self.notification)
        register(RequestCode.POLLING_INFO, self.polling_info)

    def _check(self, request: RemotingCommand, topic: str, queue_id: int, group: str) -> RemotingCommand | None:
        broker = self.broker
        if not is_readable(broker.config.brokerPermission):
            return make_response(request, ResponseCode.NO_PERMISSION,
                                 f"the broker[{broker.config.brokerIP1}] peeking message is forbidden")
        topic_config = broker.topic_config_manager.get(topic)
        if topic_config is None:
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist, apply first please!")
        if not is_readable(topic_config.perm):
            return make_response(request, ResponseCode.NO_PERMISSION, f"the topic[{topic}] peeking message is forbidden")
        if queue_id >= topic_config.readQueueNums:
            return make_response(request, ResponseCode.INVALID_PARAMETER,
                                 f"queueId[{queue_id}] is illegal, topic:[{topic}] "
                                 f"topicConfig.readQueueNums:[{topic_config.readQueueNums}]")
        group_config = broker.subscription_group_manager.find(group)
        if group_config is None:
            return make_response(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                                 f"subscription group [{group}] does not exist")
        if not group_config.consumeEnable:
            return make_response(request, ResponseCode.NO_PERMISSION, f"subscription group no permission, {group}")
        return None

    def _queues(self, topic: str, group: str, queue_id: int) -> list[tuple[str, int]]:
        """The group's retry queues, then the topic's (one queue, or all for -1)."""
        topics = self.broker.topic_config_manager
        out: list[tuple[str, int]] = []
        retry = topics.get(pop_retry_topic(group, topic))
        if retry is not None:
            out += [(retry.topicName, q) for q in range(retry.readQueueNums)]
        if queue_id >= 0:
            out.append((topic, queue_id))
        else:
            out += [(topic, q) for q in range(topics.get(topic).readQueueNums)]
        return out

    def _offset(self, topic: str, group: str, queue_id: int) -> int:
        offset = self.broker.consumer_offset_manager.query(group, topic, queue_id)
        return offset if offset >= 0 else self.broker.store.get_min_offset_in_queue(topic, queue_id)

    # ------------------------------------------------------------------ PEEK_MESSAGE
    async def peek(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            header = decode_header(PeekMessageRequestHeader, request.ext_fields)
        except HeaderError as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(exc))
        problem = self._check(request, header.topic, header.queueId, header.consumerGroup)
        if problem is not None:
            return problem
        want = max(0, min(header.maxMsgNums, MAX_PEEK_BATCH))
        store = self.broker.store
        buffers: list[memoryview] = []
        rest = 0
        for topic, queue_id in self._queues(header.topic, header.consumerGroup, header.queueId):
            offset = self._offset(topic, header.consumerGroup, queue_id)
            rest += max(0, store.get_max_offset_in_queue(topic, queue_id) - offset)
            if len(buffers) < want:
                result = store.get_message(header.consumerGroup, topic, queue_id, offset, want - len(buffers))
                buffers.extend(result.buffers)
        fields = {"popTime": str(self.pop.clock.now_ms()), "invisibleTime": "0", "reviveQid": "0",
                  "restNum": str(rest)}
        if not buffers:
            return make_response(request, ResponseCode.PULL_NOT_FOUND, "NO_MESSAGE_IN_QUEUE", ext_fields=fields)
        return make_response(request, remark="FOUND", ext_fields=fields, body=buffers)

    # ------------------------------------------------------------------ NOTIFICATION
    def _has_message(self, header: NotificationRequestHeader) -> bool:
        store = self.broker.store
        group = header.consumerGroup
        for topic, queue_id in self._queues(header.topic, group, header.queueId):
            if header.order and self.pop.order_info.blocked((topic, group, queue_id), header.attemptId):
                continue
            if store.get_max_offset_in_queue(topic, queue_id) > self._offset(topic, group, queue_id):
                return True
        return False

    async def notification(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            header = decode_header(NotificationRequestHeader, request.ext_fields)
        except HeaderError as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(exc))
        problem = self._check(request, header.topic, header.queueId, header.consumerGroup)
        if problem is not None:
            return problem
        clock = self.pop.clock
        deadline = clock.monotonic() + max(0, header.pollTime) / 1000
        polling_key = (header.topic, header.consumerGroup, header.queueId)
        full = False
        while True:
            has = self._has_message(header)
            remaining = deadline - clock.monotonic()
            if has or remaining <= 0:
                break
            full = self.pop.polling_full(self.polling, polling_key)
            if full:
                break
            await self.pop._wait_arrival([header.topic, pop_retry_topic(header.consumerGroup, header.topic)],
                                         remaining, polling_key, self.polling)
        return make_response(request, ext_fields=encode_header(NotificationResponseHeader(hasMsg=has,
                                                                                          pollingFull=full)))

    # ------------------------------------------------------------------ POLLING_INFO
    async def polling_info(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            header = decode_header(PollingInfoRequestHeader, request.ext_fields)
        except HeaderError as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(exc))
        problem = self._check(request, header.topic, header.queueId, header.consumerGroup)
        if problem is not None:
            return problem
        count = self.pop.polling.count((header.topic, header.consumerGroup, max(-1, header.queueId)))
        return make_response(request, ext_fields=encode_header(PollingInfoResponseHeader(pollingNum=count)))
