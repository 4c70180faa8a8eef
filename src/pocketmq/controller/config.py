"""ControllerConfig: upstream's controller keys (common/ControllerConfig, 5.3.3) plus PocketMQ's
store choice, and where the controller listens.

Upstream keys kept: controllerType, controllerDLegerGroup, controllerDLegerPeers,
controllerDLegerSelfId, controllerStorePath, scanNotActiveBrokerInterval, scanInactiveMasterInterval,
electMasterMaxRetryCount, enableElectUncleanMaster, notifyBrokerRoleChanged, configStorePath,
configBlackList. controllerType is accepted (DLedger or jRaft) but PocketMQ replicates no log
itself: the state lives in the store named by controllerStoreType.

PocketMQ keys: controllerStoreType (``file``, the default: an fsynced log under
controllerStorePath; ``etcd``: every change one compare-and-swap transaction in etcd),
etcdEndpoints (``host:port,host:port``), etcdKeyPrefix, etcdTimeoutMillis, and controllerListenPort (used only
when controllerDLegerPeers does not name this controller's address).
"""

from __future__ import annotations

import dataclasses
import os

from pocketmq.config import home_dir
from pocketmq.protocol.controller import DEFAULT_CONTROLLER_PORT


@dataclasses.dataclass
class ControllerConfig:
    rocketmqHome: str = dataclasses.field(default_factory=lambda: os.environ.get("ROCKETMQ_HOME", ""))
    configStorePath: str = dataclasses.field(
        default_factory=lambda: os.path.join(home_dir(), "controller", "controller.properties"))
    controllerType: str = "DLedger"
    scanNotActiveBrokerInterval: int = 5000
    controllerDLegerGroup: str = ""
    controllerDLegerPeers: str = ""
    controllerDLegerSelfId: str = ""
    controllerStorePath: str = ""
    electMasterMaxRetryCount: int = 3
    enableElectUncleanMaster: bool = False
    isProcessReadEvent: bool = False
    notifyBrokerRoleChanged: bool = True
    scanInactiveMasterInterval: int = 5000
    configBlackList: str = "configBlackList;configStorePath"
    # PocketMQ: the store and where to listen without DLedger peers.
    controllerStoreType: str = "file"
    etcdEndpoints: str = ""
    etcdKeyPrefix: str = "/pocketmq/controller"
    etcdTimeoutMillis: int = 2000  # under the 3 s a broker waits for a controller answer
    controllerListenPort: int = DEFAULT_CONTROLLER_PORT
    logDir: str = dataclasses.field(default_factory=lambda: os.path.join(home_dir(), "logs", "rocketmqlogs"))

    IMPORTANT_KEYS = ("controllerDLegerPeers", "controllerDLegerSelfId", "controllerStorePath",
                      "controllerStoreType", "etcdEndpoints")
    PATH_KEYS = ("controllerStorePath", "configStorePath", "logDir")

    def store_path(self) -> str:
        """Upstream's default: ~/DledgerController (a store path per controller)."""
        return self.controllerStorePath or os.path.join(home_dir(), "DledgerController")

    def peers(self) -> dict[str, str]:
        """controllerDLegerPeers ``n0-127.0.0.1:9878;n1-...`` as {selfId: address}."""
        result = {}
        for part in self.controllerDLegerPeers.split(";"):
            part = part.strip()
            if not part:
                continue
            peer_id, sep, address = part.partition("-")
            if not sep or ":" not in address:
                raise ValueError(f"bad controllerDLegerPeers entry {part!r} (want id-host:port)")
            result[peer_id.strip()] = address.strip()
        return result

    def listen_address(self) -> tuple[str, int]:
        """(host, port) this controller serves on: its own entry in controllerDLegerPeers, as
        upstream's DLedger server, else 0.0.0.0:controllerListenPort (not listenPort:
        a name server hosting a controller reads the same file)."""
        address = self.peers().get(self.controllerDLegerSelfId)
        if address is None:
            return "0.0.0.0", self.controllerListenPort
        host, _, port = address.rpartition(":")
        return "0.0.0.0", int(port)

    def validate(self) -> None:
        if self.controllerStoreType not in ("file", "etcd"):
            raise ValueError(f"controllerStoreType must be file or etcd, not {self.controllerStoreType!r}")
        if self.controllerStoreType == "etcd" and not self.etcdEndpoints.strip():
            raise ValueError("controllerStoreType=etcd needs etcdEndpoints (host:port,...)")
        self.peers()
        if self.scanNotActiveBrokerInterval <= 0 or self.scanInactiveMasterInterval <= 0:
            raise ValueError("scanNotActiveBrokerInterval and scanInactiveMasterInterval must be positive")
