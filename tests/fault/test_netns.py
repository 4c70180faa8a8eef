"""Multi-host replication: a SYNC_MASTER (with the name server) and its slave on distinct
addresses in two network namespaces made here, joined by a veth pair (10.x addresses exist
only inside these namespaces). Cutting the link must never produce SEND_OK for data the
slave has not acknowledged (FLUSH_SLAVE_TIMEOUT while the master still counts the slave,
SLAVE_NOT_AVAILABLE once housekeeping drops it); healing it resumes replication, and the
slave's commit log is again identical to the master's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
import uuid
from pathlib import Path

import pytest

from pocketmq.remoting.codes import ResponseCode
from tests.support.cluster import FAST_HA, commit_log_bytes
from tests.support.processes import BIN, ServerProcess, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(150)]

PROBE = Path(__file__).with_name("netns_probe.py")
PORT = 10911
TIMERS = {"slaveTimeout": 1000, "haHousekeepingInterval": 4000, "haSendHeartbeatInterval": 1000}


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class Net:
    """Two namespaces A and B with a veth pair between them."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.a, self.b = f"pmq{tag}a", f"pmq{tag}b"
        self.va, self.vb = f"pmq{tag}x", f"pmq{tag}y"
        subnet = os.getpid() % 200 + 20
        self.ip_a, self.ip_b = f"10.{subnet}.7.1", f"10.{subnet}.7.2"

    def up(self) -> None:
        _ip("netns", "add", self.a)
        _ip("netns", "add", self.b)
        _ip("link", "add", self.va, "type", "veth", "peer", "name", self.vb)
        _ip("link", "set", self.va, "netns", self.a)
        _ip("link", "set", self.vb, "netns", self.b)
        for ns, dev, addr in ((self.a, self.va, self.ip_a), (self.b, self.vb, self.ip_b)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def cut(self) -> None:
        _ip("-n", self.b, "link", "set", self.vb, "down")

    def heal(self) -> None:
        _ip("-n", self.b, "link", "set", self.vb, "up")

    def down(self) -> None:
        for ns in (self.a, self.b):
            _ip("netns", "del", ns, check=False)


@pytest.fixture
def net():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    probe = Net()
    try:
        probe.up()
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        probe.down()
        detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else exc
        pytest.skip(f"the kernel refuses network namespaces / veth pairs here: {detail}")
    yield probe
    probe.down()


def _in_ns(ns: str, args: list[str], home: Path, ready: str) -> ServerProcess:
    proc = ServerProcess(["ip", "netns", "exec", ns, *args], home, ready)
    proc.wait_ready(60)
    return proc


def _broker(ns: str, home: Path, ip: str, namesrv: str, role: str, broker_id: int) -> ServerProcess:
    values = {**FAST_HA, **TIMERS, "brokerIP1": ip, "brokerName": "broker-a", "brokerId": broker_id,
              "brokerRole": role, "listenPort": PORT, "storePathRootDir": home / "store"}
    args = ["bash", str(BIN / "mqbroker"), "-n", namesrv, *[f"--{k}={v}" for k, v in values.items()]]
    return _in_ns(ns, args, home, "boot success")


def _probe(ns: str, *args: object) -> object:
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, str(PROBE), *map(str, args)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_cut_and_heal_master_slave_link(tmp_path: Path, net: Net) -> None:
    procs: list[ServerProcess] = []
    try:
        namesrv = f"{net.ip_a}:9876"
        procs.append(_in_ns(net.a, ["bash", str(BIN / "mqnamesrv"), "--listenPort=9876"], tmp_path / "ns",
                            "The Name Server boot success"))
        procs.append(_broker(net.a, tmp_path / "master", net.ip_a, namesrv, "SYNC_MASTER", 0))
        procs.append(_broker(net.b, tmp_path / "slave", net.ip_b, namesrv, "SLAVE", 1))
        master, slave = f"{net.ip_a}:{PORT}", f"{net.ip_b}:{PORT}"

        _probe(net.a, "create", master, "NetT")
        codes = _probe(net.a, "send-until", master, "NetT", ResponseCode.SUCCESS, 30)
        assert codes[-1] == ResponseCode.SUCCESS, codes
        assert _probe(net.a, "send", master, "NetT", 20) == [ResponseCode.SUCCESS] * 20

        net.cut()
        cut_codes = _probe(net.a, "send-until", master, "NetT", ResponseCode.SLAVE_NOT_AVAILABLE, 30)
        assert ResponseCode.SUCCESS not in cut_codes, cut_codes
        assert cut_codes[0] == ResponseCode.FLUSH_SLAVE_TIMEOUT, cut_codes
        assert cut_codes[-1] == ResponseCode.SLAVE_NOT_AVAILABLE, cut_codes
        assert set(cut_codes) <= {ResponseCode.FLUSH_SLAVE_TIMEOUT, ResponseCode.SLAVE_NOT_AVAILABLE}

        net.heal()
        healed = _probe(net.a, "send-until", master, "NetT", ResponseCode.SUCCESS, 40)
        assert healed[-1] == ResponseCode.SUCCESS, healed

        def caught_up() -> int | None:
            end = _probe(net.a, "maxoffset", master)
            return end if _probe(net.b, "maxoffset", slave) == end else None

        end = wait_until(caught_up, 30, 0.5, "the slave to catch up after the heal")
        master_store = types.SimpleNamespace(store_root=tmp_path / "master" / "store")
        slave_store = types.SimpleNamespace(store_root=tmp_path / "slave" / "store")
        assert commit_log_bytes(slave_store, end) == commit_log_bytes(master_store, end)
    finally:
        for proc in reversed(procs):
            proc.kill()
