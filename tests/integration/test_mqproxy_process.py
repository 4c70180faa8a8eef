"""`mqproxy` as a process: -p prints its keys with upstream's names and defaults, a bad setup
(no name server, a taken port) exits non-zero with its reason, `mqshutdown proxy` stops it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import BIN, free_port, start_namesrv, start_proxy


def run(args: list[str], tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(tmp_path), NAMESRV_ADDR="", POCKETMQ_VENV=str(Path(sys.executable).parent.parent))
    return subprocess.run(["bash", *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)


def test_print_config_shows_upstream_keys(tmp_path) -> None:
    done = run([str(BIN / "mqproxy"), "-p"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = set(done.stdout.splitlines())
    assert {"grpcServerPort=8081", "proxyMode=cluster", "maxMessageSize=4194304", "useDelayLevel=false"} <= lines


def test_no_name_server_is_refused(tmp_path) -> None:
    done = run([str(BIN / "mqproxy")], tmp_path)
    assert done.returncode == 1
    assert "namesrvAddr" in done.stderr


def test_a_taken_port_fails_the_start_with_its_reason(tmp_path) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", port))
        holder.listen()
        done = run([str(BIN / "mqproxy"), "-n", "127.0.0.1:9", f"--grpcServerPort={port}"], tmp_path)
    assert done.returncode == 1
    assert f"cannot bind gRPC port 0.0.0.0:{port}" in done.stderr


@pytest.mark.serial  # stops every local mqproxy: see pyproject
def test_mqshutdown_proxy_stops_it(tmp_path) -> None:
    with start_namesrv(tmp_path / "ns") as ns, start_proxy(tmp_path / "proxy", ns.addr) as proxy:
        done = run([str(BIN / "mqshutdown"), "proxy"], tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"Send shutdown request to mqproxy({proxy.proc.pid}) OK" in done.stdout
        assert proxy.proc.wait(15) == 0
