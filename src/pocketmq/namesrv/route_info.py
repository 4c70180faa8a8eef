"""The name server's route table (upstream RouteInfoManager): which brokers live, which topics
they serve, and the routes clients ask for. Pure state, no I/O: the processor feeds it requests
and the liveness scan feeds it the clock."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pocketmq.protocol.route import (
    MASTER_ID, PERM_READ, PERM_WRITE, BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfigWrapper,
    TopicRouteData,
)

log = logging.getLogger("pocketmq.namesrv")

TOPIC_SYS_FLAG_UNIT = 0x1
TOPIC_SYS_FLAG_UNIT_SUB = 0x2


@dataclass(slots=True)
class BrokerLiveInfo:
    last_update: float
    data_version: DataVersion
    channel: Any
    ha_server_addr: str


@dataclass(slots=True)
class RegisterResult:
    ha_server_addr: str | None = None
    master_addr: str | None = None


@dataclass
class RouteInfoManager:
    broker_channel_expired_ms: int = 120_000
    clock: Callable[[], float] = time.monotonic
    topic_queue_table: dict[str, dict[str, QueueData]] = field(default_factory=dict)
    broker_addr_table: dict[str, BrokerData] = field(default_factory=dict)
    cluster_addr_table: dict[str, set[str]] = field(default_factory=dict)
    broker_live_table: dict[str, BrokerLiveInfo] = field(default_factory=dict)
    filter_server_table: dict[str, list[str]] = field(default_factory=dict)

    # -------------------------------------------------------------------------- registration
    def register_broker(self, cluster: str, broker_addr: str, broker_name: str, broker_id: int,
                        ha_server_addr: str, wrapper: TopicConfigWrapper | None,
                        filter_servers: list[str], channel: Any) -> RegisterResult:
        self.cluster_addr_table.setdefault(cluster, set()).add(broker_name)
        broker_data = self.broker_addr_table.get(broker_name)
        register_first = broker_data is None
        if broker_data is None:
            broker_data = BrokerData(cluster=cluster, brokerName=broker_name)
            self.broker_addr_table[broker_name] = broker_data
        # The same address under a new id (a slave promoted to master) replaces the old entry.
        for old_id, old_addr in list(broker_data.brokerAddrs.items()):
            if old_addr == broker_addr and old_id != broker_id:
                del broker_data.brokerAddrs[old_id]
        previous = broker_data.brokerAddrs.get(broker_id)
        broker_data.brokerAddrs[broker_id] = broker_addr
        register_first = register_first or previous is None

        if wrapper is not None and broker_id == MASTER_ID:
            # As upstream 5 (isTopicConfigChanged): a topic this broker does not serve here yet is
            # taken even when the data version is the one already seen, since topics created at
            # once on a broker can reach us in registrations that share a data version.
            changed = register_first or self._topic_config_changed(broker_addr, wrapper.dataVersion)
            for topic_config in wrapper.topicConfigTable.values():
                if changed or broker_name not in self.topic_queue_table.get(topic_config.topicName, ()):
                    self._update_queue_data(broker_name, topic_config)

        previous_live = self.broker_live_table.get(broker_addr)
        self.broker_live_table[broker_addr] = BrokerLiveInfo(
            self.clock(), wrapper.dataVersion if wrapper else DataVersion(), channel, ha_server_addr)
        if previous_live is None:
            log.info("new broker registered, %s HAServer: %s", broker_addr, ha_server_addr)
        if filter_servers:
            self.filter_server_table[broker_addr] = list(filter_servers)
        else:
            self.filter_server_table.pop(broker_addr, None)

        result = RegisterResult()
        if broker_id != MASTER_ID:
            master_addr = broker_data.brokerAddrs.get(MASTER_ID)
            master_live = self.broker_live_table.get(master_addr) if master_addr else None
            if master_live is not None:
                result.ha_server_addr = master_live.ha_server_addr
                result.master_addr = master_addr
        return result

    def _topic_config_changed(self, broker_addr: str, version: DataVersion) -> bool:
        live = self.broker_live_table.get(broker_addr)
        return live is None or live.data_version != version

    def _update_queue_data(self, broker_name: str, topic_config: Any) -> None:
        queue_data = QueueData(brokerName=broker_name, readQueueNums=topic_config.readQueueNums,
                               writeQueueNums=topic_config.writeQueueNums, perm=topic_config.perm,
                               topicSysFlag=topic_config.topicSysFlag)
        queues = self.topic_queue_table.setdefault(topic_config.topicName, {})
        if queues.get(broker_name) != queue_data:
            if broker_name in queues:
                log.info("topic changed, %s OLD: %s NEW: %s", topic_config.topicName, queues[broker_name], queue_data)
            queues[broker_name] = queue_data

    def is_broker_topic_config_changed(self, broker_addr: str, version: DataVersion) -> bool:
        return self._topic_config_changed(broker_addr, version)

    def query_data_version(self, broker_addr: str, version: DataVersion) -> tuple[bool, DataVersion | None]:
        changed = self._topic_config_changed(broker_addr, version)
        live = self.broker_live_table.get(broker_addr)
        if not changed and live is not None:
            live.last_update = self.clock()
        return changed, live.data_version if live else None

    def unregister_broker(self, cluster: str, broker_addr: str, broker_name: str, broker_id: int) -> None:
        self.broker_live_table.pop(broker_addr, None)
        self.filter_server_table.pop(broker_addr, None)
        log.info("unregisterBroker, remove from brokerLiveTable %s", broker_addr)
        broker_data = self.broker_addr_table.get(broker_name)
        if broker_data is not None and broker_data.brokerAddrs.get(broker_id) == broker_addr:
            del broker_data.brokerAddrs[broker_id]
        self._drop_broker_name_if_empty(broker_name, cluster)

    def _drop_broker_name_if_empty(self, broker_name: str, cluster: str | None) -> None:
        broker_data = self.broker_addr_table.get(broker_name)
        if broker_data is None or broker_data.brokerAddrs:
            return
        del self.broker_addr_table[broker_name]
        for cluster_name, names in list(self.cluster_addr_table.items()):
            if cluster is not None and cluster_name != cluster:
                continue
            names.discard(broker_name)
            if not names:
                del self.cluster_addr_table[cluster_name]
        for topic, queues in list(self.topic_queue_table.items()):
            queues.pop(broker_name, None)
            if not queues:
                del self.topic_queue_table[topic]

    # ------------------------------------------------------------------------------- liveness
    def scan_not_active_brokers(self) -> list[Any]:
        """Drop brokers silent for longer than the expiry; returns their channels to close."""
        now = self.clock()
        expired = [addr for addr, live in self.broker_live_table.items()
                   if (now - live.last_update) * 1000 > self.broker_channel_expired_ms]
        channels = []
        for addr in expired:
            live = self.broker_live_table[addr]
            log.warning("The broker channel expired, %s %dms", addr, self.broker_channel_expired_ms)
            channels.append(live.channel)
            self._remove_broker_addr(addr)
        return channels

    def on_channel_destroy(self, channel: Any) -> None:
        """A broker's connection closed: drop every broker address registered over it at once."""
        for addr, live in list(self.broker_live_table.items()):
            if live.channel is channel:
                log.info("the broker's channel destroyed, %s, clean it's data structure at once", addr)
                self._remove_broker_addr(addr)

    def _remove_broker_addr(self, broker_addr: str) -> None:
        self.broker_live_table.pop(broker_addr, None)
        self.filter_server_table.pop(broker_addr, None)
        for broker_name, broker_data in list(self.broker_addr_table.items()):
            for broker_id, addr in list(broker_data.brokerAddrs.items()):
                if addr == broker_addr:
                    del broker_data.brokerAddrs[broker_id]
            self._drop_broker_name_if_empty(broker_name, None)

    # -------------------------------------------------------------------------------- queries
    def pickup_topic_route(self, topic: str) -> TopicRouteData | None:
        queues = self.topic_queue_table.get(topic)
        if not queues:
            return None
        route = TopicRouteData()
        for broker_name in sorted(queues):
            queue_data = queues[broker_name]
            route.queueDatas.append(dataclasses.replace(queue_data))
            broker_data = self.broker_addr_table.get(broker_name)
            if broker_data is not None:
                route.brokerDatas.append(BrokerData(broker_data.cluster, broker_data.brokerName,
                                                    dict(broker_data.brokerAddrs)))
                for addr in broker_data.brokerAddrs.values():
                    servers = self.filter_server_table.get(addr)
                    if servers:
                        route.filterServerTable[addr] = list(servers)
        if not route.brokerDatas:
            return None
        return route

    def cluster_info(self) -> ClusterInfo:
        return ClusterInfo(brokerAddrTable=dict(self.broker_addr_table),
                           clusterAddrTable={c: sorted(n) for c, n in self.cluster_addr_table.items()})

    def all_topics(self) -> list[str]:
        return sorted(self.topic_queue_table)

    def topics_by_cluster(self, cluster: str) -> list[str]:
        names = self.cluster_addr_table.get(cluster, set())
        return sorted(topic for topic, queues in self.topic_queue_table.items() if names & queues.keys())

    def system_topics(self) -> tuple[list[str], str | None]:
        topics: set[str] = set()
        broker_addr = None
        for cluster, names in self.cluster_addr_table.items():
            topics.add(cluster)
            for name in names:
                topics.add(name)
                broker_data = self.broker_addr_table.get(name)
                if broker_addr is None and broker_data and broker_data.brokerAddrs:
                    broker_addr = broker_data.brokerAddrs.get(MASTER_ID) or next(iter(broker_data.brokerAddrs.values()))
        return sorted(topics), broker_addr

    def unit_topics(self, want_unit: bool, want_unit_sub: bool, unit_sub_only_non_unit: bool = False) -> list[str]:
        found = []
        for topic, queues in self.topic_queue_table.items():
            flags = next(iter(queues.values())).topicSysFlag if queues else 0
            is_unit = bool(flags & TOPIC_SYS_FLAG_UNIT)
            has_unit_sub = bool(flags & TOPIC_SYS_FLAG_UNIT_SUB)
            if unit_sub_only_non_unit:
                if not is_unit and has_unit_sub:
                    found.append(topic)
            elif (want_unit and is_unit) or (want_unit_sub and has_unit_sub):
                found.append(topic)
        return sorted(found)

    def delete_topic(self, topic: str, cluster: str | None = None) -> None:
        if not cluster:
            self.topic_queue_table.pop(topic, None)
            return
        queues = self.topic_queue_table.get(topic)
        if queues is None:
            return
        for broker_name in self.cluster_addr_table.get(cluster, set()):
            queues.pop(broker_name, None)
        if not queues:
            del self.topic_queue_table[topic]

    def wipe_write_perm(self, broker_name: str) -> int:
        count = 0
        for queues in self.topic_queue_table.values():
            queue_data = queues.get(broker_name)
            if queue_data is not None:
                queue_data.perm &= ~PERM_WRITE
                count += 1
        return count

    def add_write_perm(self, broker_name: str) -> int:
        count = 0
        for queues in self.topic_queue_table.values():
            queue_data = queues.get(broker_name)
            if queue_data is not None:
                queue_data.perm = PERM_READ | PERM_WRITE
                count += 1
        return count
