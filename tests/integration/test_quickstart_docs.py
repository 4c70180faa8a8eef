"""docs/quickstart.md, executed as written: its bash blocks in order (from a copy of bin/ so the
processes' files land in the test's folder) and its Python block against the running broker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, port_is_free, wait_until

pytestmark = pytest.mark.serial  # fixed ports: see pyproject

DOC = (ROOT / "docs" / "quickstart.md").read_text()
BLOCKS = re.findall(r"```(bash|python)\n(.*?)```", DOC, re.S)
PORTS = (9876, 10909, 10911, 10912)


def test_quickstart_runs_as_written(tmp_path):
    busy = [port for port in PORTS if not port_is_free(port)]
    if busy:
        pytest.skip(f"the quick start's default ports are in use here: {busy}")
    work = tmp_path / "dist"
    shutil.copytree(ROOT / "bin", work / "bin")
    env = dict(os.environ, HOME=str(tmp_path), POCKETMQ_VENV=str(ROOT / ".venv" if (ROOT / ".venv").exists()
                                                                 else sys.prefix),
               PYTHONPATH=str(ROOT / "src"))
    env.pop("NAMESRV_ADDR", None)
    outputs = []
    try:
        for kind, code in BLOCKS:
            if kind == "bash":
                done = subprocess.run(["bash", "-e", "-c", code], cwd=work, env=env, capture_output=True,
                                      text=True, timeout=120)
            else:
                done = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True,
                                      text=True, timeout=120)
            assert done.returncode == 0, f"{kind} block failed:\n{code}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)
        started, mqadmin, python, stopped = outputs
        assert "The Name Server boot success. serializeType=JSON" in started
        assert "boot success. serializeType=JSON and name server is 127.0.0.1:9876" in started
        assert "create topic to 127.0.0.1:10911 success." in mqadmin
        [sent_id] = re.findall(r"SEND_OK\s+([0-9A-F]{32})", mqadmin)
        assert re.search(rf"^{sent_id}\s+\d+\s+0$", mqadmin, re.M), "queryMsgByKey lists the message sent"
        assert re.search(r"^DefaultCluster\s+\S+\s+0\s+127\.0\.0\.1:10911\s+V4_9_8", mqadmin, re.M)
        assert "SEND_OK" in python and "from python" in python
        assert "Send shutdown request to mqbroker" in stopped and "Send shutdown request to mqnamesrv" in stopped
        wait_until(lambda: all(port_is_free(port) for port in PORTS), 30, 0.2, "the servers to stop")
    finally:
        subprocess.run(["bash", "mqshutdown", "broker"], cwd=work / "bin", env=env, capture_output=True, timeout=60)
        subprocess.run(["bash", "mqshutdown", "namesrv"], cwd=work / "bin", env=env, capture_output=True, timeout=60)
