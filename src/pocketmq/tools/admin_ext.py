"""The admin calls mqadmin makes, with upstream DefaultMQAdminExt's semantics (which address a
request goes to, when an empty answer is an error, which name servers are asked).

Built on ``pocketmq.client.admin.AsyncAdmin`` (its connections and name-server failover) and, for
requests it does not cover, on plain remoting requests (``make_request``) with upstream's header
fields. Owns no output formatting: see the command modules.
"""

from __future__ import annotations

import orjson

import random
import time
from dataclasses import dataclass, field
from typing import Any

from pocketmq.client.admin import AsyncAdmin
from pocketmq.client.api import PullResult
from pocketmq.client.config import ClientConfig
from pocketmq.client.errors import MQBrokerError, MQClientError
from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol import client_headers as h
from pocketmq.protocol import fastjson
from pocketmq.protocol.client_bodies import ConsumeStats, MessageQueue, TopicOffset
from pocketmq.protocol.message import MessageExt
from pocketmq.protocol.route import MASTER_ID, BrokerData, ClusterInfo, TopicRouteData
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_request
from pocketmq.remoting.transport import RemotingConnectError, RemotingError
from pocketmq.security.credentials import SessionCredentials
from pocketmq.tools.jfmt import hashmap_order

RETRY_PREFIX = "%RETRY%"
DLQ_PREFIX = "%DLQ%"
TOOLS_CONSUMER_GROUP = "TOOLS_CONSUMER"


