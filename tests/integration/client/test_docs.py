"""Runs every ```python block of docs/client.md, in order, against a real Apache RocketMQ 4.9
cluster (NAMESRV_ADDR set to it), each in a fresh interpreter with a time limit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "client.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(600)]


def test_doc_has_examples():
    assert len(BLOCKS) >= 7


def test_docs_examples_run(cluster, tmp_path):
    env = dict(os.environ, NAMESRV_ADDR=cluster.namesrv_addr, HOME=str(tmp_path),
               PYTHONPATH=str(ROOT / "src"))
    for i, code in enumerate(BLOCKS):
        path = tmp_path / f"example_{i}.py"
        path.write_text(code)
        proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"example {i} failed:\n{code}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
