"""Turning metrics on for a process: hook the rpc latency histogram into its dispatchers,
register its collector and start the /metrics endpoint (``metricsExporterType=PROM``)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from pocketmq.metrics.broker import BrokerCollector
from pocketmq.metrics.exporter import PromExporter
from pocketmq.metrics.namesrv import NamesrvCollector
from pocketmq.metrics.rpc import RpcLatency


def _observe(dispatchers: list[Any]) -> RpcLatency:
    rpc = RpcLatency(dispatchers[0].clock)
    for dispatcher in dispatchers:
        dispatcher.observer = rpc.observe
    return rpc


async def start_broker_metrics(broker: Any) -> PromExporter:
    """Serve a BrokerController's families on metricsPromExporterHost (else brokerIP1, as upstream)."""
    config = broker.config
    rpc = _observe([broker.dispatcher, broker.fast_dispatcher])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrokerCollector(broker, rpc, broker.clock.now_ms))
    exporter = PromExporter(registry)
    await exporter.start(config.metricsPromExporterHost or config.brokerIP1, config.metricsPromExporterPort)
    return exporter


async def start_namesrv_metrics(namesrv: Any, node_id: str) -> PromExporter:
    """Serve a NamesrvController's families on metricsPromExporterHost (else every interface)."""
    config = namesrv.config
    rpc = _observe([namesrv.dispatcher])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NamesrvCollector(namesrv, rpc, node_id))
    exporter = PromExporter(registry)
    await exporter.start(config.metricsPromExporterHost or "0.0.0.0", config.metricsPromExporterPort)
    return exporter
