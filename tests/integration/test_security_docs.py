"""docs/security.md's examples, executed as written (the test's ports in place of 9876 and
10911): its plain_acl.yml loaded by a real broker with aclEnable=true, the Python client
example, the refusal remark, tools.yml for mqadmin and the mqadmin command line, and the TLS
broker properties (the test's certificate folder in place of /etc/rocketmq/) with the TLS
client example."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pocketmq.client import AsyncProducer, Message, MQClientError, SessionCredentials
from pocketmq.tools import mqadmin
from tests.support.acl import write_acl
from tests.support.processes import ROOT, start_broker, start_namesrv
from tests.support.tls import make_cert

pytestmark = [pytest.mark.timeout(180), pytest.mark.serial]  # fixed ports: see pyproject

DOC = ROOT / "docs" / "security.md"


def block(name: str) -> str:
    text = DOC.read_text()
    start = text.index(f"<!-- tested: {name} -->")
    return re.search(r"```[a-z]*\n(.*?)```", text[start:], re.S).group(1)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("security-docs")
    home = root / "broker"
    write_acl(home, block("plain_acl.yml"))
    with start_namesrv(root / "ns") as ns, \
            start_broker(home, ns.addr, extra={"aclEnable": "true", "rocketmqHome": home}) as broker:
        yield ns, broker, root


def as_here(text: str, ns: str, broker: str) -> str:
    return text.replace("127.0.0.1:9876", ns).replace("127.0.0.1:10911", broker)


def test_python_example(secured) -> None:
    ns, broker, _ = secured
    script = as_here(block("python client"), ns.addr, broker.addr)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "SendStatus.SEND_OK"


def test_refusal_remark_as_shown(secured) -> None:
    ns, _, _ = secured

    async def send() -> None:
        credentials = SessionCredentials("orders-app", "orders-app-secret")
        async with AsyncProducer("PID_orders", ns.addr, credentials=credentials, retry_times=0) as producer:
            await producer.send(Message("payments", b"x"))

    with pytest.raises(MQClientError) as info:
        asyncio.run(send())
    assert block("refusal").strip() in str(info.value)


def test_mqadmin_with_tools_yml_and_with_flags(secured) -> None:
    ns, broker, root = secured
    tools_home = root / "tools-home"
    (tools_home / "conf").mkdir(parents=True)
    (tools_home / "conf" / "tools.yml").write_text(block("tools.yml"))
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ["ROCKETMQ_HOME"] = str(tools_home)
    try:
        rc = mqadmin.run(["updateTopic", "-b", broker.addr, "-t", "orders"], out, err)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert rc == 0 and "success" in out.getvalue(), err.getvalue()
    env = dict(os.environ, POCKETMQ_VENV=str(Path(sys.executable).parent.parent), ROCKETMQ_HOME=str(root / "none"))
    run = subprocess.run(["bash", "-e", "-c", as_here(block("mqadmin"), ns.addr, broker.addr)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "success" in run.stdout, run.stdout + run.stderr


def test_tls_examples(tmp_path) -> None:
    cert, key = make_cert(tmp_path / "certs")
    properties = block("tls broker").replace("/etc/rocketmq/", f"{tmp_path / 'certs'}/")
    conf = tmp_path / "broker-tls.properties"
    conf.write_text(properties)
    ns_conf = tmp_path / "namesrv-tls.properties"
    ns_conf.write_text("".join(line + "\n" for line in properties.splitlines() if line.startswith("tls.server")))
    with start_namesrv(tmp_path / "ns", extra=["-c", str(ns_conf)]) as ns, \
            start_broker(tmp_path / "broker", ns.addr, config_file=conf):
        script = block("tls client").replace("127.0.0.1:9876", ns.addr)
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "SendStatus.SEND_OK"
