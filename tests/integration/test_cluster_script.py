"""`make cluster` (scripts/cluster.sh run): one step starts two name servers, a preset and the web
console with every store and log under one folder, shows clusterList and the console's URL, and
Ctrl-C stops everything cleanly."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request

import pytest

from tests.support.processes import ROOT, port_is_free

PORTS = (9876, 9877, 10909, 10911, 10912, 10919, 10921, 10922, 10929, 10931, 10932, 8082)


def test_cluster_script_runs_2m_noslave_and_stops_on_ctrl_c(tmp_path):
    busy = [port for port in PORTS if not port_is_free(port)]
    if busy:
        pytest.skip(f"the preset's fixed ports are in use here: {busy}")
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "cluster.sh"), "run", "--preset", "2m-noslave",
                             "--dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
