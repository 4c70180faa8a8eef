"""docs/failover.md's one-host example, executed as written: a name server hosting the controller
and the three brokers of conf/controller/ with their shipped ports and stores (HOME is a temp
dir). One broker must become master (BID 0 in clusterList), the others slaves; after `kill -9`
of the master a slave is listed with BID 0 and takes sends; the old master, started again with
the same command, rejoins as a slave."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_replication_docs import cluster_table
from tests.support.cluster import create_topic, runtime_info, send_raw
from tests.support.docs import pids_with_home
from tests.support.processes import (
    CONTROLLER_PRESET_PORTS, ROOT, port_is_free, ports_kept_from_outgoing_connections, wait_until,
)

pytestmark = [pytest.mark.timeout(240), pytest.mark.serial]  # fixed ports: see pyproject

DOC = ROOT / "docs" / "failover.md"
NAMESRV = "127.0.0.1:9876"
BROKER_PORTS = {"broker-n0": 30911, "broker-n1": 31911, "broker-n2": 32911}
PORTS = [9876, 9878] + [p + d for p in BROKER_PORTS.values() for d in (-2, 0, 1)]


def _tested_block() -> str:
    text = DOC.read_text()
    marker = text.index("<!-- tested:")
    return re.search(r"```bash\n(.*?)```", text[marker:], re.S).group(1)


def _broker_pid(home: Path, name: str) -> int | None:
    for pid in pids_with_home(home):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if f"{name}.properties".encode() in cmdline and b"python" in cmdline:
            return pid
    return None


def _master() -> str | None:
    try:
        return cluster_table(NAMESRV).get("broker-a", {}).get("0")
    except Exception:  # noqa: BLE001 - the name server is starting
        return None


def _safe_info(addr: str) -> dict[str, str]:
    try:
        return runtime_info(addr, timeout=2.0)
    except Exception:  # noqa: BLE001
        return {}


def test_failover_example_as_written(tmp_path: Path) -> None:
    busy = [p for p in PORTS if not port_is_free(p)]
    if busy:
        pytest.skip(f"the preset's fixed ports are in use here: {busy}")
    env = dict(os.environ, HOME=str(tmp_path), POCKETMQ_VENV=str(Path(sys.executable).parent.parent))
    env.pop("NAMESRV_ADDR", None)
    block = _tested_block()
    with ports_kept_from_outgoing_connections(CONTROLLER_PRESET_PORTS):
        _run_the_example(tmp_path, env, block)


def _run_the_example(tmp_path: Path, env: dict[str, str], block: str) -> None:
    script = subprocess.run(["bash", "-e", "-c", block], cwd=ROOT, env=env, start_new_session=True,
                            capture_output=True, text=True, timeout=30)
    try:
        assert script.returncode == 0, script.stderr
        wait_until(lambda: len(cluster_table(NAMESRV).get("broker-a", {})) == 3 if _master() else False, 120, 0.5,
                   "clusterList to show broker-a three times, one with BID 0")
        master = _master()
        assert master is not None and master.endswith(tuple(f":{p}" for p in BROKER_PORTS.values()))
        wait_until(lambda: _safe_info(master).get("syncStateSet", "").count(",") == 2, 60, 0.5,
                   "the master's SyncStateSet to hold all three brokers")
        brokers = [a for a in cluster_table(NAMESRV)["broker-a"].values()]
        for addr in brokers:
            create_topic(addr, "FailoverDoc")
        assert send_raw(master, "FailoverDoc", b"before").code == 0
        name = next(n for n, p in BROKER_PORTS.items() if master.endswith(f":{p}"))
        pid = _broker_pid(tmp_path, name)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        new_master = wait_until(lambda: (lambda a: a if a and a != master else None)(_master()), 60, 0.2,
                                "a slave to be listed with BID 0")
        wait_until(lambda: send_raw(new_master, "FailoverDoc", b"after").code == 0, 30, 0.2,
                   "the new master to take a send")
        # The old master, started again with the example's own command, rejoins as a slave.
        line = next(l for l in block.splitlines() if f"{name}.properties" in l)
        subprocess.run(["bash", "-e", "-c", f"cd bin\n{line}"], cwd=ROOT, env=env, start_new_session=True,
                       check=True, timeout=30)
        ha_port = int(new_master.rsplit(":", 1)[1]) + 1
        wait_until(lambda: _safe_info(master).get("haMasterAddress", "").endswith(f":{ha_port}"), 90, 0.5,
                   "the old master to follow the new one")
        assert _master() == new_master
    finally:
        for proc_pid in pids_with_home(tmp_path):
            try:
                os.kill(proc_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        wait_until(lambda: not pids_with_home(tmp_path), 60, 0.2, "the example's processes to stop")
