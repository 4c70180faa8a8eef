"""Admin requests that look into a running broker, as upstream AdminBrokerProcessor answers them
(the ones dashboards, exporters and ``mqadmin statsAll/queryCq/producer`` call):
VIEW_BROKER_STATS_DATA, GET_ALL_PRODUCER_INFO, QUERY_CONSUME_QUEUE, QUERY_CONSUME_TIME_SPAN,
QUERY_CORRECTION_OFFSET, INVOKE_BROKER_TO_GET_CONSUMER_STATUS, RESUME_CHECK_HALF_MESSAGE, the store clean-ups
(CLEAN_EXPIRED_CONSUMEQUEUE, CLEAN_UNUSED_TOPIC, DELETE_EXPIRED_COMMITLOG) and the ACL read-outs
(GET_BROKER_CLUSTER_ACL_INFO / _CONFIG)."""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any, Callable

import orjson

from pocketmq.broker import acl_files
from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.broker.topic_config import TRANS_HALF_TOPIC
from pocketmq.protocol import message as m
from pocketmq.protocol.message_id import decode_offset_message_id
from pocketmq.protocol.fastjson import dumps as fastjson_dumps, loads as fastjson_loads
from pocketmq.protocol.version import VERSION_NAMES, version_desc
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_request, make_response
from pocketmq.remoting.transport import Connection, RemotingError, RequestError
from pocketmq.store.results import PutMessageStatus

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")

_CQ_UNIT = struct.Struct(">qiq")
_V3_0_7_SNAPSHOT = VERSION_NAMES.index("V3_0_7_SNAPSHOT")  # the first client that answers 221
CLIENT_TIMEOUT = 5.0


def _field(request: RemotingCommand, name: str) -> str:
    value = request.field(name)
    if value is None or value == "":
        raise RequestError(ResponseCode.SYSTEM_ERROR, f"the custom field <{name}> is null")
    return value


def _int(request: RemotingCommand, name: str, default: int | None = None) -> int:
    value = request.field(name)
    if value is None or value == "":
        if default is not None:
            return default
        raise RequestError(ResponseCode.SYSTEM_ERROR, f"the custom field <{name}> is null")
    try:
        return int(value)
    except ValueError:
        raise RequestError(ResponseCode.SYSTEM_ERROR, f"the custom field <{name}> has a bad value {value!r}") from None


