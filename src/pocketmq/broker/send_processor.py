"""Send requests (upstream SendMessageProcessor + AbstractSendMessageProcessor): single (V1/V2),
batch and consumer send-back. Checks the topic, auto-creates it, routes retries to the DLQ,
turns delayed and transactional messages into their system-topic forms, stores, and maps the
store's status to a response code."""

from __future__ import annotations

import functools
import logging
import random
from typing import TYPE_CHECKING, Any, Coroutine, Union

from pocketmq.protocol import message as m
from pocketmq.protocol.client_headers import ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader
from pocketmq.protocol.message_id import create_offset_message_id
from pocketmq.protocol.route import PERM_READ, PERM_WRITE, is_writeable
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import Connection, RequestError
from pocketmq.broker.stats_manager import message_type
from pocketmq.broker.topic_config import (
    NOT_ALLOWED_SEND_TOPICS, RETRY_GROUP_TOPIC_PREFIX, SCHEDULE_TOPIC, TRANS_HALF_TOPIC, dlq_topic, retry_topic,
    topic_problem,
)
from pocketmq.store.results import PutMessageResult, PutMessageStatus

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")

# What the send handlers give the transport: the answer, or a coroutine that produces it.
# None: the send is answered later through its channel (a SYNC_FLUSH send, from the group commit).
SendAnswer = Union[RemotingCommand, Coroutine[Any, Any, RemotingCommand], None]

V3_4_9 = 121  # MQVersion ordinal from which the header's maxReconsumeTimes is honoured

_STATUS_CODES: dict[PutMessageStatus, tuple[int, str | None]] = {
    PutMessageStatus.PUT_OK: (ResponseCode.SUCCESS, None),
    PutMessageStatus.FLUSH_DISK_TIMEOUT: (ResponseCode.FLUSH_DISK_TIMEOUT, None),
    PutMessageStatus.FLUSH_SLAVE_TIMEOUT: (ResponseCode.FLUSH_SLAVE_TIMEOUT, None),
    PutMessageStatus.SLAVE_NOT_AVAILABLE: (ResponseCode.SLAVE_NOT_AVAILABLE, None),
    PutMessageStatus.CREATE_MAPEDFILE_FAILED: (ResponseCode.SYSTEM_ERROR, "create mapped file failed, server is busy or broken."),
    PutMessageStatus.MESSAGE_ILLEGAL: (ResponseCode.MESSAGE_ILLEGAL, "the message is illegal, maybe msg body or properties length not matched. msg body length limit 128k, msg properties length limit 32k."),
    PutMessageStatus.PROPERTIES_SIZE_EXCEEDED: (ResponseCode.MESSAGE_ILLEGAL, "the message is illegal, maybe msg properties length limit 32k."),
    PutMessageStatus.SERVICE_NOT_AVAILABLE: (ResponseCode.SERVICE_NOT_AVAILABLE, "service not available now. It may be caused by one of the following reasons: the broker's disk is full, messages are put to the slave, message store has been shut down, etc."),
    PutMessageStatus.OS_PAGECACHE_BUSY: (ResponseCode.SYSTEM_ERROR, "[PC_SYNCHRONIZED]broker busy, start flow control for a while"),
    PutMessageStatus.UNKNOWN_ERROR: (ResponseCode.SYSTEM_ERROR, "UNKNOWN_ERROR"),
    PutMessageStatus.IN_SYNC_REPLICAS_NOT_ENOUGH: (ResponseCode.SYSTEM_ERROR, "in-sync replicas not enough"),
    # Remarks come with the store's result (they name timerMaxDelaySec / timerWheelEnable).
    PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL: (ResponseCode.MESSAGE_ILLEGAL, "timer message illegal"),
    PutMessageStatus.WHEEL_TIMER_NOT_ENABLE: (ResponseCode.SYSTEM_ERROR, "accurate timer message is not enabled"),
}


