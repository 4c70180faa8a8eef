"""Start the same deployment twice on loopback: once as Apache RocketMQ 4.9.7 (the jars from
tests/interop/setup.sh) and once as PocketMQ (bin/mqnamesrv, bin/mqbroker), from one list of
broker.conf dictionaries, so both get the same keys.

Deployments:
  single-async  one master, ASYNC_FLUSH              (conf/broker.conf)
  single-sync   one master, SYNC_FLUSH               (conf/broker.conf + flushDiskType=SYNC_FLUSH)
  2m-2s-async   conf/2m-2s-async: two ASYNC_MASTERs, two SLAVEs, ASYNC_FLUSH
  2m-2s-sync    conf/2m-2s-sync: two SYNC_MASTERs, two SLAVEs, ASYNC_FLUSH

Each broker gets from the preset: cluster, name, id, role, flush type; from us: loopback
ports, its own store, brokerIP1=127.0.0.1 and upstream's defaults for everything else (1 GiB
commit log files, full-size index). JVMs run G1 with a 1 GiB heap (upstream's runbroker.sh uses
8 GiB; this box has 24 GiB shared by two clusters).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.interop import apache  # noqa: E402
from tests.support import processes  # noqa: E402

DEPLOYMENTS = ("single-async", "single-sync", "2m-2s-async", "2m-2s-sync")
CLUSTER = "DefaultCluster"


def read_properties(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        k, v = line.split("=", 1)
        out[k.strip()] = v.strip()
    return out


# Keys we take from a preset; ports and store paths are ours.
_PRESET_KEYS = ("brokerClusterName", "brokerName", "brokerId", "brokerRole", "flushDiskType",
                "deleteWhen", "fileReservedTime")


def deployment_brokers(name: str) -> list[dict[str, str]]:
    """broker.conf keys (without ports, stores, namesrv) for each broker of `name`."""
    if name in ("single-async", "single-sync"):
        conf = {k: v for k, v in read_properties(ROOT / "conf" / "broker.conf").items() if k in _PRESET_KEYS}
        conf["flushDiskType"] = "SYNC_FLUSH" if name == "single-sync" else "ASYNC_FLUSH"
        confs = [conf]
    elif name in ("2m-2s-async", "2m-2s-sync"):
        files = ["broker-a.properties", "broker-b.properties", "broker-a-s.properties", "broker-b-s.properties"]
        confs = [{k: v for k, v in read_properties(ROOT / "conf" / name / f).items() if k in _PRESET_KEYS}
                 for f in files]
    else:
        raise ValueError(f"unknown deployment {name!r} (one of {', '.join(DEPLOYMENTS)})")
    for c in confs:
        c.setdefault("brokerClusterName", CLUSTER)
        c.update(BENCH_COMMON)
    return confs


# --acl: one account for the load generator, checked in full (signature, admin code, topic and
# group permissions) on every request.
ACL_ACCESS_KEY = "bench-account"
ACL_SECRET_KEY = "bench-account-secret"
ACL_YML = f"""accounts:
  - accessKey: {ACL_ACCESS_KEY}
    secretKey: {ACL_SECRET_KEY}
    admin: true
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: PUB|SUB
    topicPerms:
      - bench_denied_topic=DENY
