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
from pocketmq.remoting.tls import ServerTls
from pocketmq.remoting.transport import Connection, Dispatcher, RemotingServer
from pocketmq.security.server import ServerAcl

log = logging.getLogger("pocketmq.namesrv")


class NamesrvController:
    def __init__(self, config: NamesrvConfig, host: str = "0.0.0.0", tls: ServerTls | None = None) -> None:
        self.config = config
        self.host = host
        self.routes = RouteInfoManager(broker_channel_expired_ms=config.brokerChannelExpiredTime)
        self.kv = KVConfigManager(config.kvConfigPath)
        self.dispatcher = Dispatcher()
        NamesrvProcessor(config, self.routes, self.kv).register_all(self.dispatcher)
        self.acl: ServerAcl | None = None
        if config.aclEnable:
            self.acl = ServerAcl.for_namesrv(config.rocketmqHome)
            self.acl.install(self.dispatcher)
        self._acl_task: asyncio.Task[None] | None = None
        self.server = RemotingServer(self.dispatcher, max_frame_length=config.maxFrameLength,
                                     on_close=self._on_channel_close, tls=tls)
        self._scan_task: asyncio.Task[None] | None = None
        self.metrics: PromExporter | None = None

    async def start(self) -> None:
        self.kv.load()
        await self.server.start(self.host, self.config.listenPort)
        if exporter_enabled(self.config.metricsExporterType):
            self.metrics = await start_namesrv_metrics(self, f"{local_address()}:{self.port}")
        self._scan_task = asyncio.get_running_loop().create_task(self._scan_loop())
        if self.acl is not None:
            self._acl_task = asyncio.get_running_loop().create_task(self.acl.watch())

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
        for task in (self._scan_task, self._acl_task):
            if task is None:
                continue
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        await self.server.close()
        if self.metrics is not None:
            await self.metrics.close()
