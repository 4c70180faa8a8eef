"""Plaintext and TLS on one gRPC port, the same test against PocketMQ (`mqproxy` with a
certificate) and the oracle, Apache RocketMQ 5.3.3's proxy (local mode; it serves TLS with a
self-signed certificate by default, tlsTestModeEnable): the official Java 5 client sends over TLS
(its default) and over plaintext to the same port and reads everything back over TLS.

Also what the oracle does with a namespace, which tells where PocketMQ follows which upstream:
Apache 5.3.3's proxy ignores it (its topic is the plain name), 5.1's prefixed it (``ns%topic``);
PocketMQ does as 5.1 (docs/rocketmq5-tls-acl.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from apache5 import apache5_broker, apache5_namesrv  # type: ignore[import-not-found]
from clients import messages, run_java5_driver, run_java_driver, sends
from tests.support.cluster import create_topic, pull_all
from tests.support.processes import start_broker, start_namesrv, start_proxy
from tests.support.tls import make_cert, tls_args

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]


@pytest.fixture(scope="module", params=["pocketmq", "apache-5.3.3"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           interop_ready: None) -> Iterator[tuple[str, str, str, str]]:
    """(kind, gRPC endpoint, name server, broker) of a server with plaintext and TLS on one port."""
    if request.param == "pocketmq":
        tmp: Path = tmp_path_factory.mktemp("tlsoracle")
        cert, key = make_cert(tmp / "tls")
        with start_namesrv(tmp / "ns") as ns, start_broker(tmp / "broker", ns.addr) as broker, \
                start_proxy(tmp / "proxy", ns.addr, extra=tls_args("permissive", cert, key)) as proxy:
            yield "pocketmq", proxy.endpoint, ns.addr, broker.addr
    else:
        with apache5_namesrv() as ns, apache5_broker(ns.addr, enable_proxy=True) as broker:
            yield "apache", broker.extra["grpc_addr"], ns.addr, broker.addr


def make_topic(broker_addr: str, namesrv: str, topic: str) -> None:
    create_topic(broker_addr, topic, queues=2)
    # and through the name server, retried: Apache's local proxy says it started before its
    # broker's first registration has landed ("no master broker" until then)
    deadline = time.monotonic() + 60
    while True:
        events = run_java_driver(["admin", "create-topic", "--topic", topic, "--queues", 2], namesrv=namesrv,
                                 check=False)
        if events and events[0]["event"] == "create-topic":
            return
        assert time.monotonic() < deadline and "no master broker" in str(events), events
        time.sleep(1)


def test_java5_over_tls_and_plaintext_on_one_port(server, unique) -> None:
    kind, endpoint, namesrv, broker = server
    topic = unique("T")
    make_topic(broker, namesrv, topic)
    over_tls = sends(run_java5_driver(["produce", "--topic", topic, "--count", 3, "--body", "tls", "--tls", "true"],
                                      endpoints=endpoint))
    plain = sends(run_java5_driver(["produce", "--topic", topic, "--count", 3, "--body", "plain", "--tls", "false"],
                                   endpoints=endpoint))
    assert len(over_tls) == 3 and len(plain) == 3, kind
    consumed = run_java5_driver(["simple-consume", "--topic", topic, "--group", unique("G"), "--count", 6,
                                 "--timeout", 90, "--tls", "true"], endpoints=endpoint, timeout=150)
    assert consumed[-1]["event"] == "done", (kind, consumed[-1])
    assert {m["msgId"] for m in messages(consumed, None)} == {e["msgId"] for e in over_tls + plain}


def test_where_a_namespaced_send_lands(server, unique) -> None:
    kind, endpoint, namesrv, broker = server
    topic = unique("T")
    for name in (topic, f"ns1%{topic}"):
        make_topic(broker, namesrv, name)
    sent = sends(run_java5_driver(["produce", "--topic", topic, "--body", "ns", "--namespace", "ns1"],
                                  endpoints=endpoint))
    assert len(sent) == 1
    stored = {name: {m.properties.get("UNIQ_KEY") for q in range(2) for m in pull_all(broker, name, q)}
              for name in (topic, f"ns1%{topic}")}
    lands = f"ns1%{topic}" if kind == "pocketmq" else topic  # upstream 5.1's rule vs 5.3.3's
    assert stored[lands] == {sent[0]["msgId"]}, (kind, stored)