@functools.lru_cache(maxsize=4096)  # one per client connection, asked for every send
def parse_host(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        return "127.0.0.1", 0


class SendProcessor:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker
        self.config = broker.config
        self.topics = broker.topic_config_manager
        self._cluster_pair = m.PROPERTY_CLUSTER + m.NAME_VALUE_SEPARATOR + self.config.brokerClusterName

    # ------------------------------------------------------------------------------- entry
    def process(self, request: RemotingCommand, channel: Connection) -> SendAnswer:
        """The answer itself for an ordinary send the store takes without waiting (ASYNC_FLUSH,
        no SYNC_MASTER): no coroutine per send in that usual case. Under SYNC_FLUSH alone, None:
        the group commit answers it through the channel once flushed. Otherwise a coroutine,
        which the transport runs."""
        if request.code == RequestCode.CONSUMER_SEND_MSG_BACK:
            return self.consumer_send_msg_back(request, channel)
        short = request.code in (RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE)
        header = decode_header(SendMessageRequestHeader, request.ext_fields, short_names=short)
        if header.batch:
            return self.send_batch(request, channel, header)
        return self.send_one(request, channel, header)

    def _response(self, request: RemotingCommand, code: int = ResponseCode.SUCCESS, remark: str | None = None,
                  fields: dict[str, str] | None = None) -> RemotingCommand:
        out = {"MSG_REGION": self.config.regionId, "TRACE_ON": "true" if self.config.traceOn else "false"}
        if fields:
            out.update(fields)
        return make_response(request, code, remark, ext_fields=out)

    # ------------------------------------------------------------------------------ checks
    def _check(self, request: RemotingCommand, header: SendMessageRequestHeader, channel: Connection):
        """Upstream msgCheck: returns the topic config or raises RequestError."""
        accept_from = self.config.startAcceptSendRequestTimeStamp
        if accept_from and accept_from > self.broker.store.clock.now_ms():
            raise RequestError(ResponseCode.SYSTEM_ERROR,
                               f"broker unable to service, until {self.config.startAcceptSendRequestTimeStamp}")
        if not is_writeable(self.config.brokerPermission) and self.topics.is_order_topic(header.topic):
            raise RequestError(ResponseCode.NO_PERMISSION,
                               f"the broker[{self.config.brokerIP1}] sending message is forbidden")
        problem = topic_problem(header.topic)
        if problem:
            raise RequestError(ResponseCode.SYSTEM_ERROR, problem)
        if header.topic in NOT_ALLOWED_SEND_TOPICS:
            raise RequestError(ResponseCode.NO_PERMISSION, f"Sending message to topic[{header.topic}] is forbidden.")
        topic_config = self.topics.get(header.topic)
        if topic_config is None:
            topic_sys_flag = 0x1 if header.unitMode else 0
            if header.topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
                topic_config = self.topics.create_in_send_back(header.topic, 1, PERM_READ | PERM_WRITE, topic_sys_flag)
            else:
                topic_config = self.topics.create_in_send_message(
                    header.topic, header.defaultTopic, header.defaultTopicQueueNums, topic_sys_flag)
            if topic_config is None:
                raise RequestError(ResponseCode.TOPIC_NOT_EXIST,
                                   f"topic[{header.topic}] not exist, apply first please! "
                                   "See http://rocketmq.apache.org/docs/faq/ for further details.")
            self.broker.register_soon(header.topic)
        queue_limit = max(topic_config.readQueueNums, topic_config.writeQueueNums)
        if header.queueId >= queue_limit:
            raise RequestError(ResponseCode.SYSTEM_ERROR,
                               f"request queueId[{header.queueId}] is illegal, {topic_config} Producer: "
                               f"{channel.remote_address}")
        return topic_config

    # ------------------------------------------------------------------------------ single
    def send_one(self, request: RemotingCommand, channel: Connection,
                 header: SendMessageRequestHeader) -> SendAnswer:
        changes = self.topics.data_version.counter
        topic_config = self._check(request, header, channel)
        created = self.topics.data_version.counter != changes  # answer once the new topic is on disk
        queue_id = header.queueId
        if queue_id < 0:
            queue_id = random.randrange(max(1, topic_config.writeQueueNums))
        msg = m.MessageExtBrokerInner(
            topic=header.topic, body=request.body_bytes(), queue_id=queue_id, flag=header.flag,
            properties_string=header.properties or "", sys_flag=header.sysFlag,
            born_timestamp=header.bornTimestamp, born_host=parse_host(channel.remote_address),
            reconsume_times=header.reconsumeTimes or 0,
        )
        if not header.topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
            stored = ordinary_stored_properties(header.properties or "", self._cluster_pair)
            if stored is not None:
                msg.properties_string = stored
                msg.tags_code = m.tags_string_to_tags_code(m.property_from_string(stored, m.PROPERTY_TAGS))
                store = self.broker.store
                if created or store.waits_after_append:
                    if not created and store.waits_for_flush_only:
                        return self._put_then_answer_when_flushed(request, channel, msg, stored, queue_id)
                    return self._put_ordinary(request, msg, stored, queue_id, created)
                result = store.append_message(msg)
                self._count_put(header.topic, stored, result)
                return self._put_response(request, result, queue_id)
        return self._send_special(request, header, msg, queue_id, created)

    def _put_then_answer_when_flushed(self, request: RemotingCommand, channel: Connection,
                                      msg: m.MessageExtBrokerInner, stored: str, queue_id: int) -> RemotingCommand | None:
        """SYNC_FLUSH: append now and answer from the group commit once flushed (None: answered
        later through the channel), without a coroutine per waiting send."""
        store = self.broker.store
        result = store.append_message(msg)
        self._count_put(msg.topic, stored, result)
        if result.status is not PutMessageStatus.PUT_OK:
            return self._put_response(request, result, queue_id)
        store.answer_when_flushed(
            msg, result, lambda flushed: channel.answer(request, self._put_response(request, flushed, queue_id)))
        return None

    async def _put_ordinary(self, request: RemotingCommand, msg: m.MessageExtBrokerInner, stored: str,
                            queue_id: int, created: bool) -> RemotingCommand:
        if created:
            await self.topics.written()
        result = await self.broker.store.put_message(msg)
        self._count_put(msg.topic, stored, result)
        return self._put_response(request, result, queue_id)

    async def _send_special(self, request: RemotingCommand, header: SendMessageRequestHeader,
                            msg: m.MessageExtBrokerInner, queue_id: int, created: bool) -> RemotingCommand:
        """A send to a retry topic, a transactional one, or one whose properties need the full map."""
        if created:
            await self.topics.written()
        properties = msg.get_properties()
        if header.topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
            changes = self.topics.data_version.counter
            denied = self._handle_retry_and_dlq(request, header, msg)
            if denied is not None:
                return denied
            if self.topics.data_version.counter != changes:  # it created the group's DLQ topic
                await self.topics.written()
        properties[m.PROPERTY_CLUSTER] = self.config.brokerClusterName
        msg.properties_string = None
        if properties.get(m.PROPERTY_TRANSACTION_PREPARED) == "true":
            if self.config.rejectTransactionMessage:
                return self._response(request, ResponseCode.NO_PERMISSION,
                                      f"the broker[{self.config.brokerIP1}] sending transaction message is forbidden")
            self.broker.transactions.prepare_half(msg)
        msg.tags_code = msg.tags_code or m.tags_string_to_tags_code(properties.get(m.PROPERTY_TAGS))
        strip_wait_from_stored_properties(msg)
        result = await self.broker.store.put_message(msg)
        self._count_put(msg.topic, msg.properties_string or header.properties or "", result)
        return self._put_response(request, result, queue_id)

    def _count_put(self, topic: str, properties: str, result: PutMessageResult) -> None:
        append = result.append_result
        if append is not None and append.is_ok() and append.msg_num > 0:
            self.broker.stats_manager.on_put(topic, message_type(properties), append.msg_num, append.wrote_bytes)

    def _ensure_send_back_topic(self, topic: str, queue_nums: int) -> None:
        """A retry or DLQ topic, created on first use and then registered alone: later messages
        of the same group must not re-register the broker."""
        if self.topics.get(topic) is None:
            self.topics.create_in_send_back(topic, queue_nums, PERM_READ | PERM_WRITE)
            self.broker.register_soon(topic)

    def _handle_retry_and_dlq(self, request: RemotingCommand, header: SendMessageRequestHeader,
                              msg: m.MessageExtBrokerInner) -> RemotingCommand | None:
        group = header.topic[len(RETRY_GROUP_TOPIC_PREFIX):]
        group_config = self.broker.subscription_group_manager.find(group)
        if group_config is None:
            return self._response(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                                  f"subscription group not exist, {group} "
                                  "See http://rocketmq.apache.org/docs/faq/ for further details.")
        max_times = group_config.retryMaxTimes
        if request.version >= V3_4_9 and header.maxReconsumeTimes is not None:
            max_times = header.maxReconsumeTimes
        if (header.reconsumeTimes or 0) >= max_times:
            self.broker.stats_manager.on_dlq(group, header.topic)
            topic = dlq_topic(group)
            self._ensure_send_back_topic(topic, 1)
            msg.topic = topic
            msg.queue_id = 0
        return None

    def _put_response(self, request: RemotingCommand, result: PutMessageResult, queue_id: int) -> RemotingCommand:
        append = result.append_result
        if result.status is PutMessageStatus.PUT_OK and append is not None and append.is_ok():
            config = self.config  # the usual answer, built in one step
            return make_response(request, ext_fields={
                "MSG_REGION": config.regionId, "TRACE_ON": "true" if config.traceOn else "false",
                "msgId": append.msg_id, "queueId": str(queue_id), "queueOffset": str(append.logics_offset)})
        code, remark = _STATUS_CODES.get(result.status, (ResponseCode.SYSTEM_ERROR, result.status.name))
        if result.remark and code != ResponseCode.SUCCESS:
            remark = result.remark
        append = result.append_result
        if (append is None or not append.is_ok()) and code == ResponseCode.SUCCESS:
            return self._response(request, ResponseCode.SYSTEM_ERROR, remark or result.status.name)
        if code in (ResponseCode.SUCCESS, ResponseCode.FLUSH_DISK_TIMEOUT, ResponseCode.FLUSH_SLAVE_TIMEOUT,
                    ResponseCode.SLAVE_NOT_AVAILABLE):
            return self._response(request, code, remark, {
                "msgId": append.msg_id, "queueId": str(queue_id), "queueOffset": str(append.logics_offset)})
        return self._response(request, code, remark)

    # ------------------------------------------------------------------------------- batch
    async def send_batch(self, request: RemotingCommand, channel: Connection,
                         header: SendMessageRequestHeader) -> RemotingCommand:
        changes = self.topics.data_version.counter
        topic_config = self._check(request, header, channel)
        if self.topics.data_version.counter != changes:  # it created its topic: answer once that is on disk
            await self.topics.written()
        if header.topic.startswith(RETRY_GROUP_TOPIC_PREFIX):
            return self._response(request, ResponseCode.MESSAGE_ILLEGAL,
                                  f"batch request does not support retry group {header.topic}")
        body = request.body_bytes()
        if len(body) > self.broker.store_config.maxMessageSize:
            return self._response(request, ResponseCode.MESSAGE_ILLEGAL,
                                  f"the message body size over max value, MAX: {self.broker.store_config.maxMessageSize}")
        queue_id = header.queueId
        if queue_id < 0:
            queue_id = random.randrange(max(1, topic_config.writeQueueNums))
        extra = m.string_to_properties(header.properties)
        wait = extra.pop(m.PROPERTY_WAIT_STORE_MSG_OK, "true") != "false"
        extra[m.PROPERTY_CLUSTER] = self.config.brokerClusterName
        try:
            records = m.decode_batch_body(body)
        except (ValueError, IndexError) as exc:
            return self._response(request, ResponseCode.MESSAGE_ILLEGAL, f"bad batch body: {exc}")
        for record in records:
            properties = m.string_to_properties(record.properties)
            if properties.get(m.PROPERTY_DELAY_TIME_LEVEL) not in (None, "", "0"):
                return self._response(request, ResponseCode.MESSAGE_ILLEGAL, "batch message does not support delay")
            if properties.get(m.PROPERTY_TRANSACTION_PREPARED) == "true":
                return self._response(request, ResponseCode.MESSAGE_ILLEGAL,
                                      "batch message does not support transaction")
        if not records:
            return self._response(request, ResponseCode.MESSAGE_ILLEGAL, "the batch is empty")
        result = await self.broker.store.put_messages(
            header.topic, queue_id, header.sysFlag, header.bornTimestamp, parse_host(channel.remote_address),
            records, extra_properties=m.properties_to_string(extra), wait_store_msg_ok=wait)
        self._count_put(header.topic, header.properties or "", result)
        return self._put_response(request, result, queue_id)

    # --------------------------------------------------------------------------- send-back
    async def consumer_send_msg_back(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ConsumerSendMsgBackRequestHeader, request.ext_fields)
        group_config = self.broker.subscription_group_manager.find(header.group)
        if group_config is None:
            return make_response(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                                 f"subscription group not exist, {header.group} "
                                 "See http://rocketmq.apache.org/docs/faq/ for further details.")
        if not is_writeable(self.config.brokerPermission):
            return make_response(request, ResponseCode.NO_PERMISSION,
                                 f"the broker[{self.config.brokerIP1}] sending message is forbidden")
        if group_config.retryQueueNums <= 0:
            return make_response(request)
        raw = self.broker.store.look_message_by_offset(header.offset)
        if raw is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR,
                                 f"look message by offset failed, {header.offset}")
        original = m.decode_message(raw)
        properties = dict(original.properties)
        properties.setdefault(m.PROPERTY_RETRY_TOPIC, original.topic)
        max_times = group_config.retryMaxTimes
        if request.version >= V3_4_9 and header.maxReconsumeTimes is not None:
            max_times = header.maxReconsumeTimes
        changes = self.topics.data_version.counter
        delay_level = header.delayLevel
        if original.reconsume_times >= max_times or delay_level < 0:
            self.broker.stats_manager.on_dlq(header.group, properties[m.PROPERTY_RETRY_TOPIC])
            topic = dlq_topic(header.group)
            self._ensure_send_back_topic(topic, 1)
            queue_id = 0
        else:
            topic = retry_topic(header.group)
            self._ensure_send_back_topic(topic, group_config.retryQueueNums)
            queue_id = random.randrange(group_config.retryQueueNums)
            if delay_level == 0:
                delay_level = 3 + original.reconsume_times
            properties[m.PROPERTY_DELAY_TIME_LEVEL] = str(delay_level)
        if self.topics.data_version.counter != changes:  # it created its retry or DLQ topic
            await self.topics.written()
        properties.setdefault(m.PROPERTY_ORIGIN_MESSAGE_ID, header.originMsgId or original.uniq_key or original.msg_id)
        properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        msg = m.MessageExtBrokerInner(
            topic=topic, body=original.body, queue_id=queue_id, flag=original.flag, properties=properties,
            sys_flag=original.sys_flag & ~m.HOST_FLAGS_MASK, born_timestamp=original.born_timestamp,
            born_host=original.born_host, reconsume_times=original.reconsume_times + 1,
            tags_code=m.tags_string_to_tags_code(properties.get(m.PROPERTY_TAGS)))
        result = await self.broker.store.put_message(msg)
        if result.status is PutMessageStatus.PUT_OK:
            self.broker.stats_manager.on_send_back(header.group, properties.get(m.PROPERTY_RETRY_TOPIC) or original.topic)
            return make_response(request)
        return make_response(request, ResponseCode.SYSTEM_ERROR, result.status.name)


