"""ControllerService: one running controller (store + manager + handlers + its remoting server),
as ``mqcontroller`` runs it and as a name server hosts it with ``enableControllerInNamesrv=true``.

Owns: choosing the store from ControllerConfig (``file`` or ``etcd``), the listening socket (the
controller's own port, as upstream's DLedger server: 9878 unless controllerDLegerPeers says
otherwise), and telling the manager when a connection closes (a master's close starts an
election at once).
"""

from __future__ import annotations

import logging

from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.config import local_address
from pocketmq.controller.config import ControllerConfig
from pocketmq.controller.manager import ControllerManager
from pocketmq.controller.processor import ControllerProcessor
from pocketmq.controller.store import ControllerStore, FileStore, StoreCorrupt
from pocketmq.remoting.transport import Dispatcher, RemotingServer

log = logging.getLogger("pocketmq.controller")


def make_store(config: ControllerConfig) -> ControllerStore:
    if config.controllerStoreType == "etcd":
        from pocketmq.controller.etcd_store import EtcdStore

        return EtcdStore(config.etcdEndpoints, config.etcdKeyPrefix, config.etcdTimeoutMillis / 1000)
    return FileStore(config.store_path())


class ControllerService:
    def __init__(self, config: ControllerConfig, clock: Clock = SYSTEM_CLOCK,
                 store: ControllerStore | None = None) -> None:
        config.validate()
        self.config = config
        self.host, self.requested_port = config.listen_address()
        self.store = store if store is not None else make_store(config)
        self.dispatcher = Dispatcher()
        self.server = RemotingServer(self.dispatcher, on_close=self._closed)
        self.clock = clock
        self.manager: ControllerManager | None = None

    def _closed(self, connection: object) -> None:
        if self.manager is not None:
            self.manager.on_connection_closed(connection)

    async def start(self) -> None:
        await self.server.start(self.host, self.requested_port)
        address = self.config.peers().get(self.config.controllerDLegerSelfId) or f"{local_address()}:{self.port}"
        self.manager = ControllerManager(self.config, self.store, self_address=address, clock=self.clock)
        ControllerProcessor(self.manager).register_all(self.dispatcher)
        try:
            await self.manager.start()
        except StoreCorrupt as exc:  # the start-up fails with its reason, not a traceback
            raise OSError(f"controller store: {exc}") from exc
        log.info("controller listening on %s:%d (advertised %s)", self.host, self.port, address)

    @property
    def port(self) -> int:
        return self.server.port

    async def shutdown(self) -> None:
        if self.manager is not None:
            self.manager.stopping = True
        await self.server.close()
        if self.manager is not None:
            await self.manager.shutdown()
