"""The processes of a nemesis run, each in its own namespace of a ``Lab``: a name server, one
``mqcontroller`` on its file store (or an etcd and two controllers on it) and a broker set of three PocketMQ brokers in controller mode with
allAckInSyncStateSet=true. Every process listens on the same fixed ports inside its own namespace
(no clash: the namespaces are private) and is reached from the root namespace through the bridge.

A ``Proc`` knows how to start itself again on the same store, and the three faults and their
undo: kill -9 / restart, SIGSTOP / SIGCONT, cut / heal of its veth."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from tests.fault.nemesis.net import Lab, Node
from tests.support.cluster import runtime_info
from tests.support.controller import etcd_binary
from tests.support.processes import BIN, ServerProcess

NAMESRV_PORT = 9876
CONTROLLER_PORT = 9878
BROKER_PORT = 10911
CLUSTER = "NemesisCluster"
SET = "broker-n"

# Shorter timers than the defaults, so that one bounded run sees many faults; the protocol is
# unchanged (all are upstream keys, see docs/failover.md).
BROKER_TIMERS: dict[str, object] = {
    "controllerHeartBeatTimeoutMills": 4000, "brokerHeartbeatInterval": 1000,
    "haMaxTimeSlaveNotCatchup": 4000, "checkSyncStateSetPeriod": 1000, "syncBrokerMetadataPeriod": 2000,
    "haSendHeartbeatInterval": 1000, "haHousekeepingInterval": 6000, "slaveTimeout": 3000,
    "registerNameServerPeriod": 10000, "mappedFileSizeCommitLog": 4 * 1024 * 1024,
    "maxIndexNum": 40000, "maxHashSlotNum": 10000,
}


@dataclass
class Proc:
    """One process of the run in its namespace."""

    role: str  # "namesrv", "etcd", "controller", "broker"
    node: Node
    lab: Lab
    args: list[str]
    home: Path
    ready: str
    server: ServerProcess | None = None
    killed: bool = False
    stopped: bool = False
    cut: bool = False
    starts: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def addr(self) -> str:
        port = {"namesrv": NAMESRV_PORT, "controller": CONTROLLER_PORT, "broker": BROKER_PORT, "etcd": 2379}[self.role]
        return f"{self.node.addr}:{port}"

    @property
    def store_root(self) -> Path:
        return self.home / "store"

    def start(self, timeout: float = 90.0) -> None:
        self.server = ServerProcess(["ip", "netns", "exec", self.node.ns, *self.args], self.home, self.ready)
        self.server.wait_ready(timeout)
        self.killed = False
        self.starts += 1

    def kill9(self) -> None:
        assert self.server is not None
        self.server.proc.send_signal(signal.SIGKILL)  # the exec chain ends in the server's own pid
        self.server.proc.wait(30)
        self.killed, self.stopped = True, False

    def restart(self) -> None:
        self.start()

    def sigstop(self) -> None:
        assert self.server is not None
        self.server.proc.send_signal(signal.SIGSTOP)
        self.stopped = True

    def sigcont(self) -> None:
        assert self.server is not None
        self.server.proc.send_signal(signal.SIGCONT)
        self.stopped = False

    def partition(self) -> None:
        self.lab.cut(self.name)
        self.cut = True

    def heal(self) -> None:
        self.lab.heal(self.name)
        self.cut = False

    def stop_for_good(self) -> None:
        if self.server is not None:
            if self.stopped:
                self.server.proc.send_signal(signal.SIGCONT)
            self.server.kill()


class Topology:
    """Name server, controller(s) and three brokers, each in its own namespace of ``lab``.

    ``store="file"``: one controller on its fsynced file store (upstream's quick-start shape).
    ``store="etcd"``: an etcd and two controllers sharing it (every change one compare-and-swap);
    the brokers list both in controllerAddr."""

    def __init__(self, lab: Lab, home: Path, store: str = "file", extra: dict[str, object] | None = None) -> None:
        self.lab, self.home, self.store = lab, home, store
        ns_node = lab.add("ns")
        self.namesrv = Proc("namesrv", ns_node, lab, ["bash", str(BIN / "mqnamesrv"), f"--listenPort={NAMESRV_PORT}"],
                            home / "ns", "The Name Server boot success")
        self.etcd: Proc | None = None
        store_args: list[str] = []
        if store == "etcd":
            node = lab.add("etcd")
            client_url, peer_url = f"http://{node.addr}:2379", f"http://{node.addr}:2380"
            self.etcd = Proc("etcd", node, lab, [
                etcd_binary(), "--name", "e0", "--data-dir", str(home / "etcd" / "data"),
                "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                "--initial-cluster", f"e0={peer_url}"], home / "etcd", "ready to serve client requests")
            store_args = ["--controllerStoreType=etcd", f"--etcdEndpoints={node.addr}:2379", "--etcdTimeoutMillis=2000"]
        self.controllers: list[Proc] = []
        for i in range(2 if store == "etcd" else 1):
            node = lab.add(f"ctl{i}")
            addr = f"{node.addr}:{CONTROLLER_PORT}"
            self.controllers.append(Proc("controller", node, lab, [
                "bash", str(BIN / "mqcontroller"), "--controllerDLegerGroup=group1",
                f"--controllerDLegerPeers=n{i}-{addr}", f"--controllerDLegerSelfId=n{i}",
                f"--controllerStorePath={home / f'ctl{i}' / 'controller-store'}", *store_args],
                home / f"ctl{i}", "The Controller boot success"))
        controller_addr = ";".join(c.addr for c in self.controllers)
        self.brokers: list[Proc] = []
        for i in range(3):
            node = lab.add(f"b{i}")
            values = {**BROKER_TIMERS, "brokerIP1": node.addr, "brokerName": SET, "brokerClusterName": CLUSTER,
                      "listenPort": BROKER_PORT, "storePathRootDir": home / f"b{i}" / "store",
                      "enableControllerMode": "true", "controllerAddr": controller_addr,
                      "allAckInSyncStateSet": "true", **(extra or {})}
            args = ["bash", str(BIN / "mqbroker"), "-n", self.namesrv.addr, *[f"--{k}={v}" for k, v in values.items()]]
            self.brokers.append(Proc("broker", node, lab, args, home / f"b{i}", "boot success"))

    @property
    def procs(self) -> list[Proc]:
        return [self.namesrv, *([self.etcd] if self.etcd else []), *self.controllers, *self.brokers]

    def start(self) -> None:
        for proc in self.procs:
            proc.start()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop_for_good()

    def broker(self, addr: str) -> Proc:
        return next(b for b in self.brokers if b.addr == addr)


def safe_info(addr: str, timeout: float = 1.5) -> dict[str, str]:
    try:
        return runtime_info(addr, timeout=timeout)
    except Exception:  # noqa: BLE001 - killed, stopped or cut off: no answer is an answer
        return {}


def claims_master(info: dict[str, str]) -> bool:
    return bool(info) and info.get("masterBrokerId", "") != "" and info.get("masterBrokerId") == info.get(
        "brokerControllerId")


def healthy_master(topology: Topology) -> str | None:
    """The broker that is master with all three brokers in its SyncStateSet and both slaves
    attached, and whose slaves follow it at the same epoch; else None."""
    infos = {b.addr: safe_info(b.addr) for b in topology.brokers}
    for addr, info in infos.items():
        if claims_master(info) and info.get("syncStateSet", "").count(",") == 2 \
                and info.get("haConnectionCount") == "2":
            epoch = info.get("masterEpoch")
            if all(i.get("masterEpoch") == epoch and i.get("masterAddress") == addr for i in infos.values()):
                return addr
    return None