_WAIT_TRUE = m.PROPERTY_WAIT_STORE_MSG_OK + m.NAME_VALUE_SEPARATOR + "true"
_SEP = m.PROPERTY_SEPARATOR


def ordinary_stored_properties_py(text: str, cluster_pair: str) -> str | None:
    """The stored properties of an ordinary message, by string edits instead of a parse and a
    re-encode (the common case on the send path): ``WAIT=true`` dropped, ``CLUSTER`` appended.
    None when the message needs the full property map: transactional, ``WAIT=false``, a
    ``CLUSTER`` of its own, or an unusual layout."""
    if text.startswith(_WAIT_TRUE + _SEP):
        text = text[len(_WAIT_TRUE) + 1:]
    elif text == _WAIT_TRUE:
        text = ""
    else:
        i = text.find(_SEP + _WAIT_TRUE + _SEP)
        if i >= 0:
            text = text[:i + 1] + text[i + 2 + len(_WAIT_TRUE):]
        elif text.endswith(_SEP + _WAIT_TRUE):
            text = text[:-len(_WAIT_TRUE) - 1]
    if "WAIT\x01" in text or "TRAN_MSG\x01" in text or "CLUSTER\x01" in text:
        return None
    if text and not text.endswith(_SEP):
        text += _SEP
    return text + cluster_pair


