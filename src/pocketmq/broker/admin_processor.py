"""Admin requests (upstream AdminBrokerProcessor): topics, subscription groups, broker config
and runtime info, offsets and consume stats, client connections, orderly-consumer locks, and
the metadata a slave copies from its master."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from pocketmq.broker.topic_attributes import MESSAGE_TYPE, AttributeProblem, alter, parse_to_map
from pocketmq.broker.client_processor import parse_json_body
from pocketmq.protocol.client_bodies import MessageQueue, SubscriptionGroupConfig
from pocketmq.broker.topic_config import topic_problem
from pocketmq.config import apply_properties, config_items, parse_properties, render_properties
from pocketmq.protocol import client_headers as ch
from pocketmq.protocol.fastjson import ObjectKey, dumps as fastjson_dumps
from pocketmq.protocol.route import TopicConfig, kv_table, topic_list
from pocketmq.security import config_guard
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_request, make_response
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import Connection, RemotingError, RequestError

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")


def _field(request: RemotingCommand, name: str, required: bool = True) -> str | None:
    value = request.field(name)
    if required and (value is None or value == ""):
        raise RequestError(ResponseCode.SYSTEM_ERROR, f"the custom field <{name}> is null")
    return value


def _int_field(request: RemotingCommand, name: str, default: int | None = None) -> int:
    value = request.field(name)
    if value is None or value == "":
        if default is None:
            raise RequestError(ResponseCode.SYSTEM_ERROR, f"the custom field <{name}> is null")
        return default
    try:
        return int(value)
    except ValueError:
        raise RequestError(ResponseCode.SYSTEM_ERROR, f"the custom field <{name}> has a bad value {value!r}") from None


class AdminProcessor:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker

    def register_all(self, register) -> None:
        table = {
            RequestCode.UPDATE_AND_CREATE_TOPIC: self.update_and_create_topic,
            RequestCode.GET_TOPIC_CONFIG: self.get_topic_config,
            RequestCode.DELETE_TOPIC_IN_BROKER: self.delete_topic,
            RequestCode.GET_ALL_TOPIC_CONFIG: self.get_all_topic_config,
            RequestCode.GET_TOPIC_NAME_LIST: self.get_topic_name_list,
            RequestCode.UPDATE_BROKER_CONFIG: self.update_broker_config,
            RequestCode.GET_BROKER_CONFIG: self.get_broker_config,
            RequestCode.GET_BROKER_RUNTIME_INFO: self.get_broker_runtime_info,
            RequestCode.LOCK_BATCH_MQ: self.lock_batch_mq,
            RequestCode.UNLOCK_BATCH_MQ: self.unlock_batch_mq,
            RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: self.update_and_create_subscription_group,
            RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG: self.get_all_subscription_group,
            RequestCode.GET_SUBSCRIPTIONGROUP_CONFIG: self.get_subscription_group,
            RequestCode.DELETE_SUBSCRIPTIONGROUP: self.delete_subscription_group,
            RequestCode.GET_TOPIC_STATS_INFO: self.get_topic_stats_info,
            RequestCode.GET_CONSUMER_CONNECTION_LIST: self.get_consumer_connection_list,
            RequestCode.GET_PRODUCER_CONNECTION_LIST: self.get_producer_connection_list,
            RequestCode.GET_CONSUME_STATS: self.get_consume_stats,
            RequestCode.GET_ALL_CONSUMER_OFFSET: self.get_all_consumer_offset,
            RequestCode.GET_ALL_DELAY_OFFSET: self.get_all_delay_offset,
            RequestCode.GET_TIMER_CHECK_POINT: self.get_timer_check_point,
            RequestCode.INVOKE_BROKER_TO_RESET_OFFSET: self.reset_offset,
            RequestCode.QUERY_TOPIC_CONSUME_BY_WHO: self.query_topic_consume_by_who,
            RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_BROKER: self.get_system_topic_list,
            RequestCode.CLONE_GROUP_OFFSET: self.clone_group_offset,
            RequestCode.GET_BROKER_CONSUME_STATS: self.get_broker_consume_stats,
            RequestCode.GET_CONSUMER_RUNNING_INFO: self.forward_to_consumer,
            RequestCode.CONSUME_MESSAGE_DIRECTLY: self.forward_to_consumer,
            RequestCode.TRIGGER_DELETE_FILES: self.trigger_delete_files,
        }
        for code, handler in table.items():
            register(code, handler)

    # -------------------------------------------------------------------------------- topics
    async def update_and_create_topic(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ch.CreateTopicRequestHeader, request.ext_fields)
        problem = topic_problem(header.topic)
        if problem:
            return make_response(request, ResponseCode.SYSTEM_ERROR, problem)
        if header.topic == self.broker.config.brokerClusterName:
            return make_response(request, ResponseCode.SYSTEM_ERROR,
                                 f"the topic[{header.topic}] is conflict with system reserved words.")
        if header.readQueueNums <= 0 or header.writeQueueNums <= 0:
            return make_response(request, ResponseCode.SYSTEM_ERROR, "readQueueNums and writeQueueNums must be > 0")
        try:
            asked = parse_to_map(header.attributes)
        except AttributeProblem as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(exc))
        if not self.broker.config.enableMixedMessageType and asked.get(f"+{MESSAGE_TYPE}") == "MIXED":
            return make_response(request, ResponseCode.INVALID_PARAMETER, "MIXED message type is not supported.")
        current = self.broker.topic_config_manager.get(header.topic)
        try:
            attributes = alter(current is None, current.attributes if current else {}, asked)
        except AttributeProblem as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(exc))
        topic_config = TopicConfig(header.topic, header.readQueueNums, header.writeQueueNums, header.perm,
                                   header.topicFilterType, header.topicSysFlag or 0, bool(header.order), attributes)
        self.broker.topic_config_manager.update(topic_config)
        self.broker.topic_changed(header.topic)
        self.broker.store.prepare_consume_queues(header.topic, range(max(header.readQueueNums, header.writeQueueNums)))
        await self.broker.topic_config_manager.written()
        # As upstream (registerIncrementBrokerData before the answer): once updateTopic returns,
        # the name servers route the topic, so a client or page that asks next finds it.
        await self.broker.register_broker_all({header.topic})
        return make_response(request)

    def get_topic_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """RocketMQ 5 GET_TOPIC_CONFIG (351): one topic's config (TopicConfigAndQueueMapping, no
        static-topic mapping here), as the proxy reads a topic's message.type."""
        topic = _field(request, "topic") or ""
        topic_config = self.broker.topic_config_manager.get(topic)
        if topic_config is None:
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST, f"No topic in this broker. topic: {topic}")
        body = {"attributes": {}, **topic_config.to_dict()}
        return make_response(request, body=orjson.dumps(body))

    async def delete_topic(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        topic = _field(request, "topic")
        assert topic is not None
        self.broker.topic_config_manager.delete(topic)
        await self.broker.topic_config_manager.written()
        self.broker.consumer_offset_manager.remove_topic(topic)
        self.broker.store.delete_topics({topic})
        self.broker.register_soon()
        return make_response(request)

    def get_all_topic_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=orjson.dumps(self.broker.topic_config_manager.wrapper().to_dict()))

    def get_topic_name_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=topic_list(list(self.broker.topic_config_manager.table)))

    def get_system_topic_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=topic_list(self.broker.topic_config_manager.system_topics))

    def get_topic_stats_info(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        topic = _field(request, "topic")
        assert topic is not None
        topic_config = self.broker.topic_config_manager.get(topic)
        if topic_config is None:
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist")
        store = self.broker.store
        table: dict[Any, Any] = {}
        for queue_id in range(topic_config.writeQueueNums):
            mq = self._mq(topic, queue_id)
            min_offset = max(0, store.get_min_offset_in_queue(topic, queue_id))
            max_offset = max(0, store.get_max_offset_in_queue(topic, queue_id))
            last = store.get_message_store_timestamp(topic, queue_id, max_offset - 1) if max_offset > 0 else 0
            table[mq] = {"lastUpdateTimestamp": max(0, last), "maxOffset": max_offset, "minOffset": min_offset}
        return make_response(request, body=fastjson_dumps({"offsetTable": table}))

    def _mq(self, topic: str, queue_id: int) -> ObjectKey:
        return ObjectKey({"brokerName": self.broker.config.brokerName, "queueId": queue_id, "topic": topic})

    # ---------------------------------------------------------------------- broker config/info
    def update_broker_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            values = parse_properties(request.body_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            return make_response(request, ResponseCode.SYSTEM_ERROR, "string2Properties error")
        black_list = {k for k in self.broker.config.configBlackList.split(";") if k}
        if black_list & values.keys():
            return make_response(request, ResponseCode.NO_PERMISSION, "Can not update config in black list.")
        refused = config_guard.refusal(values, acl_enabled=self.broker.config.aclEnable,
                                       update_enabled=self.broker.config.sensitiveConfigUpdateEnable)
        if refused is not None:
            return make_response(request, ResponseCode.NO_PERMISSION, refused)
        for config in (self.broker.config, self.broker.store_config):
            apply_properties(config, values)
        log.info("updateBrokerConfig, new config: [%s] client: %s", values, channel.remote_address)
        self.broker.config_data_version.next_version()
        self.broker.persist_config()
        if "brokerPermission" in values:  # as upstream: every route shows the broker's new permission
            self.broker.topic_config_manager.data_version.next_version()
            self.broker.register_soon()
        return make_response(request)

    def get_broker_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        values = {**config_items(self.broker.config), **config_items(self.broker.store_config)}
        for secret in ("aclSecretKey", "haSharedSecret"):
            if values.get(secret):
                values[secret] = config_guard.MASKED
        version = orjson.dumps(self.broker.config_data_version.to_dict()).decode()
        return make_response(request, ext_fields={"version": version}, body=render_properties(values).encode())

    def get_broker_runtime_info(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=kv_table(self.broker.runtime_info()))

    # --------------------------------------------------------------------------------- locks
    def _lock_body(self, request: RemotingCommand) -> tuple[str, str, list[MessageQueue]]:
        data = parse_json_body(request, "LockBatchRequestBody")
        if not isinstance(data, dict):
            raise RequestError(ResponseCode.SYSTEM_ERROR, "bad LockBatchRequestBody: not an object")
        mqs = [MessageQueue.from_dict(item) for item in data.get("mqSet") or []]
        return str(data.get("consumerGroup") or ""), str(data.get("clientId") or ""), mqs

    def lock_batch_mq(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        group, client_id, mqs = self._lock_body(request)
        locked = self.broker.lock_manager.try_lock_batch(group, mqs, client_id)
        return make_response(request, body=orjson.dumps({"lockOKMQSet": [mq.to_dict() for mq in locked]}))

    def unlock_batch_mq(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        group, client_id, mqs = self._lock_body(request)
        self.broker.lock_manager.unlock_batch(group, mqs, client_id)
        return make_response(request)

    # ---------------------------------------------------------------------- subscription groups
    def update_and_create_subscription_group(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        data = parse_json_body(request, "SubscriptionGroupConfig")
        if not isinstance(data, dict) or not data.get("groupName"):
            return make_response(request, ResponseCode.SYSTEM_ERROR, "the subscription group config has no groupName")
        self.broker.subscription_group_manager.update(SubscriptionGroupConfig.from_dict(data))
        return make_response(request)

    def get_all_subscription_group(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=self.broker.subscription_group_manager.encode())

    def get_subscription_group(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """RocketMQ 5's GET_SUBSCRIPTIONGROUP_CONFIG (352): one group's config (the proxy reads
        consumeMessageOrderly from it)."""
        group = _field(request, "group")
        found = self.broker.subscription_group_manager.find(group or "")
        if found is None:
            return make_response(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, "No group in this broker")
        return make_response(request, body=found.encode())

    def delete_subscription_group(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        group = _field(request, "groupName")
        assert group is not None
        self.broker.subscription_group_manager.delete(group)
        if (request.field("removeOffset") or "").lower() == "true":
            self.broker.consumer_offset_manager.remove_group(group)
        return make_response(request)

    # ---------------------------------------------------------------------------- connections
    def get_consumer_connection_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        group = _field(request, "consumerGroup")
        info = self.broker.consumer_manager.find(group or "")
        if info is None or not info.channels:
            return make_response(request, ResponseCode.CONSUMER_NOT_ONLINE, f"the consumer group[{group}] not online")
        body = {
            "connectionSet": [{"clientAddr": c.channel.remote_address, "clientId": c.client_id,
                               "language": c.language, "version": c.version} for c in info.channels.values()],
            "consumeFromWhere": info.consume_from_where, "consumeType": info.consume_type,
            "messageModel": info.message_model,
            "subscriptionTable": {topic: sub.to_dict() for topic, sub in info.subscriptions.items()},
        }
        return make_response(request, body=orjson.dumps(body))

    def get_producer_connection_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        group = _field(request, "producerGroup")
        channels = self.broker.producer_manager.groups.get(group or "")
        if not channels:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"the producer group[{group}] not exist")
        body = {"connectionSet": [{"clientAddr": c.channel.remote_address, "clientId": c.client_id,
                                   "language": c.language, "version": c.version} for c in channels.values()]}
        return make_response(request, body=orjson.dumps(body))

    async def forward_to_consumer(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """GET_CONSUMER_RUNNING_INFO / CONSUME_MESSAGE_DIRECTLY: relay to the named client."""
        group = _field(request, "consumerGroup")
        client_id = _field(request, "clientId")
        info = self.broker.consumer_manager.find(group or "")
        target = None
        if info is not None:
            target = next((c.channel for c in info.channels.values() if c.client_id == client_id), None)
        if target is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"The Consumer <{client_id}> not online")
        forwarded = make_request(request.code, dict(request.ext_fields or {}), request.body_bytes() or None,
                                 language="JAVA")
        try:
            answer = await target.invoke(forwarded, timeout=5.0)
        except RemotingError as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"invoke consumer <{client_id}> failed: {exc}")
        return make_response(request, answer.code, answer.remark, ext_fields=answer.ext_fields, body=answer.body)

    # ------------------------------------------------------------------------ offsets & stats
    def get_consume_stats(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        group = _field(request, "consumerGroup") or ""
        topic = request.field("topic")
        broker = self.broker
        topics = [topic] if topic else sorted(broker.consumer_offset_manager.topics_of_group(group))
        table: dict[Any, Any] = {}
        group_info = broker.consumer_manager.find(group)
        for name in topics:
            topic_config = broker.topic_config_manager.get(name)
            if topic_config is None:
                continue
            if group_info is not None and group_info.subscriptions and name not in group_info.subscriptions:
                continue
            for queue_id in range(topic_config.writeQueueNums):
                broker_offset = max(0, broker.store.get_max_offset_in_queue(name, queue_id))
                consumer_offset = max(0, broker.consumer_offset_manager.query(group, name, queue_id))
                last = 0
                if consumer_offset > 0:
                    last = max(0, broker.store.get_message_store_timestamp(name, queue_id, consumer_offset - 1))
                table[self._mq(name, queue_id)] = {"brokerOffset": broker_offset, "consumerOffset": consumer_offset,
                                                   "lastTimestamp": last}
        return make_response(request, body=fastjson_dumps({"consumeTps": 0.0, "offsetTable": table}))

    def get_broker_consume_stats(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        broker = self.broker
        stats: list[dict[str, Any]] = []
        total_diff = 0
        for group in sorted(broker.consumer_manager.groups):
            for topic in sorted(broker.consumer_manager.groups[group].subscriptions):
                topic_config = broker.topic_config_manager.get(topic)
                if topic_config is None:
                    continue
                table: dict[Any, Any] = {}
                for queue_id in range(topic_config.writeQueueNums):
                    broker_offset = max(0, broker.store.get_max_offset_in_queue(topic, queue_id))
                    consumer_offset = max(0, broker.consumer_offset_manager.query(group, topic, queue_id))
                    total_diff += broker_offset - consumer_offset
                    last = 0  # store time of the last consumed message, as upstream (mqadmin hides rows with 0)
                    if consumer_offset > 0:
                        last = max(0, broker.store.get_message_store_timestamp(topic, queue_id, consumer_offset - 1))
                    table[self._mq(topic, queue_id)] = {"brokerOffset": broker_offset, "consumerOffset": consumer_offset,
                                                        "lastTimestamp": last}
                stats.append({group: [{"consumeTps": 0.0, "offsetTable": table}]})
        return make_response(request, body=fastjson_dumps({"brokerAddr": broker.config.broker_addr(),
                                                           "consumeStatsList": stats, "totalDiff": total_diff}))

    def get_all_consumer_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=self.broker.consumer_offset_manager.encode())

    def get_all_delay_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=self.broker.schedule.encode_offsets())

    def get_timer_check_point(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """PocketMQ's timer checkpoint as JSON (upstream answers its binary TimerCheckpoint; only
        PocketMQ slaves ask for it)."""
        return make_response(request, body=self.broker.timer.encode_checkpoint())

    def clone_group_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        src = _field(request, "srcGroup") or ""
        dest = _field(request, "destGroup") or ""
        topic = request.field("topic")
        topics = [topic] if topic else sorted(self.broker.consumer_offset_manager.topics_of_group(src))
        for name in topics:
            self.broker.consumer_offset_manager.clone_offset(src, dest, name)
        return make_response(request)

    async def reset_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        topic = _field(request, "topic") or ""
        group = _field(request, "group") or ""
        timestamp = _int_field(request, "timestamp")
        force = (request.field("isForce") or "true").lower() == "true"
        broker = self.broker
        topic_config = broker.topic_config_manager.get(topic)
        if topic_config is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"[reset-offset] topic config not exist, {topic}")
        offsets: dict[Any, int] = {}
        for queue_id in range(topic_config.writeQueueNums):
            consumer_offset = broker.consumer_offset_manager.query(group, topic, queue_id)
            if consumer_offset == -1:
                return make_response(request, ResponseCode.SYSTEM_ERROR,
                                     f"THe consumer group <{group}> not exist")
            if timestamp == -1:
                target = broker.store.get_max_offset_in_queue(topic, queue_id)
            else:
                target = broker.store.get_offset_in_queue_by_time(topic, queue_id, timestamp)
            offsets[self._mq(topic, queue_id)] = target if (force or target < consumer_offset) else consumer_offset
        body = fastjson_dumps({"offsetTable": offsets})
        info = broker.consumer_manager.find(group)
        if info is None or not info.channels:
            return make_response(request, ResponseCode.CONSUMER_NOT_ONLINE,
                                 f"Consumer not online, so can not reset offset, Group: {group} Topic: {topic} "
                                 f"Timestamp: {timestamp}")
        fields = {"topic": topic, "group": group, "timestamp": str(timestamp)}
        for target_channel in list(info.channels):
            try:
                target_channel.invoke_oneway(make_request(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, dict(fields), body,
                                                          language="JAVA"))
            except RemotingError as exc:
                log.warning("[reset-offset] reset offset to %s failed: %s", target_channel.remote_address, exc)
        return make_response(request, body=body)

    def query_topic_consume_by_who(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        topic = _field(request, "topic") or ""
        groups = self.broker.consumer_manager.groups_of_topic(topic) | self.broker.consumer_offset_manager.groups_of_topic(topic)
        return make_response(request, body=orjson.dumps({"groupList": sorted(groups)}))

    async def trigger_delete_files(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        await self.broker.store.run_clean_once(manual=True)
        return make_response(request)

