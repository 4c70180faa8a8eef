"""Runs the examples of docs/operations.md: a name server and a broker started with the doc's
``properties`` block (metrics port swapped for a free one), then every ```console block's
commands — ``mqadmin`` through PocketMQ's own, ``curl`` as itself — checking each exits 0 and
prints the documented lines (same matching rules as the mqadmin doc test)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from pocketmq.config import parse_properties
from tests.integration.test_mqadmin_docs import matches, steps
from tests.support.processes import ROOT, free_port, start_broker, start_namesrv

DOC = ROOT / "docs" / "operations.md"
TEXT = DOC.read_text()
BLOCKS = re.findall(r"```console\n(.*?)```", TEXT, re.S)
[BROKER_CONF] = re.findall(r"```properties\n(.*?)```", TEXT, re.S)

pytestmark = pytest.mark.timeout(180)


def test_doc_has_examples():
    assert len(BLOCKS) >= 4 and sum(len(steps(b)) for b in BLOCKS) >= 9
    assert parse_properties(BROKER_CONF)["metricsExporterType"] == "PROM"


def run(command: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:  # noqa: ANN001
    if command.startswith("mqadmin "):
        return subprocess.run([sys.executable, "-m", "pocketmq.tools.mqadmin", *command.split()[1:]], env=env,
                              capture_output=True, text=True, timeout=60, cwd=cwd)
    assert command.startswith("curl "), command
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env, capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_doc_examples_run(tmp_path):
    metrics_port = free_port()
    config = parse_properties(BROKER_CONF)
    config["metricsPromExporterPort"] = str(metrics_port)
    ns = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", ns.addr, extra={"brokerClusterName": "DefaultCluster", **config})
    env = dict(os.environ, NAMESRV_ADDR=ns.addr)
    try:
        for block in BLOCKS:
            for command, expected in steps(block):
                command = command.replace("<broker-addr>", broker.addr).replace(
                    "127.0.0.1:5557", f"127.0.0.1:{metrics_port}")
                expected = [line.replace("<broker-addr>", broker.addr) for line in expected]
                deadline = time.monotonic() + 10  # a new topic reaches the name server a moment later
                while True:
                    cp = run(command, env, tmp_path)
                    if (cp.returncode == 0 and matches(expected, cp.stdout)) or time.monotonic() > deadline:
                        break
                    time.sleep(0.3)
                assert cp.returncode == 0, f"{command}\n{cp.stdout}\n{cp.stderr}"
                assert matches(expected, cp.stdout), f"{command}\n--- expected\n" + "\n".join(expected) + \
                    f"\n--- got\n{cp.stdout}"
    finally:
        broker.kill()
        ns.kill()