class AdminError(Exception):
    """A failure mqadmin reports in one line (``code`` is the RocketMQ response code, if any)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class NoNamesrvError(AdminError):
    pass


def select_broker_addr(bd: BrokerData) -> str | None:
    """BrokerData.selectBrokerAddr: the master, else any slave."""
    addr = bd.brokerAddrs.get(MASTER_ID)
    if addr is None and bd.brokerAddrs:
        return random.choice(list(bd.brokerAddrs.values()))
    return addr


@dataclass
class ConsumerRunningInfo:
    properties: dict[str, str] = field(default_factory=dict)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    mq_table: dict[MessageQueue, dict[str, Any]] = field(default_factory=dict)
    status_table: dict[str, dict[str, Any]] = field(default_factory=dict)
    jstack: str | None = None

    @classmethod
    def decode(cls, body: bytes | None) -> "ConsumerRunningInfo":
        data = bodies.loads(body)
        mq_table = {}
        for key, value in (data.get("mqTable") or {}).items():
            if isinstance(key, str):
                key = fastjson.loads(key)
            mq_table[MessageQueue.from_dict(key)] = value or {}
        return cls(properties={str(k): str(v) for k, v in (data.get("properties") or {}).items()},
                   subscriptions=list(data.get("subscriptionSet") or []), mq_table=mq_table,
                   status_table=dict(data.get("statusTable") or {}), jstack=data.get("jstack"))


class AdminExt:
    """One mqadmin run's connection to the cluster. ``namesrv`` may be empty: only commands that
    need a name server fail then (with ``NoNamesrvError``)."""

    def __init__(self, namesrv: list[str], timeout: float = 5.0,
                 credentials: SessionCredentials | None = None, use_tls: bool = False) -> None:
        self.namesrv_addrs = namesrv
        config = ClientConfig(namesrv_addr=namesrv or ["-"], api_timeout=timeout,
                              instance_name=str(int(time.time() * 1000)), language="JAVA",
                              credentials=credentials, use_tls=use_tls)
        self.admin = AsyncAdmin(config=config)
        self.timeout = timeout

    async def start(self) -> "AdminExt":
        await self.admin.start()
        return self

    async def shutdown(self) -> None:
        await self.admin.shutdown()

    @property
    def api(self):  # noqa: ANN201
        return self.admin.api

    # ------------------------------------------------------------------ plumbing
    def _need_namesrv(self) -> None:
        if not self.namesrv_addrs:
            raise NoNamesrvError("no name server address: give -n <addr[;addr]> or set NAMESRV_ADDR")

    async def call(self, addr: str, code: int, fields: dict[str, Any] | None = None, body: bytes | None = None,
                   timeout: float | None = None, ok: tuple[int, ...] = (ResponseCode.SUCCESS,)) -> RemotingCommand:
        ext = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in (fields or {}).items()
               if v is not None}
        response = await self.api.invoke(addr, make_request(code, ext, body, language="JAVA"), timeout or self.timeout)
        if response.code not in ok:
            raise MQBrokerError(response.code, response.remark, addr)
        return response

    async def call_namesrv(self, code: int, fields: dict[str, Any] | None = None,
                           body: bytes | None = None) -> RemotingCommand:
        """The first name server that answers (upstream invokes one and fails over)."""
        self._need_namesrv()
        last: Exception | None = None
        for addr in self.namesrv_addrs:
            try:
                return await self.call(addr, code, fields, body)
            except (RemotingError, OSError) as exc:
                last = exc
        raise RemotingConnectError(f"no name server answered ({';'.join(self.namesrv_addrs)}): {last}")

    # ------------------------------------------------------------------ name server
    async def cluster_info(self) -> ClusterInfo:
        return ClusterInfo.decode((await self.call_namesrv(RequestCode.GET_BROKER_CLUSTER_INFO)).body_bytes())

    async def topic_route(self, topic: str) -> TopicRouteData:
        response = await self.call_namesrv(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
        return TopicRouteData.decode(response.body_bytes())

    async def topic_list(self) -> list[str]:
        """In the order Java iterates the ``HashSet`` fastjson reads the list into."""
        response = await self.call_namesrv(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER)
        return hashmap_order(bodies.decode_topic_list(response.body_bytes()))

    async def master_addrs(self, cluster: str) -> list[str]:
        """CommandUtil.fetchMasterAddrByClusterName (unknown cluster -> error)."""
        info = await self.cluster_info()
        names = info.clusterAddrTable.get(cluster)
        if names is None:
            raise AdminError("Make sure the specified clusterName exists or the name server connected to is correct.")
        return [a for n in sorted(names) if (bd := info.brokerAddrTable.get(n)) and (a := bd.brokerAddrs.get(MASTER_ID))]

    async def master_and_slaves(self, cluster: str) -> list[tuple[str | None, list[str]]]:
        """CommandUtil.fetchMasterAndSlaveDistinguish: (master, [slaves]) per broker set."""
        info = await self.cluster_info()
        names = info.clusterAddrTable.get(cluster)
        if names is None:
            raise AdminError("Make sure the specified clusterName exists or the name server connected to is correct.")
        result = []
        for name in sorted(names):
            bd = info.brokerAddrTable.get(name)
            if bd is None:
                continue
            slaves = [a for i, a in sorted(bd.brokerAddrs.items()) if i != MASTER_ID]
            result.append((bd.brokerAddrs.get(MASTER_ID), slaves))
        return result

    async def all_addrs(self, cluster: str) -> list[str]:
        return [a for m, s in await self.master_and_slaves(cluster) for a in ([m] if m else []) + s]

    async def broker_name_of(self, addr: str) -> str:
        info = await self.cluster_info()
        for name, bd in info.brokerAddrTable.items():
            if addr in bd.brokerAddrs.values():
                return name
        raise AdminError("Make sure the specified clusterName exists or the name server connected to is correct.")

    async def _each_namesrv(self, code: int, fields: dict[str, Any] | None = None, body: bytes | None = None,
                            servers: list[str] | None = None) -> dict[str, RemotingCommand]:
        self._need_namesrv()
        return {addr: await self.call(addr, code, fields, body) for addr in (servers or self.namesrv_addrs)}

    async def put_kv(self, namespace: str, key: str, value: str) -> None:
        await self._each_namesrv(RequestCode.PUT_KV_CONFIG, {"namespace": namespace, "key": key, "value": value})

    async def delete_kv(self, namespace: str, key: str) -> None:
        await self._each_namesrv(RequestCode.DELETE_KV_CONFIG, {"namespace": namespace, "key": key})

    async def wipe_write_perm(self, namesrv: str, broker_name: str) -> int:
        response = await self.call(namesrv, RequestCode.WIPE_WRITE_PERM_OF_BROKER, {"brokerName": broker_name})
        return int((response.ext_fields or {}).get("wipeTopicCount", 0))

    async def add_write_perm(self, namesrv: str, broker_name: str) -> int:
        response = await self.call(namesrv, RequestCode.ADD_WRITE_PERM_OF_BROKER, {"brokerName": broker_name})
        return int((response.ext_fields or {}).get("addTopicCount", 0))

    async def namesrv_config(self, servers: list[str] | None) -> dict[str, dict[str, str]]:
        answers = await self._each_namesrv(RequestCode.GET_NAMESRV_CONFIG, servers=servers)
        return {addr: bodies.parse_properties_text(r.body_bytes().decode("utf-8")) for addr, r in answers.items()}

    async def update_namesrv_config(self, props: dict[str, str], servers: list[str] | None) -> None:
        await self._each_namesrv(RequestCode.UPDATE_NAMESRV_CONFIG, body=bodies.properties_text(props).encode(),
                                 servers=servers)

    async def delete_topic_in_namesrv(self, topic: str, cluster: str | None) -> None:
        await self._each_namesrv(RequestCode.DELETE_TOPIC_IN_NAMESRV, {"topic": topic, "clusterName": cluster})

    # ------------------------------------------------------------------ brokers
    async def create_topic(self, addr: str, topic: str, read: int, write: int, perm: int, sys_flag: int,
                           order: bool, attributes: str | None = None) -> None:
        fields = {"topic": topic, "defaultTopic": "TBW102", "readQueueNums": read, "writeQueueNums": write,
                  "perm": perm, "topicFilterType": "SINGLE_TAG", "topicSysFlag": sys_flag, "order": order}
        if attributes is not None:
            fields["attributes"] = attributes
        await self.call(addr, RequestCode.UPDATE_AND_CREATE_TOPIC, fields)

    async def delete_topic_in_broker(self, addr: str, topic: str) -> None:
        await self.call(addr, RequestCode.DELETE_TOPIC_IN_BROKER, {"topic": topic})

    async def create_group(self, addr: str, config: bodies.SubscriptionGroupConfig) -> None:
        await self.call(addr, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, body=config.encode())

    async def set_message_request_mode(self, addr: str, topic: str, group: str, mode: str,
                                       pop_share_queue_num: int) -> None:
        """RocketMQ 5's SET_MESSAGE_REQUEST_MODE (401): the group's consumers of the topic PULL or POP."""
        body = {"consumerGroup": group, "mode": mode, "popShareQueueNum": pop_share_queue_num, "topic": topic}
        await self.call(addr, RequestCode.SET_MESSAGE_REQUEST_MODE, body=orjson.dumps(body))

    async def delete_group(self, addr: str, group: str, remove_offset: bool) -> None:
        await self.call(addr, RequestCode.DELETE_SUBSCRIPTIONGROUP, {"groupName": group, "removeOffset": remove_offset})

    async def runtime_info(self, addr: str) -> dict[str, str]:
        return bodies.decode_kv_table((await self.call(addr, RequestCode.GET_BROKER_RUNTIME_INFO)).body_bytes())

    async def broker_config(self, addr: str) -> dict[str, str]:
        response = await self.call(addr, RequestCode.GET_BROKER_CONFIG)
        return bodies.parse_properties_text(response.body_bytes().decode("utf-8"))

    async def update_broker_config(self, addr: str, props: dict[str, str]) -> None:
        await self.call(addr, RequestCode.UPDATE_BROKER_CONFIG, body=bodies.properties_text(props).encode())

    async def broker_consume_stats(self, addr: str, is_order: bool, timeout_ms: int) -> dict[str, Any]:
        response = await self.call(addr, RequestCode.GET_BROKER_CONSUME_STATS, {"isOrder": is_order},
                                   timeout=timeout_ms / 1000.0)
        return bodies.loads(response.body_bytes())

    async def view_broker_stats(self, addr: str, stats_name: str, stats_key: str) -> dict[str, Any]:
        response = await self.call(addr, RequestCode.VIEW_BROKER_STATS_DATA, {"statsName": stats_name,
                                                                             "statsKey": stats_key})
        return bodies.loads(response.body_bytes())

    # ------------------------------------------------------------------ topics and groups
    async def topic_stats(self, topic: str) -> dict[MessageQueue, TopicOffset]:
        route = await self.topic_route(topic)
        table: dict[MessageQueue, TopicOffset] = {}
        for bd in route.brokerDatas:
            addr = select_broker_addr(bd)
            if addr:
                response = await self.call(addr, RequestCode.GET_TOPIC_STATS_INFO, {"topic": topic})
                table.update(bodies.decode_topic_stats(response.body_bytes()))
        if not table:
            raise AdminError("Not found the topic stats info")
        return table

    async def consume_stats(self, group: str, topic: str | None = None) -> ConsumeStats:
        route = await self.topic_route(RETRY_PREFIX + group)
        result = ConsumeStats()
        for bd in route.brokerDatas:
            addr = select_broker_addr(bd)
            if addr:
                response = await self.call(addr, RequestCode.GET_CONSUME_STATS,
                                           {"consumerGroup": group, "topic": topic}, timeout=self.timeout * 3)
                stats = ConsumeStats.decode(response.body_bytes())
                result.offsetTable.update(stats.offsetTable)
                result.consumeTps += stats.consumeTps
        if not result.offsetTable:
            raise AdminError("Not found the consumer group consume stats, because return offset table is empty, "
                             "maybe the consumer not consume any message", ResponseCode.CONSUMER_NOT_ONLINE)
        return result

    async def consumer_connection(self, group: str, addr: str | None = None) -> bodies.ConsumerConnection:
        if addr is None:
            brokers = (await self.topic_route(RETRY_PREFIX + group)).brokerDatas
            addr = select_broker_addr(random.choice(brokers)) if brokers else None
        result = bodies.ConsumerConnection()
        if addr:
            response = await self.call(addr, RequestCode.GET_CONSUMER_CONNECTION_LIST, {"consumerGroup": group})
            result = bodies.ConsumerConnection.decode(response.body_bytes())
        if not result.connectionSet:
            raise AdminError("Not found the consumer group connection", ResponseCode.CONSUMER_NOT_ONLINE)
        return result

    async def producer_connection(self, group: str, topic: str) -> list[bodies.ClientConnection]:
        brokers = (await self.topic_route(topic)).brokerDatas
        addr = select_broker_addr(random.choice(brokers)) if brokers else None
        conns: list[bodies.ClientConnection] = []
        if addr:
            response = await self.call(addr, RequestCode.GET_PRODUCER_CONNECTION_LIST, {"producerGroup": group})
            conns = bodies.decode_producer_connection(response.body_bytes())
        if not conns:
            raise AdminError("Not found the producer group connection")
        return conns

    async def consumer_running_info(self, group: str, client_id: str, jstack: bool) -> ConsumerRunningInfo:
        brokers = (await self.topic_route(RETRY_PREFIX + group)).brokerDatas
        for bd in brokers:
            addr = select_broker_addr(bd)
            if addr:
                response = await self.call(addr, RequestCode.GET_CONSUMER_RUNNING_INFO,
                                           {"consumerGroup": group, "clientId": client_id, "jstackEnable": jstack},
                                           timeout=max(self.timeout, 12.0))
                return ConsumerRunningInfo.decode(response.body_bytes())
        raise AdminError(f"no broker for consumer group {group}")

    async def topic_consumed_by(self, topic: str) -> list[str] | None:
        route = await self.topic_route(topic)
        for bd in route.brokerDatas:
            addr = select_broker_addr(bd)
            if addr:
                response = await self.call(addr, RequestCode.QUERY_TOPIC_CONSUME_BY_WHO, {"topic": topic})
                return hashmap_order(bodies.decode_group_list(response.body_bytes()))
            break
        return None

    async def reset_offset_by_time(self, topic: str, group: str, timestamp: int, force: bool,
                                   cplus: bool) -> dict[MessageQueue, int]:
        route = await self.topic_route(topic)
        table: dict[MessageQueue, int] = {}
        for bd in route.brokerDatas:
            addr = select_broker_addr(bd)
            if addr:
                response = await self.call(addr, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET,
                                           {"topic": topic, "group": group, "timestamp": timestamp,
                                            "isForce": force, **({"isC": True} if cplus else {})})
                table.update(bodies.decode_reset_offset_body(response.body_bytes()))
        return table

    async def update_consumer_offset(self, addr: str, group: str, mq: MessageQueue, offset: int) -> None:
        await self.call(addr, RequestCode.UPDATE_CONSUMER_OFFSET, {"consumerGroup": group, "topic": mq.topic,
                                                                   "queueId": mq.queueId, "commitOffset": offset})

    # ------------------------------------------------------------------ queues and messages
    async def broker_addr_of(self, mq: MessageQueue) -> str:
        route = await self.topic_route(mq.topic)
        for bd in route.brokerDatas:
            if bd.brokerName == mq.brokerName:
                addr = select_broker_addr(bd)
                if addr:
                    return addr
        raise MQClientError(f"The broker[{mq.brokerName}] not exist")

    async def subscribe_queues(self, topic: str) -> list[MessageQueue]:
        """fetchSubscribeMessageQueues: the readable queues of a route, in MessageQueue order."""
        route = await self.topic_route(topic)
        mqs = {MessageQueue(topic, q.brokerName, i) for q in route.queueDatas if q.perm & 4
               for i in range(q.readQueueNums)}
        if not mqs:
            raise MQClientError(f"Can not find Message Queue for this topic, {topic}")
        return sorted(mqs)

    async def min_offset(self, mq: MessageQueue) -> int:
        return await self.api.get_min_offset(await self.broker_addr_of(mq), mq)

    async def max_offset(self, mq: MessageQueue) -> int:
        return await self.api.get_max_offset(await self.broker_addr_of(mq), mq)

    async def search_offset(self, mq: MessageQueue, timestamp: int) -> int:
        return await self.api.search_offset(await self.broker_addr_of(mq), mq, timestamp)

    async def pull(self, mq: MessageQueue, expression: str, offset: int, max_nums: int,
                   group: str = TOOLS_CONSUMER_GROUP) -> PullResult:
        header = h.PullMessageRequestHeader(
            consumerGroup=group, topic=mq.topic, queueId=mq.queueId, queueOffset=offset, maxMsgNums=max_nums,
            sysFlag=4, commitOffset=0, suspendTimeoutMillis=0, subVersion=0, subscription=expression or "*",
            expressionType="TAG")
        result = await self.api.pull_message(await self.broker_addr_of(mq), header, timeout=max(self.timeout, 10.0))
        if expression and expression.strip() not in ("", "*") and result.messages:
            tags = {t.strip() for t in expression.split("||")}
            result.messages = [m for m in result.messages if m.tags in tags]
        return result

    async def view_message(self, offset_msg_id: str) -> MessageExt:
        return await self.admin.view_message(offset_msg_id)

    async def query_message(self, topic: str, key: str, max_num: int, unique: bool) -> list[MessageExt]:
        return await self.admin.query_message(topic, key, max_num, 0, 2**63 - 1, unique_key=unique)

    async def producer(self, group: str):  # noqa: ANN201
        from pocketmq.client.producer import AsyncProducer

        self._need_namesrv()
        producer = AsyncProducer(group, list(self.namesrv_addrs))
        await producer.start()
        return producer
