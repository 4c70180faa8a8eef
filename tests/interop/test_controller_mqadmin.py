"""The controller subcommands of mqadmin, ours and the official 5.3.3 one, against our
controller: the official tool reads our answers, and ours prints what it prints."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from apache5 import classpath5
from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerRequestCode as Req
from pocketmq.tools.mqadmin import run as our_mqadmin_run
from tests.support.controller import ControllerBroker, start_controller

pytestmark = [pytest.mark.interop, pytest.mark.timeout(400)]

CLUSTER, SET = "DefaultCluster", "broker-m"


def official(*args: str) -> str:
    done = subprocess.run(["java", "-Xmx128m", "-XX:+UseSerialGC", "-cp", classpath5(),
                           "org.apache.rocketmq.tools.command.MQAdminStartup", *args],
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def ours(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = our_mqadmin_run(list(args), out=out, err=err)
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_controller_subcommands_match_the_official_mqadmin(tmp_path: Path, interop_ready: None) -> None:
    controller = start_controller(tmp_path / "c")
    brokers = [ControllerBroker(CLUSTER, SET) for _ in range(3)]
    try:
        addr = controller.addr
        for broker in brokers:
            broker.join(addr)
            broker.heartbeat(addr, timeout_ms=600_000)  # alive for the whole test (JVMs start slowly)
            assert broker.register(addr).code == 0
        assert brokers[0].elect(addr).code == 0
        assert brokers[0].call(addr, Req.CONTROLLER_ALTER_SYNC_STATE_SET, p.AlterSyncStateSetRequestHeader(SET, 1, 1),
                               p.SyncStateSet({1, 2}, 1).encode()).code == 0

        assert ours("getControllerMetaData", "-a", addr) == official("getControllerMetaData", "-a", addr)
        assert ours("getSyncStateSet", "-a", addr, "-b", SET) == official("getSyncStateSet", "-a", addr, "-b", SET)
        ours_config, official_config = (ours("getControllerConfig", "-a", addr),
                                        official("getControllerConfig", "-a", addr))
        assert sorted(ours_config.splitlines()) == sorted(official_config.splitlines())

        by_official = official("electMaster", "-a", addr, "-c", CLUSTER, "-bn", SET, "-b", "2")
        assert f"#BrokerMasterAddr\t{brokers[1].addr}\n" in by_official and "#MasterEpoch\t2\n" in by_official
        brokers[1].call(addr, Req.CONTROLLER_ALTER_SYNC_STATE_SET, p.AlterSyncStateSetRequestHeader(SET, 2, 2),
                        p.SyncStateSet({1, 2}, 3).encode())
        by_ours = ours("electMaster", "-a", addr, "-c", CLUSTER, "-bn", SET, "-b", "1")
        # (upstream reads the body as a BrokerMemberGroup it is not, so no #Broker lines follow)
        assert by_ours == (f"\n#ClusterName\t{CLUSTER}\n#BrokerName\t{SET}\n#BrokerMasterAddr\t{brokers[0].addr}"
                           f"\n#MasterEpoch\t3\n#SyncStateSetEpoch\t5\n")
        assert by_official.replace(brokers[1].addr, "M").replace("#MasterEpoch\t2", "E").replace(
            "#SyncStateSetEpoch\t3", "S") == by_ours.replace(brokers[0].addr, "M").replace(
            "#MasterEpoch\t3", "E").replace("#SyncStateSetEpoch\t5", "S")
    finally:
        for broker in brokers:
            broker.close()
        controller.kill()
