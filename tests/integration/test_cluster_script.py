"""`make cluster` (scripts/cluster.sh run): one step starts two name servers, a preset and the web
console with every store and log under one folder, shows clusterList and the console's URL, and
Ctrl-C stops everything cleanly."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request

import pytest

from tests.support.processes import (
    CONTROLLER_PRESET_PORTS, ROOT, port_is_free, ports_kept_from_outgoing_connections,
)

pytestmark = pytest.mark.serial  # fixed ports: see pyproject

PORTS = (9876, 9877, 10909, 10911, 10912, 10919, 10921, 10922, 10929, 10931, 10932, 8082)


def test_cluster_script_runs_2m_noslave_and_stops_on_ctrl_c(tmp_path):
    busy = [port for port in PORTS if not port_is_free(port)]
    if busy:
        pytest.skip(f"the preset's fixed ports are in use here: {busy}")
    # As in a terminal: SIGINT at its default. A suite started in the background of a
    # non-interactive shell inherits it ignored, and bash cannot trap a signal ignored at entry.
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "cluster.sh"), "run", "--preset", "2m-noslave",
                             "--dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        assert "Press Ctrl-C" in output, output
        rows = [line.split() for line in lines if line.startswith("DefaultCluster")]
        assert sorted((row[1], row[2]) for row in rows) == [
            ("broker-a", "0"), ("broker-b", "0"), ("broker-trace", "0")], output
        assert (tmp_path / "store" / "broker-a").is_dir() and (tmp_path / "store" / "broker-b").is_dir()
        assert "Web console: http://127.0.0.1:8082/" in output
        page = urllib.request.urlopen("http://127.0.0.1:8082/", timeout=30).read().decode()
        assert "broker-a" in page and "broker-b" in page
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
        assert "PocketMQ cluster stopped" in rest
        for name in ("broker-a", "broker-b", "broker-trace"):
            log = (tmp_path / name / "logs" / "rocketmqlogs" / "broker.log").read_text()
            assert f"The broker[{name}," in log and "shutdown" in log
        assert all(port_is_free(port) for port in PORTS)
    finally:
        if proc.poll() is None:
            proc.kill()
            subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), "stop", "--dir", str(tmp_path)], timeout=60)


@pytest.mark.parametrize("store, controllers", [("file", ("127.0.0.1:9878",)),
                                                 ("etcd", ("127.0.0.1:9878", "127.0.0.1:9879"))])
def test_cluster_script_starts_the_controller_preset(tmp_path, store, controllers):
    """`make cluster PRESET=controller`: the controller(s) start before the brokers; with
    CONTROLLER_STORE=etcd an etcd too, and both controllers see the same state."""
    import os

    from pocketmq.protocol import controller as p
    from pocketmq.protocol.controller import ControllerRequestCode as Req
    from pocketmq.remoting.header import decode_header, encode_header
    from tests.support.rpc import call

    busy = [port for port in (9876, 9877, 9878, 9879, 2379, 2380) if not port_is_free(port)]
    if busy:
        pytest.skip(f"the preset's fixed ports are in use here: {busy}")
    env = dict(os.environ, CONSOLE_PORT="0", CONTROLLER_STORE=store)
    script = ["bash", str(ROOT / "scripts" / "cluster.sh")]
    with ports_kept_from_outgoing_connections(CONTROLLER_PRESET_PORTS):  # until the brokers have bound
        started = subprocess.run([*script, "start", "--preset", "controller", "--dir", str(tmp_path)], env=env,
                                 capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        for controller in controllers:
            meta = decode_header(p.GetMetaDataResponseHeader, call(controller, Req.CONTROLLER_GET_METADATA_INFO).ext_fields)
            assert meta.isLeader and meta.controllerLeaderAddress == controller
        applied = call(controllers[0], Req.CONTROLLER_APPLY_BROKER_ID, encode_header(
            p.ApplyBrokerIdRequestHeader("DefaultCluster", "broker-z", 1, "127.0.0.1:1;1")))
        assert applied.code == 0
        nxt = call(controllers[-1], Req.CONTROLLER_GET_NEXT_BROKER_ID,
                   encode_header(p.GetNextBrokerIdRequestHeader("DefaultCluster", "broker-z")))
        assert decode_header(p.GetNextBrokerIdResponseHeader, nxt.ext_fields).nextBrokerId == 2
    finally:
        stopped = subprocess.run([*script, "stop", "--dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0, stopped.stderr