try:  # compiled (pocketmq/_speedups.c): the same edits without a Python frame
    from pocketmq._speedups import ordinary_stored_properties as ordinary_stored_properties
except ImportError:  # pragma: no cover - the extension is optional at install
    ordinary_stored_properties = ordinary_stored_properties_py


def strip_wait_from_stored_properties(msg: m.MessageExtBrokerInner) -> None:
    """As 4.9.x: ``WAIT=true`` is not worth 9 stored bytes per message, so the stored property
    string leaves it out while the in-memory properties keep it for the store's wait decision."""
    properties = msg.get_properties()
    wait = properties.pop(m.PROPERTY_WAIT_STORE_MSG_OK, None)
    if wait is None:
        return
    msg.properties_string = m.properties_to_string(properties)
    if wait != "true":
        msg.properties_string = None  # WAIT=false must stay visible in the stored message
    properties[m.PROPERTY_WAIT_STORE_MSG_OK] = wait


def offset_message_id(store_host: tuple[str, int], offset: int) -> str:
    return create_offset_message_id(store_host[0], store_host[1], offset)


def is_schedule_topic(topic: str) -> bool:
    return topic == SCHEDULE_TOPIC


def is_half_topic(topic: str) -> bool:
    return topic == TRANS_HALF_TOPIC
