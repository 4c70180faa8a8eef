"""docs/controller.md's standalone example, executed as written (HOME is a temp dir): a
controller on 9878 with conf/controller/controller-standalone.conf and a name server on 9876.
The controller must answer as the leader, hand out brokerId 1 and keep its log under the
preset's controllerStorePath."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerRequestCode as Req
from pocketmq.remoting.codes import RequestCode
from pocketmq.remoting.header import decode_header, encode_header
from tests.support.docs import marked_bash_block, pids_with_home
from tests.support.processes import ROOT, port_is_free, wait_until
from tests.support.rpc import call

pytestmark = [pytest.mark.timeout(180), pytest.mark.serial]  # fixed ports: see pyproject

DOC = ROOT / "docs" / "controller.md"
CONTROLLER, NAMESRV = "127.0.0.1:9878", "127.0.0.1:9876"


def _console_example() -> tuple[str, str]:
    """The ```console block: its `$ ` command and the exact output the doc shows."""
    text = DOC.read_text()
    block = re.search(r"```console\n(.*?)```", text, re.S).group(1)
    first, _, output = block.partition("\n")
    assert first.startswith("$ ")
    return first[2:], output


def _answers(addr: str, code: int) -> bool:
    try:
        return call(addr, code, timeout=2).code == 0
    except Exception:
        return False


def test_standalone_example_as_written(tmp_path: Path) -> None:
    busy = [port for port in (9876, 9878) if not port_is_free(port)]
    if busy:
        pytest.skip(f"the example's fixed ports are in use here: {busy}")
    env = dict(os.environ, HOME=str(tmp_path), POCKETMQ_VENV=str(Path(sys.executable).parent.parent))
    script = subprocess.run(["bash", "-e", "-c", marked_bash_block(DOC)], cwd=ROOT, env=env, start_new_session=True,
                            capture_output=True, text=True, timeout=30)
    try:
        assert script.returncode == 0, script.stderr
        wait_until(lambda: _answers(CONTROLLER, Req.CONTROLLER_GET_METADATA_INFO), 60, 0.3, "the controller")
        wait_until(lambda: _answers(NAMESRV, RequestCode.GET_BROKER_CLUSTER_INFO), 60, 0.3, "the name server")
        meta = decode_header(p.GetMetaDataResponseHeader, call(CONTROLLER, Req.CONTROLLER_GET_METADATA_INFO).ext_fields)
        assert (meta.isLeader, meta.controllerLeaderAddress, meta.group) == (True, CONTROLLER, "group1")
        nxt = call(CONTROLLER, Req.CONTROLLER_GET_NEXT_BROKER_ID,
                   encode_header(p.GetNextBrokerIdRequestHeader("DefaultCluster", "broker-a")))
        assert decode_header(p.GetNextBrokerIdResponseHeader, nxt.ext_fields).nextBrokerId == 1
        applied = call(CONTROLLER, Req.CONTROLLER_APPLY_BROKER_ID, encode_header(
            p.ApplyBrokerIdRequestHeader("DefaultCluster", "broker-a", 1, "127.0.0.1:30911;1")))
        assert applied.code == 0
        assert (tmp_path / "controller-store" / "n0" / "controller.log").stat().st_size > 0
        command, expected = _console_example()
        shown = subprocess.run(["bash", "-c", command], cwd=ROOT / "bin", env=env, capture_output=True, text=True,
                               timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == expected
    finally:
        for pid in pids_with_home(tmp_path):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        wait_until(lambda: not pids_with_home(tmp_path), 30, 0.2, "the example's processes to stop")
