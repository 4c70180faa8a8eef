"""The name server's request handlers (upstream DefaultRequestProcessor): one function per
request code, translating headers and bodies to RouteInfoManager and KVConfigManager calls."""

from __future__ import annotations

import logging
import zlib
from typing import Callable

import orjson

from pocketmq.persist import write_file_safely
from pocketmq.config import NamesrvConfig, apply_properties, config_items, parse_properties, render_properties
from pocketmq.namesrv.kvconfig import KVConfigManager
from pocketmq.namesrv.route_info import RouteInfoManager
from pocketmq.protocol import namesrv_headers as h
from pocketmq.protocol.route import DataVersion, RegisterBrokerBody, kv_table, topic_list
from pocketmq.security import config_guard
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import decode_header, encode_header
from pocketmq.remoting.transport import Connection, Dispatcher, RequestError

log = logging.getLogger("pocketmq.namesrv")

ORDER_TOPIC_CONFIG = "ORDER_TOPIC_CONFIG"

Handler = Callable[[RemotingCommand, Connection], RemotingCommand]


class NamesrvProcessor:
    def __init__(self, config: NamesrvConfig, routes: RouteInfoManager, kv: KVConfigManager) -> None:
        self.config = config
        self.routes = routes
        self.kv = kv

    def register_all(self, dispatcher: Dispatcher) -> None:
        table: dict[int, Handler] = {
            RequestCode.PUT_KV_CONFIG: self.put_kv_config,
            RequestCode.GET_KV_CONFIG: self.get_kv_config,
            RequestCode.DELETE_KV_CONFIG: self.delete_kv_config,
            RequestCode.GET_KVLIST_BY_NAMESPACE: self.get_kv_list_by_namespace,
            RequestCode.QUERY_DATA_VERSION: self.query_data_version,
            RequestCode.REGISTER_BROKER: self.register_broker,
            RequestCode.UNREGISTER_BROKER: self.unregister_broker,
            RequestCode.GET_ROUTEINFO_BY_TOPIC: self.get_route_info_by_topic,
            RequestCode.GET_BROKER_CLUSTER_INFO: self.get_broker_cluster_info,
            RequestCode.WIPE_WRITE_PERM_OF_BROKER: self.wipe_write_perm_of_broker,
            RequestCode.ADD_WRITE_PERM_OF_BROKER: self.add_write_perm_of_broker,
            RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER: self.get_all_topic_list,
            RequestCode.DELETE_TOPIC_IN_NAMESRV: self.delete_topic_in_namesrv,
            RequestCode.GET_TOPICS_BY_CLUSTER: self.get_topics_by_cluster,
            RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_NS: self.get_system_topic_list,
            RequestCode.GET_UNIT_TOPIC_LIST: self.get_unit_topic_list,
            RequestCode.GET_HAS_UNIT_SUB_TOPIC_LIST: self.get_has_unit_sub_topic_list,
            RequestCode.GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: self.get_has_unit_sub_ununit_topic_list,
            RequestCode.UPDATE_NAMESRV_CONFIG: self.update_config,
            RequestCode.GET_NAMESRV_CONFIG: self.get_config,
        }
        for code, handler in table.items():
            dispatcher.register(code, handler)

    # ------------------------------------------------------------------------------ KV config
    def put_kv_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.PutKVConfigRequestHeader, request.ext_fields)
        self.kv.put(header.namespace, header.key, header.value)
        return make_response(request)

    def get_kv_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.GetKVConfigRequestHeader, request.ext_fields)
        value = self.kv.get(header.namespace, header.key)
        if value is None:
            return make_response(request, ResponseCode.QUERY_NOT_FOUND,
                                 f"No config item, Namespace: {header.namespace} Key: {header.key}")
        return make_response(request, ext_fields={"value": value})

    def delete_kv_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.GetKVConfigRequestHeader, request.ext_fields)
        self.kv.delete(header.namespace, header.key)
        return make_response(request)

    def get_kv_list_by_namespace(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.GetKVListByNamespaceRequestHeader, request.ext_fields)
        table = self.kv.list_namespace(header.namespace)
        if table is None:
            return make_response(request, ResponseCode.QUERY_NOT_FOUND,
                                 f"No config item, Namespace: {header.namespace}")
        return make_response(request, body=kv_table(table))

    # ---------------------------------------------------------------------- broker registration
    def register_broker(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.RegisterBrokerRequestHeader, request.ext_fields)
        body = request.body_bytes()
        if header.bodyCrc32 != 0 and body and (zlib.crc32(body) & 0x7FFFFFFF) != header.bodyCrc32:
            log.warning("receive registerBroker request, crc32 not match, from %s", channel.remote_address)
            return make_response(request, ResponseCode.SYSTEM_ERROR, "crc32 not match")
        wrapper = None
        filter_servers: list[str] = []
        if body:
            try:
                register_body = RegisterBrokerBody.decode(body, header.compressed)
            except (ValueError, KeyError, TypeError, zlib.error) as exc:
                raise RequestError(ResponseCode.SYSTEM_ERROR, f"bad RegisterBrokerBody: {exc}") from None
            wrapper = register_body.topicConfigSerializeWrapper
            filter_servers = register_body.filterServerList
        result = self.routes.register_broker(header.clusterName, header.brokerAddr, header.brokerName,
                                             header.brokerId, header.haServerAddr, wrapper, filter_servers, channel)
        fields = encode_header(h.RegisterBrokerResponseHeader(result.ha_server_addr, result.master_addr))
        order_conf = self.kv.list_namespace(ORDER_TOPIC_CONFIG)
        return make_response(request, ext_fields=fields, body=kv_table(order_conf) if order_conf else None)

    def unregister_broker(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.UnRegisterBrokerRequestHeader, request.ext_fields)
        self.routes.unregister_broker(header.clusterName, header.brokerAddr, header.brokerName, header.brokerId)
        return make_response(request)

    def query_data_version(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.QueryDataVersionRequestHeader, request.ext_fields)
        try:
            version = DataVersion.from_dict(orjson.loads(request.body_bytes() or b"{}"))
        except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
            raise RequestError(ResponseCode.SYSTEM_ERROR, f"bad DataVersion body: {exc}") from None
        changed, current = self.routes.query_data_version(header.brokerAddr, version)
        body = orjson.dumps(current.to_dict()) if current is not None else None
        return make_response(request, ext_fields={"changed": "true" if changed else "false"}, body=body)

    # -------------------------------------------------------------------------------- routes
    def get_route_info_by_topic(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.GetRouteInfoRequestHeader, request.ext_fields)
        route = self.routes.pickup_topic_route(header.topic)
        if route is None:
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST,
                                 f"No topic route info in name server for the topic: {header.topic}"
                                 "\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
        if self.config.orderMessageEnable:
            route.orderTopicConf = self.kv.get(ORDER_TOPIC_CONFIG, header.topic)
        return make_response(request, ext_fields={}, body=route.encode())

    def get_broker_cluster_info(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=self.routes.cluster_info().encode())

    def wipe_write_perm_of_broker(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.WipeWritePermOfBrokerRequestHeader, request.ext_fields)
        count = self.routes.wipe_write_perm(header.brokerName)
        log.info("wipe write perm of broker[%s], client: %s, %d", header.brokerName, channel.remote_address, count)
        return make_response(request, ext_fields={"wipeTopicCount": str(count)})

    def add_write_perm_of_broker(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.WipeWritePermOfBrokerRequestHeader, request.ext_fields)
        count = self.routes.add_write_perm(header.brokerName)
        log.info("add write perm of broker[%s], client: %s, %d", header.brokerName, channel.remote_address, count)
        return make_response(request, ext_fields={"addTopicCount": str(count)})

    def get_all_topic_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=topic_list(self.routes.all_topics()))

    def delete_topic_in_namesrv(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.DeleteTopicFromNamesrvRequestHeader, request.ext_fields)
        self.routes.delete_topic(header.topic, header.clusterName)
        return make_response(request)

    def get_topics_by_cluster(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(h.GetTopicsByClusterRequestHeader, request.ext_fields)
        return make_response(request, body=topic_list(self.routes.topics_by_cluster(header.cluster)))

    def get_system_topic_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        topics, broker_addr = self.routes.system_topics()
        return make_response(request, body=topic_list(topics, broker_addr))

    def get_unit_topic_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=topic_list(self.routes.unit_topics(True, False)))

    def get_has_unit_sub_topic_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=topic_list(self.routes.unit_topics(False, True)))

    def get_has_unit_sub_ununit_topic_list(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=topic_list(self.routes.unit_topics(False, True, True)))

    # -------------------------------------------------------------------------------- config
    def update_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            values = parse_properties(request.body_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            return make_response(request, ResponseCode.SYSTEM_ERROR, "string2Properties error")
        black_list = {key for key in self.config.configBlackList.split(";") if key}
        if black_list & values.keys():
            return make_response(request, ResponseCode.NO_PERMISSION, "Can not update config in black list.")
        refused = config_guard.refusal(values, acl_enabled=self.config.aclEnable,
                                       update_enabled=self.config.sensitiveConfigUpdateEnable)
        if refused is not None:
            return make_response(request, ResponseCode.NO_PERMISSION, refused)
        apply_properties(self.config, values)
        log.info("updateConfig, new config: %s, client: %s", values, channel.remote_address)
        try:
            write_file_safely(self.config.configStorePath, render_properties(config_items(self.config)).encode())
        except OSError as exc:
            log.warning("cannot persist name server config to %s: %s", self.config.configStorePath, exc)
        return make_response(request)

    def get_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, body=render_properties(config_items(self.config)).encode())
