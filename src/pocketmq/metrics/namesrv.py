"""The name server's families: rocketmq_rpc_latency and the route table's size, with
``node_type`` "nameserver" (RocketMQ 5's documented value), ``node_id`` its listen address and
an empty ``cluster`` (a name server serves every cluster). The name server is read duck-typed:
``routes.all_topics()``, ``routes.cluster_info()``."""

from __future__ import annotations

from typing import Any, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from pocketmq.metrics.rpc import RpcLatency


class NamesrvCollector:
    def __init__(self, namesrv: Any, rpc: RpcLatency, node_id: str) -> None:
        self.namesrv = namesrv
        self.rpc = rpc
        self.node_id = node_id

    def collect(self) -> Iterator[Metric]:
        base = {"cluster": "", "node_type": "nameserver", "node_id": self.node_id}
        routes = self.namesrv.routes
        topics = GaugeMetricFamily("rocketmq_topic_number", "Topics in the route table", labels=list(base))
        topics.add_metric(list(base.values()), len(routes.all_topics()))
        brokers = GaugeMetricFamily("rocketmq_broker_number", "Broker sets registered, per cluster",
                                    labels=[*base, "broker_cluster"])
        info = routes.cluster_info()
        for cluster, names in sorted(info.clusterAddrTable.items()):
            brokers.add_metric([*base.values(), cluster], len(names))
        yield topics
        yield brokers
        yield self.rpc.family(base)
