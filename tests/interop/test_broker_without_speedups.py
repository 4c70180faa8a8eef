"""The C extension is optional at install: a broker process that cannot import it runs on the
pure-Python twins, and the official Java client's sends, keys, tags, properties and push
consumption behave the same against it. The broker's own memory map shows which code it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients import messages, run_java_driver, sends  # type: ignore[import-not-found]
from tests.support.processes import start_broker, start_namesrv

pytestmark = pytest.mark.interop

# Loaded by the interpreter at start-up (site imports sitecustomize from sys.path).
BLOCK_EXTENSION = 'import sys\nsys.modules["pocketmq._speedups"] = None  # its import now fails\n'


def maps_extension(pid: int) -> bool:
    return "_speedups" in Path(f"/proc/{pid}/maps").read_text()


def test_java_client_against_a_broker_without_the_extension(tmp_path, unique, interop_ready):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCK_EXTENSION)
    namesrv = start_namesrv(tmp_path / "ns")
    plain = start_broker(tmp_path / "plain", namesrv.addr, env={"PYTHONPATH": str(blocker)})
    try:
        assert not maps_extension(plain.proc.pid)
        topic = unique("T")
        results = sends(run_java_driver(["produce", "--topic", topic, "--count", "10", "--tags", "TagA",
                                         "--prop", "color=blue-{i}"], namesrv=namesrv.addr))
        assert [r["status"] for r in results] == ["SEND_OK"] * 10
        received = messages(run_java_driver(["push-consume", "--topic", topic, "--count", "10",
                                             "--group", unique("G"), "--timeout", "60"], namesrv=namesrv.addr))
        assert sorted(m["body"] for m in received) == sorted(f"body-{i}" for i in range(10))
        for m in received:
            i = m["body"].split("-")[1]
            assert (m["keys"], m["tags"], m["properties"]["color"]) == (f"key-{i}", "TagA", f"blue-{i}")
    finally:
        plain.kill()
        namesrv.kill()


def test_a_broker_started_as_usual_runs_the_extension(tmp_path, interop_ready):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr)
    try:
        assert maps_extension(broker.proc.pid)
    finally:
        broker.kill()
        namesrv.kill()
