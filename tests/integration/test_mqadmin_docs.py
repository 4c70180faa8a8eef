"""Runs every ```console block of docs/mqadmin.md against a fresh PocketMQ name server and broker
(NAMESRV_ADDR set) and checks each command exits 0 and prints the documented lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.support.processes import ROOT, start_broker, start_namesrv

DOC = ROOT / "docs" / "mqadmin.md"
BLOCKS = re.findall(r"```console\n(.*?)```", DOC.read_text(), re.S)

pytestmark = pytest.mark.timeout(180)


def steps(block: str) -> list[tuple[str, list[str]]]:
    result: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            result.append((line[2:], []))
        elif result and line.strip():
            result[-1][1].append(line)
    return result


def squash(text: str) -> str:
    return " ".join(text.split())


def matches(expected: list[str], actual: str) -> bool:
    """The expected lines appear in order (other lines may come between); 'x ...' matches any line
    starting with x; '...' alone stands for lines the doc leaves out."""
    lines = [squash(line) for line in actual.splitlines()]
    i = 0
    for want in expected:
        want = squash(want)
        if want == "...":
            continue
        prefix = want.endswith("...")
        want = want[:-3].rstrip() if prefix else want
        while i < len(lines) and not (lines[i].startswith(want) if prefix else lines[i] == want):
            i += 1
        if i == len(lines):
            return False
        i += 1
    return True


def test_doc_has_examples():
    assert len(BLOCKS) >= 4 and sum(len(steps(b)) for b in BLOCKS) >= 10


def test_doc_examples_run(tmp_path):
    ns = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", ns.addr)
    env = dict(os.environ, NAMESRV_ADDR=ns.addr)
    try:
        for block in BLOCKS:
            for command, expected in steps(block):
                command = command.replace("<broker-addr>", broker.addr)
                expected = [line.replace("<broker-addr>", broker.addr) for line in expected]
                argv = command.split()
                assert argv[0] == "mqadmin"
                deadline = time.monotonic() + 10  # a new topic reaches the name server a moment later
                while True:
                    cp = subprocess.run([sys.executable, "-m", "pocketmq.tools.mqadmin", *argv[1:]], env=env,
                                        capture_output=True, text=True, timeout=60, cwd=tmp_path)
                    if cp.returncode == 0 or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert cp.returncode == 0, f"{command}\n{cp.stdout}\n{cp.stderr}"
                assert matches(expected, cp.stdout), f"{command}\n--- expected\n" + "\n".join(expected) + \
                    f"\n--- got\n{cp.stdout}"
    finally:
        broker.kill()
        ns.kill()
