"""NamesrvController: wires the route table, KV config, request handlers, the remoting server
and the broker-liveness scan into one running name server."""

from __future__ import annotations

import asyncio
import logging

from pocketmq.config import NamesrvConfig, local_address
from pocketmq.metrics.exporter import PromExporter, exporter_enabled
from pocketmq.metrics.serve import start_namesrv_metrics
from pocketmq.namesrv.kvconfig import KVConfigManager
from pocketmq.namesrv.processor import NamesrvProcessor
from pocketmq.namesrv.route_info import RouteInfoManager
from pocketmq.remoting.transport import Connection, Dispatcher, RemotingServer

log = logging.getLogger("pocketmq.namesrv")


class NamesrvController:
    def __init__(self, config: NamesrvConfig, host: str = "0.0.0.0") -> None:
        self.config = config
        self.host = host
        self.routes = RouteInfoManager(broker_channel_expired_ms=config.brokerChannelExpiredTime)
        self.kv = KVConfigManager(config.kvConfigPath)
        self.dispatcher = Dispatcher()
        NamesrvProcessor(config, self.routes, self.kv).register_all(self.dispatcher)
        self.server = RemotingServer(self.dispatcher, max_frame_length=config.maxFrameLength,
                                     on_close=self._on_channel_close)
        self._scan_task: asyncio.Task[None] | None = None
        self.metrics: PromExporter | None = None

    async def start(self) -> None:
        self.kv.load()
        await self.server.start(self.host, self.config.listenPort)
        if exporter_enabled(self.config.metricsExporterType):
            self.metrics = await start_namesrv_metrics(self, f"{local_address()}:{self.port}")
        self._scan_task = asyncio.get_running_loop().create_task(self._scan_loop())

    @property
    def port(self) -> int:
        return self.server.port

    def _on_channel_close(self, channel: Connection) -> None:
        self.routes.on_channel_destroy(channel)

    async def _scan_loop(self) -> None:
        interval = self.config.scanNotActiveBrokerInterval / 1000
        await asyncio.sleep(min(5.0, interval))
        while True:
            for channel in self.routes.scan_not_active_brokers():
                if isinstance(channel, Connection):
                    channel.close()
            await asyncio.sleep(interval)

    async def shutdown(self) -> None:
        if self._scan_task is not None:
            self._scan_task.cancel()
            try:
                await self._scan_task
            except asyncio.CancelledError:
                pass
        await self.server.close()
        if self.metrics is not None:
            await self.metrics.close()