"""


def write_acl(home: Path) -> None:
    (home / "conf").mkdir(parents=True, exist_ok=True)
    (home / "conf" / "plain_acl.yml").write_text(ACL_YML)


BENCH_COMMON = {
    "brokerIP1": "127.0.0.1",
    "autoCreateTopicEnable": "true",
    "mappedFileSizeCommitLog": str(1024 * 1024 * 1024),
    "maxIndexNum": "20000000",
    "maxHashSlotNum": "5000000",
    "diskMaxUsedSpaceRatio": "95",
}


@dataclass
class Deployment:
    """A running deployment: its name server and brokers, with the pids to measure."""

    impl: str  # "rocketmq" | "pocketmq"
    name: str
    namesrv_addr: str
    broker_pids: list[int]
    broker_names: list[str]
    homes: list[Path] = field(default_factory=list)
    _stops: list = field(default_factory=list)

    def alive(self) -> bool:
        return all(Path(f"/proc/{pid}").exists() for pid in self.broker_pids)

    def stop(self) -> None:
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()
        self._stops.clear()


def _apache_jvm(home: Path, heap: str) -> list[str]:
    args = apache.server_jvm_args(home, heap, heap, "1g")
    return ["-XX:+UseG1GC" if a == "-XX:+UseSerialGC" else a for a in args]


def start_rocketmq(name: str, workdir: Path, heap: str = "1g", acl: bool = False) -> Deployment:
    ns_home = workdir / "namesrv"
    ns = apache.start_namesrv(ns_home)
    dep = Deployment("rocketmq", name, ns.addr, [], [], [ns_home])
    dep._stops.append(ns.stop)
    try:
        confs = deployment_brokers(name)
        for i, conf in enumerate(confs):
            home = workdir / f"broker{i}"
            apache.make_rocketmq_home(home)
            store = home / "store"
            port = apache.free_broker_port()
            full = dict(conf, namesrvAddr=ns.addr, listenPort=str(port), storePathRootDir=str(store),
                        storePathCommitLog=str(store / "commitlog"))
            if acl:
                write_acl(home)
                full["aclEnable"] = "true"
            conf_path = home / "broker.conf"
            conf_path.write_text("".join(f"{k}={v}\n" for k, v in full.items()))
            server = apache._spawn("broker", "org.apache.rocketmq.broker.BrokerStartup", ["-c", str(conf_path)],
                                   home, port, _apache_jvm(home, heap), "boot success", apache.BOOT_TIMEOUT)
            dep._stops.append(server.stop)
            dep.broker_pids.append(server.proc.pid)
            dep.broker_names.append(f"{conf['brokerName']}/{conf['brokerId']}")
            dep.homes.append(home)
    except BaseException:
        dep.stop()
        raise
    return dep


def tls_keys(workdir: Path) -> dict[str, str]:
    """A self-signed certificate for PocketMQ's name server and brokers (permissive: TLS and
    plaintext on each port). Apache's serve TLS in permissive mode with a certificate they make
    up themselves (tls.test.mode.enable), so they need no keys."""
    from tests.support.tls import make_cert, tls_args

    cert, key = make_cert(workdir / "certs")
    return tls_args("permissive", cert, key)


def start_pocketmq(name: str, workdir: Path, acl: bool = False, tls: bool = False,
                   broker_keys: dict[str, str] | None = None) -> Deployment:
    ns_home = workdir / "namesrv"
    tls_extra = tls_keys(workdir) if tls else {}
    ns = processes.start_namesrv(ns_home, extra=[f"--{k}={v}" for k, v in tls_extra.items()])
    dep = Deployment("pocketmq", name, ns.addr, [], [], [ns_home])
    dep._stops.append(ns.kill)
    dep._stops.append(lambda: _terminate(ns))
    try:
        confs = deployment_brokers(name)
        for i, conf in enumerate(confs):
            home = workdir / f"broker{i}"
            home.mkdir(parents=True, exist_ok=True)
            conf_path = home / "broker.conf"
            store = home / "store"
            full = dict(conf, storePathCommitLog=str(store / "commitlog"))
            conf_path.write_text("".join(f"{k}={v}\n" for k, v in full.items()))
            # the Broker helper adds ports, store root and brokerIP1 as --key=value overrides;
            # the extra keys put upstream's defaults back over its test-sized ones.
            extra: dict[str, object] = {k: v for k, v in BENCH_COMMON.items()}
            if acl:
                write_acl(home)
                extra.update(aclEnable="true", rocketmqHome=home)
            extra.update(tls_extra)
            extra.update(broker_keys or {})
            broker = processes.Broker(home, ns.addr, name=conf["brokerName"], config_file=conf_path, extra=extra)
            dep._stops.append(broker.kill)
            dep._stops.append(lambda b=broker: _terminate(b))
            broker.wait_ready(90)
            dep.broker_pids.append(broker.proc.pid)
            dep.broker_names.append(f"{conf['brokerName']}/{conf['brokerId']}")
            dep.homes.append(home)
    except BaseException:
        dep.stop()
        raise
    return dep


def _terminate(server: processes.ServerProcess) -> None:
    with contextlib.suppress(Exception):
        server.terminate(15)


@contextlib.contextmanager
def deployment(impl: str, name: str, keep: bool = False, acl: bool = False, tls: bool = False,
               pocketmq_keys: dict[str, str] | None = None) -> Iterator[Deployment]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pocketmq-bench-{impl}-{name}-"))
    dep = None
    try:
        dep = start_rocketmq(name, workdir, acl=acl) if impl == "rocketmq" else \
            start_pocketmq(name, workdir, acl=acl, tls=tls, broker_keys=pocketmq_keys)
        if len(dep.broker_pids) > 1:
            time.sleep(3)  # slaves connect to their masters' HA ports
        yield dep
    finally:
        if dep is not None:
            dep.stop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
