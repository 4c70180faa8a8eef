"""`mqshutdown namesrv|broker` stops every local PocketMQ server with SIGTERM, as upstream's
script does. (It stops all of them: this module starts its own and nothing else runs beside it.)"""

from __future__ import annotations

import subprocess

import pytest

from tests.support.processes import BIN, start_broker, start_namesrv

pytestmark = pytest.mark.serial  # stops every local server: see pyproject


def mqshutdown(kind: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(BIN / "mqshutdown"), kind], capture_output=True, text=True, timeout=60)


def test_mqshutdown_stops_broker_then_namesrv_cleanly(tmp_path):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "b", namesrv.addr)
    try:
        stopped = mqshutdown("broker")
        assert stopped.returncode == 0
        assert f"The mqbroker({broker.proc.pid}) is running..." in stopped.stdout
        assert f"Send shutdown request to mqbroker({broker.proc.pid}) OK" in stopped.stdout
        assert broker.proc.wait(30) == 0
        assert "shutdown" in (tmp_path / "b" / "logs" / "rocketmqlogs" / "broker.log").read_text()
        assert mqshutdown("namesrv").returncode == 0
        assert namesrv.proc.wait(30) == 0
        nothing = mqshutdown("namesrv")
        assert (nothing.returncode, nothing.stdout.strip()) == (255, "No mqnamesrv running.")
        usage = mqshutdown("everything")
        assert usage.returncode != 0 and "mqshutdown broker | namesrv" in usage.stdout
    finally:
        broker.kill()
        namesrv.kill()
