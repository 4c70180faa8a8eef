"""The official RocketMQ 5 clients — Python (rocketmq-python-client 5.1.2) and Java
(rocketmq-client-java 5.0.7) — against `mqproxy` with a certificate and ``enableACL=true``:
TLS (what Java and Go do by default) and plaintext on the same port, calls signed with the
clients' own credentials (SessionCredentialsProvider / Credentials) and verified against
plain_acl.yml, refusals the clients report, and namespaces. Local mode (`mqbroker --enable-proxy`)
takes the broker's own TLS keys and plain_acl.yml."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from clients import messages, run_java5_driver, run_py5_driver, sends
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.security.credentials import SessionCredentials
from tests.support.acl import signed_call, write_acl
from tests.support.cluster import create_topic, pull_all
from tests.support.processes import free_port, start_broker, start_namesrv, start_proxy
from tests.support.tls import make_cert, tls_args

pytestmark = pytest.mark.interop

AK, SK = "rocketmq2", "12345678"
ADMIN = SessionCredentials("adminKey1", "adminSecret1")
ACL_YML = """\
accounts:
  - accessKey: adminKey1
    secretKey: adminSecret1
    admin: true
  - accessKey: rocketmq2
    secretKey: "12345678"
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - SecTopicPy=PUB|SUB
      - SecTopicJava=PUB|SUB
      - ns1%SecTopicNs=PUB|SUB
