"""Admin API (upstream DefaultMQAdminExt): what ``mqadmin`` is built on. ``AsyncAdmin`` for
asyncio, ``Admin`` for scripts.

Cluster and topic metadata come from the name servers; topic/group changes, stats, offsets,
message lookups, runtime info and config go to brokers (a ``broker_addr`` or every master of a
``cluster``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pocketmq.client import _sync
from pocketmq.client.config import ClientConfig
from pocketmq.client.errors import MQBrokerError, MQClientError
from pocketmq.client.instance import ClientInstance
from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol import client_headers as h
from pocketmq.protocol.client_bodies import ConsumeStats, MessageQueue, SubscriptionGroupConfig, TopicOffset
from pocketmq.protocol.message import MessageExt
from pocketmq.protocol.message_id import decode_offset_message_id
from pocketmq.protocol.namesrv_headers import DeleteTopicFromNamesrvRequestHeader, GetTopicsByClusterRequestHeader
from pocketmq.protocol.route import MASTER_ID, PERM_READ, PERM_WRITE, ClusterInfo, TopicRouteData
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import RemotingError

__all__ = ["AsyncAdmin", "Admin"]


class AsyncAdmin:
    def __init__(self, namesrv_addr: str | list[str] | None = None, *, timeout: float = 5.0,
                 config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig(namesrv_addr=namesrv_addr, api_timeout=timeout)
        self.instance: ClientInstance | None = None

    async def start(self) -> "AsyncAdmin":
        if self.instance is None:
            self.instance = ClientInstance(self.config)
        return self

    async def shutdown(self) -> None:
        instance, self.instance = self.instance, None
        if instance is not None:
            await instance.shutdown()

    async def __aenter__(self) -> "AsyncAdmin":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    @property
    def api(self):  # noqa: ANN201
        if self.instance is None:
            raise MQClientError("admin not started")
        return self.instance.api

    # ------------------------------------------------------------------ name server
    async def cluster_info(self) -> ClusterInfo:
        return await self.api.get_cluster_info()

    async def topic_route(self, topic: str) -> TopicRouteData:
        return await self.api.get_topic_route(topic)

    async def topic_list(self) -> list[str]:
        response = await self.api.call_namesrv(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER)
        return bodies.decode_topic_list(response.body_bytes())

    async def topics_by_cluster(self, cluster: str) -> list[str]:
        response = await self.api.call_namesrv(RequestCode.GET_TOPICS_BY_CLUSTER, GetTopicsByClusterRequestHeader(cluster))
        return bodies.decode_topic_list(response.body_bytes())

    async def master_addrs(self, cluster: str) -> list[str]:
        info = await self.cluster_info()
        names = info.clusterAddrTable.get(cluster)
        if names is None:
            raise MQClientError(f"cluster [{cluster}] not exist")
        return [addr for name in sorted(names) if (bd := info.brokerAddrTable.get(name))
                and (addr := bd.brokerAddrs.get(MASTER_ID))]

    async def _targets(self, broker_addr: str | None, cluster: str | None) -> list[str]:
        if broker_addr:
            return [broker_addr]
        if cluster:
            return await self.master_addrs(cluster)
        raise MQClientError("give broker_addr or cluster")

    # ------------------------------------------------------------------ topics
    async def create_topic(self, topic: str, *, broker_addr: str | None = None, cluster: str | None = None,
                           read_queue_nums: int = 8, write_queue_nums: int = 8, perm: int = PERM_READ | PERM_WRITE,
                           order: bool = False, topic_filter_type: str = "SINGLE_TAG", topic_sys_flag: int = 0) -> None:
        header = h.CreateTopicRequestHeader(topic=topic, defaultTopic="TBW102", readQueueNums=read_queue_nums,
                                            writeQueueNums=write_queue_nums, perm=perm,
                                            topicFilterType=topic_filter_type, topicSysFlag=topic_sys_flag, order=order)
        for addr in await self._targets(broker_addr, cluster):
            await self.api.call(addr, RequestCode.UPDATE_AND_CREATE_TOPIC, header)

    async def delete_topic(self, topic: str, cluster: str) -> None:
        for addr in await self.master_addrs(cluster):
            await self.api.call(addr, RequestCode.DELETE_TOPIC_IN_BROKER, h.DeleteTopicRequestHeader(topic))
        await self.api.call_namesrv(RequestCode.DELETE_TOPIC_IN_NAMESRV, DeleteTopicFromNamesrvRequestHeader(topic))

    async def topic_stats(self, topic: str) -> dict[MessageQueue, TopicOffset]:
        route = await self.topic_route(topic)
        table: dict[MessageQueue, TopicOffset] = {}
        for bd in route.brokerDatas:
            addr = bd.brokerAddrs.get(MASTER_ID)
            if addr:
                response = await self.api.call(addr, RequestCode.GET_TOPIC_STATS_INFO, h.GetTopicStatsInfoRequestHeader(topic))
                table.update(bodies.decode_topic_stats(response.body_bytes()))
        return table

    async def max_offset(self, mq: MessageQueue) -> int:
        return await self.api.get_max_offset(await self._broker_of(mq), mq)

    async def min_offset(self, mq: MessageQueue) -> int:
        return await self.api.get_min_offset(await self._broker_of(mq), mq)

    async def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        return await self.api.search_offset(await self._broker_of(mq), mq, timestamp_ms)

    async def _broker_of(self, mq: MessageQueue) -> str:
        route = await self.topic_route(mq.topic)
        for bd in route.brokerDatas:
            if bd.brokerName == mq.brokerName and bd.brokerAddrs:
                return bd.brokerAddrs.get(MASTER_ID) or bd.brokerAddrs[min(bd.brokerAddrs)]
        raise MQClientError(f"The broker[{mq.brokerName}] not exist")

    # ------------------------------------------------------------------ groups
    async def create_subscription_group(self, config: SubscriptionGroupConfig | str, *, broker_addr: str | None = None,
                                        cluster: str | None = None) -> None:
        if isinstance(config, str):
            config = SubscriptionGroupConfig(config)
        for addr in await self._targets(broker_addr, cluster):
            await self.api.call(addr, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, body=config.encode())

    async def delete_subscription_group(self, group: str, *, broker_addr: str | None = None, cluster: str | None = None,
                                        remove_offset: bool = False) -> None:
        for addr in await self._targets(broker_addr, cluster):
            await self.api.call(addr, RequestCode.DELETE_SUBSCRIPTIONGROUP,
                                h.DeleteSubscriptionGroupRequestHeader(group, remove_offset))

    async def subscription_groups(self, broker_addr: str) -> dict[str, SubscriptionGroupConfig]:
        response = await self.api.call(broker_addr, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
        return bodies.decode_subscription_group_wrapper(response.body_bytes())

    async def consume_stats(self, group: str, topic: str | None = None) -> ConsumeStats:
        """Broker offset vs committed offset per queue, over every broker of the group's topics."""
        topics = [topic] if topic else None
        if topics is None:
            route = await self.topic_route("%RETRY%" + group)
            addrs = {bd.brokerAddrs.get(MASTER_ID) for bd in route.brokerDatas} - {None}
        else:
            route = await self.topic_route(topic)  # type: ignore[arg-type]
            addrs = {bd.brokerAddrs.get(MASTER_ID) for bd in route.brokerDatas} - {None}
        result = ConsumeStats()
        for addr in sorted(addrs):  # type: ignore[arg-type]
            response = await self.api.call(addr, RequestCode.GET_CONSUME_STATS, h.GetConsumeStatsRequestHeader(group, topic))
            stats = ConsumeStats.decode(response.body_bytes())
            result.offsetTable.update(stats.offsetTable)
            result.consumeTps += stats.consumeTps
        return result

    async def consumer_connection(self, group: str) -> bodies.ConsumerConnection:
        route = await self.topic_route("%RETRY%" + group)
        for bd in route.brokerDatas:
            addr = bd.brokerAddrs.get(MASTER_ID)
            if addr:
                response = await self.api.call(addr, RequestCode.GET_CONSUMER_CONNECTION_LIST,
                                               h.GetConsumerConnectionListRequestHeader(group))
                return bodies.ConsumerConnection.decode(response.body_bytes())
        raise MQClientError(f"no broker for group {group}")

    async def consumer_ids(self, group: str, broker_addr: str) -> list[str]:
        return await self.api.get_consumer_id_list(broker_addr, group)

    async def reset_offset_by_timestamp(self, topic: str, group: str, timestamp_ms: int, force: bool = True) -> dict[MessageQueue, int]:
        """Every master of the topic rewinds ``group`` to ``timestamp_ms`` and tells online consumers."""
        route = await self.topic_route(topic)
        table: dict[MessageQueue, int] = {}
        header = h.ResetOffsetRequestHeader(topic=topic, group=group, timestamp=timestamp_ms, isForce=force)
        for bd in route.brokerDatas:
            addr = bd.brokerAddrs.get(MASTER_ID)
            if addr:
                response = await self.api.call(addr, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, header, timeout=10.0)
                table.update(bodies.decode_reset_offset_body(response.body_bytes()))
        return table

    async def update_consumer_offset(self, group: str, mq: MessageQueue, offset: int) -> None:
        await self.api.update_consumer_offset(await self._broker_of(mq), group, mq, offset)

    # ------------------------------------------------------------------ messages
    async def view_message(self, offset_msg_id: str) -> MessageExt:
        """By offset message id (store host + commit-log offset). A malformed id raises
        ``ValueError``; an id naming an address where no broker answers, ``MQClientError``."""
        ip, port, offset = decode_offset_message_id(offset_msg_id)
        if not 0 < port < 65536:
            raise ValueError(f"message id {offset_msg_id} names port {port}, which no broker has")
        addr = f"{ip}:{port}"
        try:
            return await self.api.view_message(addr, offset)
        except RemotingError as exc:
            raise MQClientError(f"no broker answers at {addr}, named by message id {offset_msg_id}: {exc}") from None

    async def query_message(self, topic: str, key: str, max_num: int = 32, begin: int = 0,
                            end: int | None = None, *, unique_key: bool = False) -> list[MessageExt]:
        """By KEYS (or, with ``unique_key``, UNIQ_KEY) over every broker of the topic."""
        end = end if end is not None else self.config.clock.now_ms() + 60_000
        route = await self.topic_route(topic)
        found: list[MessageExt] = []
        for bd in route.brokerDatas:
            addr = bd.brokerAddrs.get(MASTER_ID) or (bd.brokerAddrs[min(bd.brokerAddrs)] if bd.brokerAddrs else None)
            if not addr:
                continue
            for msg in await self.api.query_message(addr, topic, key, max_num, begin, end, unique_key):
                keys = (msg.keys or "").split(" ")
                if (unique_key and msg.uniq_key == key) or (not unique_key and key in keys):
                    found.append(msg)
        return found

    async def query_message_by_id(self, topic: str, msg_id: str) -> MessageExt:
        """By either id: an offset id is viewed directly, a UNIQ_KEY is looked up in the index."""
        try:
            ip, port, _ = decode_offset_message_id(msg_id)
            if 0 < port < 65536:
                return await asyncio.wait_for(self.view_message(msg_id), self.config.api_timeout)
        except (ValueError, OverflowError, MQBrokerError, MQClientError, OSError, asyncio.TimeoutError):
            pass
        except Exception:  # an id that only looks like an offset id may point anywhere
            pass
        found = await self.query_message(topic, msg_id, unique_key=True)
        if not found:
            raise MQClientError(f"Query message by id finished, but no message. {msg_id}")
        return found[0]

    # ------------------------------------------------------------------ brokers
    async def broker_runtime_info(self, broker_addr: str) -> dict[str, str]:
        response = await self.api.call(broker_addr, RequestCode.GET_BROKER_RUNTIME_INFO)
        return bodies.decode_kv_table(response.body_bytes())

    async def broker_config(self, broker_addr: str) -> dict[str, str]:
        response = await self.api.call(broker_addr, RequestCode.GET_BROKER_CONFIG)
        return bodies.parse_properties_text(response.body_bytes().decode("utf-8"))

    async def update_broker_config(self, broker_addr: str, properties: dict[str, Any]) -> None:
        await self.api.call(broker_addr, RequestCode.UPDATE_BROKER_CONFIG,
                            body=bodies.properties_text(properties).encode("utf-8"))


