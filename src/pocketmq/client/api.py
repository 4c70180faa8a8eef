"""MQClientAPI: one typed method per request a client sends (upstream MQClientAPIImpl).

Owns: building request headers/bodies, choosing the request code (V2 send), mapping response
codes to results or ``MQBrokerError``, and name-server failover (try each configured name
server in turn). Knows nothing of routes, rebalancing or retries; see ``instance``.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from pocketmq.client.errors import MQBrokerError, MQClientError
from pocketmq.client.message import SendResult, SendStatus
from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol import client_headers as h
from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.message import MessageExt, PROPERTY_MAX_OFFSET, PROPERTY_MIN_OFFSET, decode_messages
from pocketmq.protocol.route import ClusterInfo, TopicRouteData
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_request
from pocketmq.remoting.header import decode_header, encode_header
from pocketmq.remoting.transport import RemotingClient, RemotingConnectError, RemotingError

log = logging.getLogger("pocketmq.client")

_SEND_STATUS = {
    ResponseCode.SUCCESS: SendStatus.SEND_OK,
    ResponseCode.FLUSH_DISK_TIMEOUT: SendStatus.FLUSH_DISK_TIMEOUT,
    ResponseCode.FLUSH_SLAVE_TIMEOUT: SendStatus.FLUSH_SLAVE_TIMEOUT,
    ResponseCode.SLAVE_NOT_AVAILABLE: SendStatus.SLAVE_NOT_AVAILABLE,
}


class PullStatus(enum.Enum):
    FOUND = "FOUND"
    NO_NEW_MSG = "NO_NEW_MSG"
    NO_MATCHED_MSG = "NO_MATCHED_MSG"
    OFFSET_ILLEGAL = "OFFSET_ILLEGAL"


_PULL_STATUS = {
    ResponseCode.SUCCESS: PullStatus.FOUND,
    ResponseCode.PULL_NOT_FOUND: PullStatus.NO_NEW_MSG,
    ResponseCode.PULL_RETRY_IMMEDIATELY: PullStatus.NO_MATCHED_MSG,
    ResponseCode.PULL_OFFSET_MOVED: PullStatus.OFFSET_ILLEGAL,
}


@dataclass
class PullResult:
    status: PullStatus
    next_begin_offset: int
    min_offset: int
    max_offset: int
    suggest_which_broker_id: int = 0
    messages: list[MessageExt] = field(default_factory=list)


class MQClientAPI:
    def __init__(self, remoting: RemotingClient, namesrv_addrs: list[str], *, timeout: float = 3.0,
                 language: str = "PYTHON") -> None:
        self.remoting = remoting
        self.namesrv_addrs = list(namesrv_addrs)
        self.timeout = timeout
        self.language = language
        self._namesrv_index = 0

    # ------------------------------------------------------------------------ plumbing
    def request(self, code: int, header: Any = None, body: bytes | None = None, *,
                short_names: bool = False, fields: dict[str, str] | None = None,
                oneway: bool = False) -> RemotingCommand:
        ext = encode_header(header, short_names=short_names) if header is not None else None
        if fields:
            ext = {**(ext or {}), **fields}
        return make_request(code, ext, body, language=self.language, oneway=oneway)

    async def invoke(self, addr: str, request: RemotingCommand, timeout: float | None = None) -> RemotingCommand:
        return await self.remoting.invoke(addr, request, timeout or self.timeout)

    async def invoke_oneway(self, addr: str, request: RemotingCommand) -> None:
        await self.remoting.invoke_oneway(addr, request)

    async def call(self, addr: str, code: int, header: Any = None, body: bytes | None = None,
                   timeout: float | None = None, ok: tuple[int, ...] = (ResponseCode.SUCCESS,)) -> RemotingCommand:
        response = await self.invoke(addr, self.request(code, header, body), timeout)
        if response.code not in ok:
            raise MQBrokerError(response.code, response.remark, addr)
        return response

    async def call_namesrv(self, code: int, header: Any = None, body: bytes | None = None,
                           timeout: float | None = None, ok: tuple[int, ...] = (ResponseCode.SUCCESS,)) -> RemotingCommand:
        """Ask the current name server; on a connection failure move on to the next one."""
        if not self.namesrv_addrs:
            raise MQClientError("no name server address")
        last: Exception | None = None
        for _ in range(len(self.namesrv_addrs)):
            addr = self.namesrv_addrs[self._namesrv_index % len(self.namesrv_addrs)]
            try:
                return await self.call(addr, code, header, body, timeout, ok)
            except RemotingError as exc:
                last = exc
                self._namesrv_index += 1
                self.remoting.close_connection(addr)
                log.debug("name server %s failed: %s", addr, exc)
        raise RemotingConnectError(f"no name server answered: {last}")

    # ------------------------------------------------------------------------ name server
    async def get_topic_route(self, topic: str, timeout: float | None = None) -> TopicRouteData:
        from pocketmq.protocol.namesrv_headers import GetRouteInfoRequestHeader

        response = await self.call_namesrv(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader(topic),
                                           timeout=timeout)
        return TopicRouteData.decode(response.body_bytes())

    async def get_cluster_info(self) -> ClusterInfo:
        response = await self.call_namesrv(RequestCode.GET_BROKER_CLUSTER_INFO)
        return ClusterInfo.decode(response.body_bytes())

    # ------------------------------------------------------------------------ send
    async def send_message(self, addr: str, broker_name: str, header: h.SendMessageRequestHeader, body: bytes,
                           *, timeout: float, batch: bool = False, oneway: bool = False) -> SendResult | None:
        code = RequestCode.SEND_BATCH_MESSAGE if batch else RequestCode.SEND_MESSAGE_V2
        request = self.request(code, header, body, short_names=True, oneway=oneway)
        if oneway:
            await self.invoke_oneway(addr, request)
            return None
        response = await self.invoke(addr, request, timeout)
        status = _SEND_STATUS.get(response.code)
        if status is None:
            raise MQBrokerError(response.code, response.remark, addr)
        rh = decode_header(h.SendMessageResponseHeader, response.ext_fields)
        mq = MessageQueue(header.topic, broker_name, rh.queueId)
        return SendResult(status=status, msg_id="", offset_msg_id=rh.msgId, message_queue=mq,
                          queue_offset=rh.queueOffset, transaction_id=rh.transactionId,
                          region_id=rh.MSG_REGION, trace_on=rh.TRACE_ON != "false")

    # ------------------------------------------------------------------------ pull
    async def pull_message(self, addr: str, header: h.PullMessageRequestHeader, timeout: float) -> PullResult:
        response = await self.invoke(addr, self.request(RequestCode.PULL_MESSAGE, header), timeout)
        status = _PULL_STATUS.get(response.code)
        if status is None:
            raise MQBrokerError(response.code, response.remark, addr)
        rh = decode_header(h.PullMessageResponseHeader, response.ext_fields)
        result = PullResult(status, rh.nextBeginOffset, rh.minOffset, rh.maxOffset, rh.suggestWhichBrokerId)
        if status is PullStatus.FOUND:
            body = response.body_bytes()
            result.messages = decode_messages(body, decompress=True) if body else []
            min_text, max_text = str(rh.minOffset), str(rh.maxOffset)
            for msg in result.messages:
                msg.properties[PROPERTY_MIN_OFFSET] = min_text
                msg.properties[PROPERTY_MAX_OFFSET] = max_text
        return result

    # ------------------------------------------------------------------------ offsets
    async def query_consumer_offset(self, addr: str, group: str, mq: MessageQueue) -> int:
        """The group's committed offset, or -1 when the broker has none (QUERY_NOT_FOUND)."""
        response = await self.call(addr, RequestCode.QUERY_CONSUMER_OFFSET,
                                   h.QueryConsumerOffsetRequestHeader(group, mq.topic, mq.queueId),
                                   ok=(ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND))
        if response.code == ResponseCode.QUERY_NOT_FOUND:
            return -1
        rh = decode_header(h.QueryConsumerOffsetResponseHeader, response.ext_fields)
        return -1 if rh.offset is None else rh.offset

    async def update_consumer_offset(self, addr: str, group: str, mq: MessageQueue, offset: int,
                                     oneway: bool = False) -> None:
        header = h.UpdateConsumerOffsetRequestHeader(group, mq.topic, mq.queueId, offset)
        if oneway:
            await self.invoke_oneway(addr, self.request(RequestCode.UPDATE_CONSUMER_OFFSET, header, oneway=True))
        else:
            await self.call(addr, RequestCode.UPDATE_CONSUMER_OFFSET, header)

    async def get_max_offset(self, addr: str, mq: MessageQueue) -> int:
        response = await self.call(addr, RequestCode.GET_MAX_OFFSET, h.GetMaxOffsetRequestHeader(mq.topic, mq.queueId))
        return decode_header(h.OffsetResponseHeader, response.ext_fields).offset

    async def get_min_offset(self, addr: str, mq: MessageQueue) -> int:
        response = await self.call(addr, RequestCode.GET_MIN_OFFSET, h.GetMinOffsetRequestHeader(mq.topic, mq.queueId))
        return decode_header(h.OffsetResponseHeader, response.ext_fields).offset

    async def search_offset(self, addr: str, mq: MessageQueue, timestamp_ms: int) -> int:
        response = await self.call(addr, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
                                   h.SearchOffsetRequestHeader(mq.topic, mq.queueId, timestamp_ms))
        return decode_header(h.OffsetResponseHeader, response.ext_fields).offset

    async def get_earliest_msg_storetime(self, addr: str, mq: MessageQueue) -> int:
        response = await self.call(addr, RequestCode.GET_EARLIEST_MSG_STORETIME,
                                   h.GetEarliestMsgStoretimeRequestHeader(mq.topic, mq.queueId))
        return decode_header(h.GetEarliestMsgStoretimeResponseHeader, response.ext_fields).timestamp

    # ------------------------------------------------------------------------ clients
    async def send_heartbeat(self, addr: str, heartbeat: bodies.HeartbeatData) -> int:
        """Returns the broker's version ordinal."""
        response = await self.call(addr, RequestCode.HEART_BEAT, body=heartbeat.encode())
        return response.version

    async def unregister_client(self, addr: str, client_id: str, producer_group: str | None,
                                consumer_group: str | None) -> None:
        await self.call(addr, RequestCode.UNREGISTER_CLIENT,
                        h.UnregisterClientRequestHeader(client_id, producer_group, consumer_group))

    async def get_consumer_id_list(self, addr: str, group: str) -> list[str]:
        response = await self.call(addr, RequestCode.GET_CONSUMER_LIST_BY_GROUP,
                                   h.GetConsumerListByGroupRequestHeader(group))
        return bodies.decode_consumer_list(response.body_bytes())

    async def consumer_send_message_back(self, addr: str, msg: MessageExt, group: str, delay_level: int,
                                         max_reconsume_times: int, origin_msg_id: str | None = None) -> None:
        header = h.ConsumerSendMsgBackRequestHeader(
            offset=msg.commit_log_offset, group=group, delayLevel=delay_level,
            originMsgId=origin_msg_id or msg.msg_id, originTopic=msg.topic, unitMode=False,
            maxReconsumeTimes=max_reconsume_times)
        await self.call(addr, RequestCode.CONSUMER_SEND_MSG_BACK, header)

    async def lock_batch_mq(self, addr: str, body: bodies.LockBatchRequestBody, timeout: float | None = None) -> list[MessageQueue]:
        response = await self.call(addr, RequestCode.LOCK_BATCH_MQ, body=body.encode(), timeout=timeout)
        return bodies.decode_lock_batch_response(response.body_bytes())

    async def unlock_batch_mq(self, addr: str, body: bodies.LockBatchRequestBody, oneway: bool = False) -> None:
        if oneway:
            await self.invoke_oneway(addr, self.request(RequestCode.UNLOCK_BATCH_MQ, body=body.encode(), oneway=True))
        else:
            await self.call(addr, RequestCode.UNLOCK_BATCH_MQ, body=body.encode())

    async def end_transaction_oneway(self, addr: str, header: h.EndTransactionRequestHeader, remark: str | None = None) -> None:
        request = self.request(RequestCode.END_TRANSACTION, header, oneway=True)
        request.remark = remark
        await self.invoke_oneway(addr, request)

    # ------------------------------------------------------------------------ query / view
    async def view_message(self, addr: str, phy_offset: int) -> MessageExt:
        response = await self.call(addr, RequestCode.VIEW_MESSAGE_BY_ID, h.ViewMessageRequestHeader(phy_offset))
        messages = decode_messages(response.body_bytes(), decompress=True)
        if not messages:
            raise MQClientError(f"no message at offset {phy_offset}")
        return messages[0]

    async def query_message(self, addr: str, topic: str, key: str, max_num: int, begin: int, end: int,
                            unique_key: bool = False) -> list[MessageExt]:
        header = h.QueryMessageRequestHeader(topic, key, max_num, begin, end, unique_key)
        response = await self.call(addr, RequestCode.QUERY_MESSAGE, header, timeout=max(self.timeout, 15.0),
                                   ok=(ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND))
        if response.code == ResponseCode.QUERY_NOT_FOUND:
            return []
        return decode_messages(response.body_bytes(), decompress=True)
