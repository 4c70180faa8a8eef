"""docs/rocketmq5-tls-acl.md, executed: `mqproxy` started with the page's TLS properties (a
throwaway certificate in place of /path/to/) and plain_acl.yml, the page's topic created, and its
Python block run with the official RocketMQ 5 Python client (TLS, credentials, namespace)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from clients import py5_python
from tests.support.acl import write_acl
from tests.support.cluster import create_topic, pull_all
from tests.support.processes import ROOT, start_broker, start_namesrv, start_proxy
from tests.support.tls import make_cert

DOC = (ROOT / "docs" / "rocketmq5-tls-acl.md").read_text()

pytestmark = pytest.mark.interop


def block(language: str) -> str:
    [text] = re.findall(rf"```{language}\n(.*?)```", DOC, re.S)
    return text


def test_rocketmq5_tls_acl_docs_example_runs(tmp_path, interop_ready) -> None:
    cert, key = make_cert(tmp_path / "tls")
    properties = block("properties").replace("/path/to/", f"{tmp_path / 'tls'}/")
    extra = dict(line.split("=", 1) for line in properties.splitlines() if line.strip())
    write_acl(tmp_path / "proxy", block("yaml"))
    [topic] = re.findall(r"mqadmin updateTopic .* -t (\S+)", block("bash"))
    extra.update({"enableACL": "true", "rocketmqHome": str(tmp_path / "proxy")})
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "broker", ns.addr) as broker, \
            start_proxy(tmp_path / "proxy", ns.addr, extra=extra) as proxy:
        create_topic(broker.addr, topic, queues=2)
        path = tmp_path / "example.py"
        path.write_text(block("python"))
        env = dict(os.environ, HOME=str(tmp_path), PROXY_ENDPOINTS=proxy.endpoint,
                   GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(cert))
        done = subprocess.run([str(py5_python()), str(path)], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        [sent_id] = re.findall(r"^sent (\S+)$", done.stdout, re.M)
        stored = {m.properties["UNIQ_KEY"]: m.body for q in range(2) for m in pull_all(broker.addr, topic, q)}
        assert stored == {sent_id: b"hello over TLS"}