def _syncify(name: str):  # noqa: ANN202
    def method(self: "Admin", *args: Any, **kwargs: Any) -> Any:
        return _sync.run(getattr(self._async, name)(*args, **kwargs))
    method.__name__ = name
    method.__doc__ = getattr(AsyncAdmin, name).__doc__
    return method


class Admin:
    """Synchronous admin: ``with Admin("127.0.0.1:9876") as admin: admin.cluster_info()``."""

    def __init__(self, namesrv_addr: str | list[str] | None = None, **kwargs: Any) -> None:
        self._async = _sync.construct(AsyncAdmin, namesrv_addr, **kwargs)

    def start(self) -> "Admin":
        _sync.run(self._async.start())
        return self

    def shutdown(self) -> None:
        _sync.run(self._async.shutdown())

    def __enter__(self) -> "Admin":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


for _name in ("cluster_info", "topic_route", "topic_list", "topics_by_cluster", "master_addrs", "create_topic",
              "delete_topic", "topic_stats", "max_offset", "min_offset", "search_offset",
              "create_subscription_group", "delete_subscription_group", "subscription_groups", "consume_stats",
              "consumer_connection", "consumer_ids", "reset_offset_by_timestamp", "update_consumer_offset",
              "view_message", "query_message", "query_message_by_id", "broker_runtime_info", "broker_config",
              "update_broker_config"):
    setattr(Admin, _name, _syncify(_name))