"""
CREDS = ["--access-key", AK, "--secret-key", SK]


class Env:
    def __init__(self, broker: str, endpoint: str, cert: Path) -> None:
        self.broker, self.endpoint, self.cert = broker, endpoint, cert


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, interop_ready: None) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("sec5")
    cert, key = make_cert(tmp / "tls")
    write_acl(tmp / "proxy", ACL_YML)
    extra = {**tls_args("permissive", cert, key), "enableACL": "true", "rocketmqHome": tmp / "proxy"}
    with start_namesrv(tmp / "ns") as ns, start_broker(tmp / "broker", ns.addr) as broker, \
            start_proxy(tmp / "proxy", ns.addr, extra=extra) as proxy:
        for topic in ("SecTopicPy", "SecTopicJava", "ns1%SecTopicNs", "SecDenied"):
            create_topic(broker.addr, topic, queues=2)
        yield Env(broker.addr, proxy.endpoint, cert)


def stored(broker: str, topic: str) -> dict[str, str]:
    return {m.properties["UNIQ_KEY"]: m.body.decode() for q in range(2) for m in pull_all(broker, topic, q)}


def test_python5_over_tls_and_plaintext_on_one_port_with_credentials(env: Env, unique) -> None:
    over_tls = sends(run_py5_driver(["produce", "--topic", "SecTopicPy", "--count", 3, "--body", "tls", "--tls",
                                     *CREDS], endpoints=env.endpoint, trust=env.cert))
    plain = sends(run_py5_driver(["produce", "--topic", "SecTopicPy", "--count", 3, "--body", "plain", *CREDS],
                                 endpoints=env.endpoint))
    assert len(over_tls) == 3 and len(plain) == 3
    sent = {e["msgId"]: e["body"] for e in over_tls + plain}
    assert stored(env.broker, "SecTopicPy") == sent
    consumed = run_py5_driver(["simple-consume", "--topic", "SecTopicPy", "--group", unique("G"), "--count", 6,
                               "--timeout", 60, "--tls", *CREDS], endpoints=env.endpoint, trust=env.cert,
                              timeout=120)
    assert consumed[-1]["event"] == "done", consumed[-1]
    assert {m["msgId"]: m["body"] for m in messages(consumed, None)} == sent


def test_java5_over_tls_by_default_and_plaintext_on_one_port_with_credentials(env: Env, unique) -> None:
    over_tls = sends(run_java5_driver(["produce", "--topic", "SecTopicJava", "--count", 3, "--body", "tls",
                                       "--tls", "true", *CREDS], endpoints=env.endpoint))
    plain = sends(run_java5_driver(["produce", "--topic", "SecTopicJava", "--count", 3, "--body", "plain",
                                    "--tls", "false", *CREDS], endpoints=env.endpoint))
    assert len(over_tls) == 3 and len(plain) == 3
    sent = {e["msgId"]: e["body"] for e in over_tls + plain}
    assert stored(env.broker, "SecTopicJava") == sent
    consumed = run_java5_driver(["simple-consume", "--topic", "SecTopicJava", "--group", unique("G"), "--count", 6,
                                 "--timeout", 60, "--tls", "true", *CREDS], endpoints=env.endpoint, timeout=120)
    assert consumed[-1]["event"] == "done", consumed[-1]
    assert {m["msgId"]: m["body"] for m in messages(consumed, None)} == sent


@pytest.mark.parametrize("creds", [
    ["--access-key", AK, "--secret-key", "wrong-secret"],
    ["--access-key", "nobody-here", "--secret-key", SK],
    [],
], ids=["bad-signature", "unknown-access-key", "no-credentials"])
def test_python5_with_bad_credentials_is_refused(env: Env, creds) -> None:
    # rocketmq-python-client 5.1.2 reports only that its route lookup failed (the proxy's reason,
    # UNAUTHORIZED with upstream's text, is checked in tests/integration/test_proxy_security.py)
    events = run_py5_driver(["produce", "--topic", "SecTopicPy", "--body", "refused", "--tls", *creds],
                            endpoints=env.endpoint, trust=env.cert, check=False)
    assert events[-1]["event"] == "error", events
    assert "failed to fetch topic:SecTopicPy route" in events[-1]["error"]
    assert "refused" not in stored(env.broker, "SecTopicPy").values()


def test_java5_refusals_name_the_reason(env: Env) -> None:
    wrong = run_java5_driver(["produce", "--topic", "SecTopicJava", "--tls", "true", "--access-key", AK,
                              "--secret-key", "wrong-secret"], endpoints=env.endpoint, check=False)
    assert wrong[-1]["event"] == "error" and "Check signature failed" in wrong[-1]["error"], wrong
    denied = run_java5_driver(["produce", "--topic", "SecDenied", "--tls", "true", *CREDS],
                              endpoints=env.endpoint, check=False)
    assert denied[-1]["event"] == "error" and "No default permission for topic:SecDenied" in denied[-1]["error"], denied
    assert not stored(env.broker, "SecDenied")


def test_namespaces_of_python5_and_java5(env: Env, unique) -> None:
    py = sends(run_py5_driver(["produce", "--topic", "SecTopicNs", "--count", 2, "--body", "py-ns", "--tls",
                               "--namespace", "ns1", *CREDS], endpoints=env.endpoint, trust=env.cert))
    java = sends(run_java5_driver(["produce", "--topic", "SecTopicNs", "--count", 2, "--body", "java-ns",
                                   "--tls", "true", "--namespace", "ns1", *CREDS], endpoints=env.endpoint))
    sent = {e["msgId"]: e["body"] for e in py + java}
    assert len(sent) == 4 and stored(env.broker, "ns1%SecTopicNs") == sent
    consumed = run_py5_driver(["simple-consume", "--topic", "SecTopicNs", "--group", unique("G"), "--count", 4,
                               "--timeout", 60, "--namespace", "ns1", *CREDS], endpoints=env.endpoint, timeout=120)
    assert consumed[-1]["event"] == "done", consumed[-1]
    got = messages(consumed, None)
    assert {m["msgId"]: m["body"] for m in got} == sent
    assert {m["topic"] for m in got} == {"SecTopicNs"}  # the client sees its own name, not ns1%SecTopicNs


def test_local_mode_takes_the_brokers_tls_keys_and_plain_acl(tmp_path: Path, interop_ready: None) -> None:
    cert, key = make_cert(tmp_path / "tls")
    home = tmp_path / "broker"
    write_acl(home, ACL_YML)
    port = free_port()
    with start_namesrv(tmp_path / "ns") as ns, start_broker(home, ns.addr, flags=["--enable-proxy"], extra={
            **tls_args("permissive", cert, key), "aclEnable": "true", "rocketmqHome": home,
            "aclAccessKey": ADMIN.access_key, "aclSecretKey": ADMIN.secret_key, "grpcServerPort": port}) as broker:
        fields = {"topic": "SecTopicPy", "defaultTopic": "TBW102", "readQueueNums": "2", "writeQueueNums": "2",
                  "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}
        created = signed_call(broker.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, fields, credentials=ADMIN)
        assert created.code == ResponseCode.SUCCESS, created.remark
        endpoint = f"127.0.0.1:{port}"
        ok = sends(run_py5_driver(["produce", "--topic", "SecTopicPy", "--count", 2, "--tls", *CREDS],
                                  endpoints=endpoint, trust=cert))
        assert len(ok) == 2
        refused = run_java5_driver(["produce", "--topic", "SecTopicPy", "--tls", "true", "--access-key", AK,
                                    "--secret-key", "wrong-secret"], endpoints=endpoint, check=False)
        assert refused[-1]["event"] == "error" and "Check signature failed" in refused[-1]["error"], refused