class InspectProcessor:
    def __init__(self, broker: "BrokerController", clock: Clock = SYSTEM_CLOCK) -> None:
        self.broker = broker
        self.clock = clock

    def register_all(self, register: Callable[[int, Any], None]) -> None:
        table = {
            RequestCode.VIEW_BROKER_STATS_DATA: self.view_broker_stats_data,
            RequestCode.GET_ALL_PRODUCER_INFO: self.get_all_producer_info,
            RequestCode.QUERY_CONSUME_QUEUE: self.query_consume_queue,
            RequestCode.QUERY_CONSUME_TIME_SPAN: self.query_consume_time_span,
            RequestCode.QUERY_CORRECTION_OFFSET: self.query_correction_offset,
            RequestCode.CLEAN_EXPIRED_CONSUMEQUEUE: self.clean_expired_consume_queue,
            RequestCode.CLEAN_UNUSED_TOPIC: self.clean_unused_topic,
            RequestCode.DELETE_EXPIRED_COMMITLOG: self.delete_expired_commit_log,
            RequestCode.GET_BROKER_CLUSTER_ACL_INFO: self.get_broker_cluster_acl_info,
            RequestCode.GET_BROKER_CLUSTER_ACL_CONFIG: self.get_broker_cluster_acl_config,
            RequestCode.INVOKE_BROKER_TO_GET_CONSUMER_STATUS: self.get_consumer_status,
            RequestCode.RESUME_CHECK_HALF_MESSAGE: self.resume_check_half_message,
        }
        for code, handler in table.items():
            register(code, handler)

    # ---------------------------------------------------------------------------------- stats
    def view_broker_stats_data(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        name = request.field("statsName") or ""
        key = request.field("statsKey") or ""
        if not name or not key:
            return make_response(request, ResponseCode.SYSTEM_ERROR,
                                 f"the custom field <{'statsName' if not name else 'statsKey'}> is null")
        data = self.broker.stats_manager.view(name, key)
        if data is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"The stats <{name}> <{key}> not exist")
        return make_response(request, body=orjson.dumps(data))

    # ------------------------------------------------------------------------------ producers
    def get_all_producer_info(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        now_ms = self.clock.now_ms()
        now_mono = self.clock.monotonic()
        data: dict[str, list[dict[str, Any]]] = {}
        for group, channels in self.broker.producer_manager.groups.items():
            data[group] = [{
                "clientId": info.client_id,
                "remoteIP": "/" + info.channel.remote_address,  # Java's InetSocketAddress.toString()
                "language": info.language,
                "version": info.version,
                "lastUpdateTimestamp": now_ms - int((now_mono - info.last_update) * 1000),
            } for info in channels.values()]
        return make_response(request, body=orjson.dumps({"data": data}))

    # --------------------------------------------------------------------------- consume queue
    def query_consume_queue(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        topic = _field(request, "topic")
        queue_id = _int(request, "queueId")
        index = _int(request, "index")
        count = _int(request, "count")
        group = request.field("consumerGroup")
        cq = self.broker.store.consume_queue_table.get(topic, {}).get(queue_id)
        if cq is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"{queue_id}@{topic} is not exist!")
        body: dict[str, Any] = {"maxQueueIndex": cq.get_max_offset_in_queue(),
                                "minQueueIndex": cq.get_min_offset_in_queue()}
        if group:
            subscription = self.broker.consumer_manager.find_subscription(group, topic)
            if subscription is None:
                body["filterData"] = f"{group}@{topic} is not online!"
            else:
                body["subscriptionData"] = subscription.to_dict()
                body["filterData"] = "null"  # no ConsumerFilterData: PocketMQ filters SQL92 on the fly
        units = cq.get_index_buffer(index) if index >= 0 else None
        if units is None:  # as upstream: success, no body (the 4.9.7 client then fails to decode it)
            return make_response(request, remark=f"Index {index} of {queue_id}@{topic} is not exist!")
        queue_data = []
        limit = min(len(units), max(0, count) * _CQ_UNIT.size)
        for pos in range(0, limit - _CQ_UNIT.size + 1, _CQ_UNIT.size):
            physic_offset, physic_size, tags_code = _CQ_UNIT.unpack_from(units, pos)
            queue_data.append({"physicOffset": physic_offset, "physicSize": physic_size, "tagsCode": tags_code,
                               "eval": False})
        body["queueData"] = queue_data
        return make_response(request, body=orjson.dumps(body))

    def query_consume_time_span(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        topic = _field(request, "topic")
        group = _field(request, "group")
        broker = self.broker
        topic_config = broker.topic_config_manager.get(topic)
        if topic_config is None:
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST, f"topic[{topic}] not exist")
        store = broker.store
        now_ms = self.clock.now_ms()
        spans = []
        for queue_id in range(topic_config.writeQueueNums):
            min_time = store.get_earliest_message_time(topic, queue_id)
            max_offset = store.get_max_offset_in_queue(topic, queue_id)
            consumer_offset = broker.consumer_offset_manager.query(group, topic, queue_id)
            consume_time = (store.get_message_store_timestamp(topic, queue_id, consumer_offset - 1)
                            if consumer_offset > 0 else min_time)
            delay = 0
            if consumer_offset < max_offset:
                delay = now_ms - store.get_message_store_timestamp(topic, queue_id, max(0, consumer_offset))
            spans.append({"consumeTimeStamp": consume_time, "delayTime": delay,
                          "maxTimeStamp": store.get_message_store_timestamp(topic, queue_id, max_offset - 1),
                          "messageQueue": {"brokerName": broker.config.brokerName, "queueId": queue_id,
                                           "topic": topic},
                          "minTimeStamp": min_time})
        return make_response(request, body=orjson.dumps({"consumeTimeSpanSet": spans}))

    def query_correction_offset(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        topic = _field(request, "topic")
        compare_group = _field(request, "compareGroup")
        filter_groups = {g for g in (request.field("filterGroups") or "").split(",") if g}
        offsets = self.broker.consumer_offset_manager
        correction: dict[int, int] = {}
        for key, table in offsets.table.items():
            key_topic, _, group = key.partition("@")
            if key_topic != topic or group in filter_groups:
                continue
            for queue_id, offset in table.items():
                correction[queue_id] = min(offset, correction.get(queue_id, offset))
        for queue_id, offset in offsets.offsets(compare_group, topic).items():
            if queue_id in correction:
                correction[queue_id] = 2 ** 63 - 1 if correction[queue_id] > offset else correction[queue_id]
        return make_response(request, body=fastjson_dumps({"correctionOffsets": correction}))

    async def get_consumer_status(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """Upstream Broker2Client.getConsumeStatus: ask each consumer of the group (or the one whose
        client id is ``clientAddr``) for its queue offsets (GET_CONSUMER_STATUS_FROM_CLIENT)."""
        topic = _field(request, "topic")
        group = _field(request, "group")
        wanted = request.field("clientAddr") or ""
        info = self.broker.consumer_manager.find(group)
        if info is None or not info.channels:
            return make_response(request, ResponseCode.SYSTEM_ERROR,
                                 f"No Any Consumer online in the consumer group: [{group}]")
        table: dict[str, Any] = {}
        for client in list(info.channels.values()):
            if client.version < _V3_0_7_SNAPSHOT:
                return make_response(request, ResponseCode.SYSTEM_ERROR,
                                     f"the client does not support this feature. version={version_desc(client.version)}")
            if wanted and wanted != client.client_id:
                continue
            ask = make_request(RequestCode.GET_CONSUMER_STATUS_FROM_CLIENT, {"topic": topic, "group": group},
                               language="JAVA")
            try:
                answer = await client.channel.invoke(ask, timeout=CLIENT_TIMEOUT)
                if answer.code == ResponseCode.SUCCESS and answer.body_bytes():
                    table[client.client_id] = (fastjson_loads(answer.body_bytes()) or {}).get("messageQueueTable") or {}
            except (RemotingError, ValueError) as exc:
                log.error("[get-consumer-status] get consumer status exception. topic=%s, group=%s, error=%s",
                          topic, group, exc)
            if wanted:
                break
        return make_response(request, body=fastjson_dumps({"consumerTable": table}))

    # ------------------------------------------------------------------------------- clean-ups
    async def clean_expired_consume_queue(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        log.warning("invoke cleanExpiredConsumeQueue start.")
        await self.broker.store.run_clean_once()
        log.warning("invoke cleanExpiredConsumeQueue end.")
        return make_response(request)

    def clean_unused_topic(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        log.warning("invoke cleanUnusedTopic start.")
        self.broker.store.clean_unused_topic(set(self.broker.topic_config_manager.table))
        log.warning("invoke cleanUnusedTopic end.")
        return make_response(request)

    async def delete_expired_commit_log(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        log.warning("invoke deleteExpiredCommitLog start.")
        await self.broker.store.run_clean_once(manual=True)
        log.warning("invoke deleteExpiredCommitLog end.")
        return make_response(request)

    # ---------------------------------------------------------------------------- transactions
    async def resume_check_half_message(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """Upstream resumeCheckHalfMessage: store the message again in RMQ_SYS_TRANS_HALF_TOPIC with
        its check count reset, so the transaction check takes it up again."""
        failed = "Exception was thrown when putting message back to RMQ_SYS_TRANS_HALF_TOPIC."
        try:
            _, _, offset = decode_offset_message_id(_field(request, "msgId"))
            raw = self.broker.store.look_message_by_offset(offset)
            if raw is None:
                return make_response(request, ResponseCode.SYSTEM_ERROR, failed)
            msg = m.decode_message(raw)
        except (ValueError, IndexError, OverflowError, struct.error):
            return make_response(request, ResponseCode.SYSTEM_ERROR, failed)
        properties = dict(msg.properties)
        properties[m.PROPERTY_TRANSACTION_CHECK_TIMES] = "0"
        properties[m.PROPERTY_WAIT_STORE_MSG_OK] = "false"
        self.broker.topic_config_manager.create_system_topic_if_absent(TRANS_HALF_TOPIC, 1)
        result = await self.broker.store.put_message(m.MessageExtBrokerInner(
            topic=TRANS_HALF_TOPIC, body=msg.body, queue_id=0, flag=msg.flag, properties=properties,
            sys_flag=msg.sys_flag & ~m.HOST_FLAGS_MASK, born_timestamp=msg.born_timestamp, born_host=msg.born_host,
            reconsume_times=msg.reconsume_times, tags_code=m.tags_string_to_tags_code(properties.get(m.PROPERTY_TAGS))))
        if result.status is not PutMessageStatus.PUT_OK:
            log.error("Put message back to RMQ_SYS_TRANS_HALF_TOPIC failed.")
            return make_response(request, ResponseCode.SYSTEM_ERROR, "Put message back to RMQ_SYS_TRANS_HALF_TOPIC failed.")
        log.info("Put message back to RMQ_SYS_TRANS_HALF_TOPIC. real topic=%s", properties.get(m.PROPERTY_REAL_TOPIC))
        return make_response(request)

    # ------------------------------------------------------------------------------------ ACL
    def get_broker_cluster_acl_info(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        config = self.broker.config
        if not config.aclEnable:
            return make_response(request, ResponseCode.SYSTEM_ERROR, acl_files.ACL_DISABLED_REMARK)
        files = acl_files.load(acl_files.acl_home(config.rocketmqHome))
        return make_response(request, ext_fields={
            "version": orjson.dumps(files.default_version()).decode(),
            "allAclFileVersion": orjson.dumps(files.versions).decode(),
            "brokerName": config.brokerName, "brokerAddr": config.broker_addr(),
            "clusterName": config.brokerClusterName,
        })

    def get_broker_cluster_acl_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        config = self.broker.config
        if not config.aclEnable:
            return make_response(request, ResponseCode.SYSTEM_ERROR, acl_files.ACL_DISABLED_REMARK)
        files = acl_files.load(acl_files.acl_home(config.rocketmqHome))
        return make_response(request, body=orjson.dumps({"globalWhiteAddrs": files.global_white_addrs,
                                                         "plainAccessConfigs": files.accounts}))
