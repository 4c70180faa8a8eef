"""docs/rocketmq5.md, executed: its Python blocks in order — the official RocketMQ 5 Python client
(rocketmq-python-client, in tests/interop/py5/.venv) sending through a real `mqproxy`, then its
SimpleConsumer receiving and acknowledging the message; then the timer messages section, a timer
message from PocketMQ's own client and one with a delivery timestamp from the 5.x client, both
received no earlier than their time — with PROXY_ENDPOINTS and NAMESRV_ADDR pointing at processes
on free ports."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from clients import py5_python
from tests.support.cluster import create_topic
from tests.support.processes import ROOT, start_broker, start_namesrv, start_proxy

DOC = (ROOT / "docs" / "rocketmq5.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)

pytestmark = pytest.mark.interop


def interpreter(code: str) -> str:
    first = code.splitlines()[0]
    if first == "# rocketmq-python-client 5.x":
        return str(py5_python())
    assert first == "# pocketmq.client", f"a python block must say which client it uses: {first!r}"
    return sys.executable


def test_doc_shows_a_producer_and_a_reader() -> None:
    assert [code.splitlines()[0] for code in BLOCKS] == ["# rocketmq-python-client 5.x"] * 2 + [
        "# pocketmq.client", "# rocketmq-python-client 5.x"]
    assert "bash mqproxy -n 127.0.0.1:9876" in DOC


def test_rocketmq5_docs_examples_run(tmp_path, interop_ready) -> None:
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "broker", ns.addr) as broker, \
            start_proxy(tmp_path / "proxy", ns.addr) as proxy:
        create_topic(broker.addr, "TopicTest", queues=4)  # the page's `mqadmin updateTopic`
        env = dict(os.environ, HOME=str(tmp_path), PROXY_ENDPOINTS=proxy.endpoint, NAMESRV_ADDR=ns.addr,
                   PYTHONPATH=str(ROOT / "src"))
        outputs = []
        for i, code in enumerate(BLOCKS):
            path = tmp_path / f"example_{i}.py"
            path.write_text(code)
            done = subprocess.run([interpreter(code), str(path)], env=env, cwd=tmp_path, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, f"example {i} failed:\n{code}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)
    [sent_id] = re.findall(r"^sent (\S+)$", outputs[0], re.M)
    assert re.search(rf"^received {sent_id} rocketmq-send-message hello, rocketmq. attempt 1$", outputs[1], re.M), \
        outputs
    # Timer messages: each received no earlier than its time, carrying it as its delivery_timestamp
    due = dict(re.findall(r"^sent (\S+) due (\d+)$", outputs[2] + outputs[3], re.M))
    received = {msg_id: (int(at), int(ts)) for msg_id, at, ts in
                re.findall(r"^received (\S+) at (\d+) due (\d+)$", outputs[3], re.M)}
    assert set(received) == set(due) and len(due) == 2, outputs[2:]
    for msg_id, (at, delivery_timestamp) in received.items():
        assert delivery_timestamp == int(due[msg_id])
        assert at >= int(due[msg_id])
