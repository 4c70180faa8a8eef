"""Client management and consumer offsets (upstream ClientManageProcessor and
ConsumerManageProcessor): heartbeat, unregister, consumer list, client config check, query and
update consumer offset, and the queue offset lookups (max, min, by time, earliest time)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from pocketmq.broker.client_manager import (
    CONSUME_FROM_WHERE, CONSUME_TYPES, MESSAGE_MODELS, ClientChannelInfo, enum_name,
)
from pocketmq.broker.topic_config import retry_topic
from pocketmq.protocol import client_headers as ch
from pocketmq.protocol import fastjson
from pocketmq.protocol.client_bodies import SubscriptionData
from pocketmq.protocol.route import PERM_READ, PERM_WRITE
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import Connection, RequestError

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")


def parse_json_body(request: RemotingCommand, what: str) -> Any:
    try:
        return fastjson.loads(request.body_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(ResponseCode.SYSTEM_ERROR, f"bad {what} body: {exc}") from None


class ClientProcessor:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker

    def register_all(self, register) -> None:
        register(RequestCode.HEART_BEAT, self.heart_beat)
        register(RequestCode.UNREGISTER_CLIENT, self.unregister_client)
        register(RequestCode.CHECK_CLIENT_CONFIG, self.check_client_config)
        register(RequestCode.GET_CONSUMER_LIST_BY_GROUP, self.get_consumer_list_by_group)
        register(RequestCode.UPDATE_CONSUMER_OFFSET, self.update_consumer_offset)
        register(RequestCode.QUERY_CONSUMER_OFFSET, self.query_consumer_offset)
        register(RequestCode.GET_MAX_OFFSET, self.get_max_offset)
        register(RequestCode.GET_MIN_OFFSET, self.get_min_offset)
        register(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, self.search_offset_by_timestamp)
        register(RequestCode.GET_EARLIEST_MSG_STORETIME, self.get_earliest_msg_storetime)

    # ------------------------------------------------------------------------------ clients
    def heart_beat(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        data = parse_json_body(request, "HeartbeatData")
        if not isinstance(data, dict):
            raise RequestError(ResponseCode.SYSTEM_ERROR, "bad HeartbeatData body: not an object")
        client_id = str(data.get("clientID") or data.get("clientId") or "")
        broker = self.broker
        for consumer in data.get("consumerDataSet") or []:
            group = str(consumer.get("groupName") or "")
            if not group:
                continue
            info = ClientChannelInfo(channel, client_id, request.language, request.version)
            group_config = broker.subscription_group_manager.find(group)
            notify = True
            if group_config is not None:
                notify = group_config.notifyConsumerIdsChangedEnable
                broker.topic_config_manager.create_in_send_back(
                    retry_topic(group), group_config.retryQueueNums, PERM_READ | PERM_WRITE)
            subscriptions = [SubscriptionData.from_dict(sub) for sub in consumer.get("subscriptionDataSet") or []]
            for sub in subscriptions:
                problem = broker.check_filter(sub)
                if problem:
                    raise RequestError(ResponseCode.SUBSCRIPTION_PARSE_FAILED, problem)
            changed = broker.consumer_manager.register(
                group, info,
                enum_name(consumer.get("consumeType"), CONSUME_TYPES, "CONSUME_PASSIVELY"),
                enum_name(consumer.get("messageModel"), MESSAGE_MODELS, "CLUSTERING"),
                enum_name(consumer.get("consumeFromWhere"), CONSUME_FROM_WHERE, "CONSUME_FROM_LAST_OFFSET"),
                subscriptions, notify)
            if changed:
                log.info("registerConsumer info changed %s %s", group, client_id)
        for producer in data.get("producerDataSet") or []:
            group = str(producer.get("groupName") or "")
            if group:
                broker.producer_manager.register(group, ClientChannelInfo(channel, client_id, request.language,
                                                                          request.version))
        broker.register_soon_if_topics_changed()
        return make_response(request)

    def unregister_client(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.UnregisterClientRequestHeader, request.ext_fields)
        if header.producerGroup:
            self.broker.producer_manager.unregister(header.producerGroup, channel)
        if header.consumerGroup:
            group_config = self.broker.subscription_group_manager.find(header.consumerGroup, auto_create=False)
            notify = group_config.notifyConsumerIdsChangedEnable if group_config else True
            self.broker.consumer_manager.unregister(header.consumerGroup, channel, notify)
        return make_response(request)

    def check_client_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        data = parse_json_body(request, "CheckClientRequestBody")
        sub = (data or {}).get("subscriptionData") if isinstance(data, dict) else None
        if sub:
            subscription = SubscriptionData.from_dict(sub)
            if subscription.expressionType not in ("TAG", "") and not self.broker.config.enablePropertyFilter:
                return make_response(request, ResponseCode.SYSTEM_ERROR,
                                     "The broker does not support consumer to filter message by "
                                     + subscription.expressionType)
            problem = self.broker.check_filter(subscription)
            if problem:
                return make_response(request, ResponseCode.SUBSCRIPTION_PARSE_FAILED, problem)
        return make_response(request)

    def get_consumer_list_by_group(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.GetConsumerListByGroupRequestHeader, request.ext_fields)
        group_info = self.broker.consumer_manager.find(header.consumerGroup)
        if group_info is None or not group_info.channels:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"no consumer for this group, {header.consumerGroup}")
        return make_response(request, body=orjson.dumps({"consumerIdList": group_info.client_ids()}))

    # ------------------------------------------------------------------------------ offsets
    def update_consumer_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.UpdateConsumerOffsetRequestHeader, request.ext_fields)
        self.broker.consumer_offset_manager.commit(header.consumerGroup, header.topic, header.queueId,
                                                   header.commitOffset)
        return make_response(request, ext_fields={})

    def query_consumer_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.QueryConsumerOffsetRequestHeader, request.ext_fields)
        offset = self.broker.consumer_offset_manager.query(header.consumerGroup, header.topic, header.queueId)
        if offset >= 0:
            return make_response(request, ext_fields={"offset": str(offset)})
        # Never committed: start from 0 while the queue still holds its first message (upstream also
        # requires it to be in memory; PocketMQ serves it from the page cache either way).
        if self.broker.store.get_min_offset_in_queue(header.topic, header.queueId) <= 0:
            return make_response(request, ext_fields={"offset": "0"})
        return make_response(request, ResponseCode.QUERY_NOT_FOUND, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
                             ext_fields={})

    def get_max_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.GetMaxOffsetRequestHeader, request.ext_fields)
        offset = self.broker.store.get_max_offset_in_queue(header.topic, header.queueId)
        return make_response(request, ext_fields={"offset": str(offset)})

    def get_min_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.GetMinOffsetRequestHeader, request.ext_fields)
        offset = self.broker.store.get_min_offset_in_queue(header.topic, header.queueId)
        return make_response(request, ext_fields={"offset": str(offset)})

    def search_offset_by_timestamp(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.SearchOffsetRequestHeader, request.ext_fields)
        offset = self.broker.store.get_offset_in_queue_by_time(header.topic, header.queueId, header.timestamp)
        return make_response(request, ext_fields={"offset": str(offset)})

    def get_earliest_msg_storetime(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.GetEarliestMsgStoretimeRequestHeader, request.ext_fields)
        timestamp = self.broker.store.get_earliest_message_time(header.topic, header.queueId)
        return make_response(request, ext_fields={"timestamp": str(timestamp)})
