"""PocketMQ's controller against the oracle of the wire protocol: Apache RocketMQ 5.3.3 brokers
in controller mode (brokerId=-1, from the Maven Central jars) register with OUR mqcontroller,
get their brokerIds, the first becomes master and widens its SyncStateSet; a kill -9 of the
master makes our controller elect the other, which registers with the name server as brokerId 0.
The official 5.3.3 mqadmin reads our controller's metadata and SyncStateSet."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from apache5 import apache5_broker, classpath5
from pocketmq.protocol import controller as p
from pocketmq.protocol import fastjson
from pocketmq.protocol.controller import ControllerRequestCode as Req
from pocketmq.remoting.codes import RequestCode
from pocketmq.remoting.header import decode_header, encode_header
from tests.support.controller import start_controller
from tests.support.processes import start_namesrv, wait_until
from tests.support.rpc import call

pytestmark = [pytest.mark.interop, pytest.mark.timeout(420)]


def replicas(controller: str, broker_name: str) -> p.ReplicasInfo | None:
    answer = call(controller, Req.CONTROLLER_GET_SYNC_STATE_DATA, None, p.encode_broker_names([broker_name]))
    if answer.code != 0 or not answer.body_bytes():
        return None
    return p.BrokerReplicasInfo.decode(answer.body_bytes()).replicasInfoTable.get(broker_name)


def brokers_in_namesrv(namesrv: str, broker_name: str) -> dict[str, str]:
    answer = call(namesrv, RequestCode.GET_BROKER_CLUSTER_INFO)
    table = fastjson.loads(answer.body_bytes()).get("brokerAddrTable") or {}
    return {str(k): v for k, v in (table.get(broker_name, {}).get("brokerAddrs") or {}).items()}


def official_mqadmin(*args: str) -> str:
    done = subprocess.run(["java", "-Xmx128m", "-XX:+UseSerialGC", "-cp", classpath5(),
                           "org.apache.rocketmq.tools.command.MQAdminStartup", *args],
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_apache_5_brokers_fail_over_with_our_controller(tmp_path: Path, interop_ready: None) -> None:
    namesrv = start_namesrv(tmp_path / "ns")
    controller = start_controller(tmp_path / "ctl", extra=["--scanNotActiveBrokerInterval=1000"])
    conf = dict(brokerId=-1, brokerRole="SLAVE", enableControllerMode="true", controllerAddr=controller.addr,
                allAckInSyncStateSet="true")
    try:
        with apache5_broker(namesrv.addr, **conf) as first, apache5_broker(namesrv.addr, **conf) as second:
            wait_until(lambda: (r := replicas(controller.addr, "broker-a")) is not None
                       and r.masterBrokerId is not None and len(r.inSyncReplicas) == 2, timeout=120,
                       interval=1, message="a master elected and both brokers in its SyncStateSet")
            info = replicas(controller.addr, "broker-a")
            assert info is not None and info.masterEpoch == 1
            assert sorted(r.brokerId for r in info.inSyncReplicas) == [1, 2]
            assert info.syncStateSetEpoch >= 2  # the Apache master's ALTER_SYNC_STATE_SET was taken
            master_addr = info.masterAddress
            wait_until(lambda: brokers_in_namesrv(namesrv.addr, "broker-a").get("0") == master_addr, timeout=90,
                       interval=1, message="the master registered as brokerId 0")

            meta = official_mqadmin("getControllerMetaData", "-a", controller.addr)
            assert f"#ControllerLeaderAddress\t{controller.addr}" in meta
            sss = official_mqadmin("getSyncStateSet", "-a", controller.addr, "-b", "broker-a")
            assert f"#MasterAddr\t{master_addr}" in sss and "#SyncStateSetNums\t2" in sss

            dead, survivor = (first, second) if master_addr == first.addr else (second, first)
            dead.kill()  # kill -9: its connection to our controller closes
            wait_until(lambda: (r := replicas(controller.addr, "broker-a")) is not None
                       and r.masterAddress == survivor.addr, timeout=60, interval=0.5,
                       message="the surviving broker elected")
            assert replicas(controller.addr, "broker-a").masterEpoch == 2  # type: ignore[union-attr]
            wait_until(lambda: brokers_in_namesrv(namesrv.addr, "broker-a").get("0") == survivor.addr,
                       timeout=90, interval=1, message="the new master registered as brokerId 0")
            replica = decode_header(p.GetReplicaInfoResponseHeader, call(
                controller.addr, Req.CONTROLLER_GET_REPLICA_INFO,
                encode_header(p.GetReplicaInfoRequestHeader("broker-a"))).ext_fields)
            assert (replica.masterAddress, replica.masterEpoch) == (survivor.addr, 2)
    finally:
        controller.kill()
        namesrv.kill()


def test_apache_5_brokers_with_two_of_our_controllers_on_etcd(tmp_path: Path, interop_ready: None) -> None:
    from tests.support.controller import start_etcd

    etcd = start_etcd(tmp_path / "etcd")
    namesrv = start_namesrv(tmp_path / "ns")
    controllers = [start_controller(tmp_path / f"c{i}", extra=["--controllerStoreType=etcd",
                                                               f"--etcdEndpoints={etcd.endpoint}"])
                   for i in range(2)]
    addrs = [c.addr for c in controllers]
    conf = dict(brokerId=-1, brokerRole="SLAVE", enableControllerMode="true", controllerAddr=";".join(addrs),
                allAckInSyncStateSet="true")
    try:
        with apache5_broker(namesrv.addr, **conf) as first, apache5_broker(namesrv.addr, **conf) as second:
            wait_until(lambda: (r := replicas(addrs[1], "broker-a")) is not None
                       and r.masterBrokerId is not None and len(r.inSyncReplicas) == 2, timeout=120,
                       interval=1, message="a master elected and both brokers in sync (seen through etcd)")
            info = replicas(addrs[0], "broker-a")
            assert info is not None and info.masterEpoch == 1
            dead, survivor = (first, second) if info.masterAddress == first.addr else (second, first)
            dead.kill()  # both controllers see its connections close
            for addr in addrs:
                wait_until(lambda: (r := replicas(addr, "broker-a")) is not None and r.masterAddress == survivor.addr,
                           timeout=60, interval=0.5, message=f"{addr} to see the survivor as master")
                assert replicas(addr, "broker-a").masterEpoch == 2  # type: ignore[union-attr]
            wait_until(lambda: brokers_in_namesrv(namesrv.addr, "broker-a").get("0") == survivor.addr,
                       timeout=90, interval=1, message="the new master registered as brokerId 0")
            logs = [(tmp_path / f"c{i}" / "logs" / "rocketmqlogs" / "controller.log").read_text() for i in range(2)]
            elected = [len(re.findall(r"Elect a new master in broker-set: broker-a done: .*masterEpoch 2\b", text))
                       for text in logs]
            assert sum(elected) == 1, elected  # one controller won; the other found the new master
    finally:
        for controller in controllers:
            controller.kill()
        namesrv.kill()
        etcd.kill()
