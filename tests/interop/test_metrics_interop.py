"""Built-in Prometheus metrics (metricsExporterType=PROM): a real name server and broker, the
official Java producer and consumer, and /metrics scraped with a real HTTP client (urllib) and
parsed with prometheus_client.parser. Counters move by exactly what was sent and consumed, lag
falls to 0 once the consumer commits, every series has cluster/node_type/node_id, and bad HTTP
input is answered without harm."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from clients import _run, _with_namesrv, client_env, java_cmd, run_java_driver, start_java_driver  # type: ignore[import-not-found]
from tests.support.processes import free_port, start_broker, start_namesrv, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]

COUNT = 20


def run_semantics(args: list[object], namesrv: str) -> list[dict]:
    """The Java SemanticsDriver (transactions), as tests/interop/test_java_semantics.py runs it."""
    return _run(java_cmd("pocketmq.interop.SemanticsDriver", _with_namesrv([str(a) for a in args], namesrv)), 90,
                True, client_env(), "semantics driver")


def scrape(port: int) -> dict[str, list]:
    """family name -> samples (name, labels, value) of one GET /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(families: dict[str, list], sample_name: str, **labels: str) -> float:
    """The sum of the samples called ``sample_name`` whose labels include ``labels`` (0 when none)."""
    family = sample_name.removesuffix("_total").removesuffix("_count").removesuffix("_sum").removesuffix("_bucket")
    return sum(s.value for s in families.get(family, []) if s.name == sample_name
               and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, interop_ready):
    home = tmp_path_factory.mktemp("metrics")
    ns_port, broker_port = free_port(), free_port()
    ns = start_namesrv(home / "ns", extra=["--metricsExporterType=PROM", "--metricsPromExporterHost=127.0.0.1",
                                           f"--metricsPromExporterPort={ns_port}"])
    broker = start_broker(home / "broker", ns.addr, extra={
        "brokerClusterName": "MetricsCluster", "metricsExporterType": "PROM",
        "metricsPromExporterHost": "127.0.0.1", "metricsPromExporterPort": broker_port})
    try:
        yield ns, broker, ns_port, broker_port
    finally:
        broker.kill()
        ns.kill()


def test_counters_lag_and_connections_follow_the_official_clients(cluster):
    ns, broker, _, port = cluster
    topic, group = f"Metrics{int(time.time() * 1000)}", "MetricsGroup"
    run_java_driver(["admin", "create-topic", "--topic", topic, "--broker-addr", broker.addr, "--queues", 4],
                    namesrv=ns.addr)
    before = scrape(port)
    assert value(before, "rocketmq_messages_in_total", topic=topic) == 0

    with start_java_driver(["produce", "--topic", topic, "--count", COUNT, "--group", "MetricsProducers",
                            "--body-size", 2000, "--linger-ms", 60000], namesrv=ns.addr) as producer:
        producer.wait_for("lingering", 90)
        # The client's heartbeat (at most 30 s apart) is what registers it with the broker.
        during = wait_until(lambda: (f := scrape(port)) and value(
            f, "rocketmq_producer_connections", language="java", version="v4_9_7", protocol_type="remoting") >= 1
            and f, 40, interval=1.0, message="producer connection")
    assert value(during, "rocketmq_messages_in_total", topic=topic, message_type="normal", is_system="false") == COUNT
    assert value(during, "rocketmq_throughput_in_total", topic=topic) > COUNT * 2000
    assert value(during, "rocketmq_message_size_count", topic=topic) == COUNT
    assert value(during, "rocketmq_message_size_bucket", topic=topic, le="1024.0") == 0
    assert value(during, "rocketmq_message_size_bucket", topic=topic, le="4096.0") == COUNT
    assert value(during, "rocketmq_rpc_latency_count", request_code="send_message_v2", response_code="success",
                 result="success", is_long_polling="false") >= COUNT

    with start_java_driver(["push-consume", "--topic", topic, "--group", group, "--count", COUNT, "--timeout", 90,
                            "--from", "first", "--linger-ms", 60000], namesrv=ns.addr) as consumer:
        consumer.wait_for(lambda evs: sum(e["event"] == "msg" for e in evs) >= COUNT, 90)
        running = scrape(port)
        assert value(running, "rocketmq_consumer_connections", consumer_group=group, language="java",
                     consume_mode="push", is_system="false") == 1
        assert value(running, "rocketmq_messages_out_total", topic=topic, consumer_group=group) == COUNT
        assert value(running, "rocketmq_throughput_out_total", topic=topic, consumer_group=group) > COUNT * 2000
        # The Java consumer commits its offsets every 5 s: the lag falls to 0 once it has.
        drained = wait_until(lambda: (f := scrape(port)) and value(
            f, "rocketmq_consumer_lag_messages", consumer_group=group, topic=topic) == 0 and f, 40, interval=1.0,
            message="lag 0")
        assert value(drained, "rocketmq_consumer_lag_latency", consumer_group=group, topic=topic) == 0
        assert value(drained, "rocketmq_consumer_inflight_messages", consumer_group=group, topic=topic) == 0
        assert value(drained, "rocketmq_consumer_ready_messages", consumer_group=group, topic=topic) == 0
        assert value(drained, "rocketmq_messages_out_total", topic=topic, consumer_group=group) == COUNT
        # Its pulls now wait at the broker (long polling, up to 15 s) and are labelled so when answered.
        wait_until(lambda: value(scrape(port), "rocketmq_rpc_latency_count", request_code="pull_message",
                                 is_long_polling="true") >= 1, 40, interval=1.0, message="a long-polled pull")

    # Messages nobody consumed show as lag, with an age.
    run_java_driver(["produce", "--topic", topic, "--count", 3], namesrv=ns.addr)
    behind = scrape(port)
    assert value(behind, "rocketmq_consumer_lag_messages", consumer_group=group, topic=topic) == 3
    assert value(behind, "rocketmq_consumer_ready_messages", consumer_group=group, topic=topic) == 3
    assert value(behind, "rocketmq_consumer_lag_latency", consumer_group=group, topic=topic) >= 0
    assert value(behind, "rocketmq_messages_in_total", topic=topic) == COUNT + 3

    for family in ("rocketmq_storage_size", "rocketmq_storage_flush_behind_bytes",
                   "rocketmq_storage_dispatch_behind_bytes", "rocketmq_processor_watermark", "rocketmq_topic_number"):
        assert family in behind, family
    assert value(behind, "rocketmq_storage_size") > 0
    for samples in behind.values():
        for sample in samples:
            assert sample.labels["cluster"] == "MetricsCluster" and sample.labels["node_type"] == "broker"
            assert sample.labels["node_id"] == "broker-a", sample


def test_name_server_serves_its_own_families(cluster):
    ns, _, ns_port, _ = cluster
    run_java_driver(["admin", "topic-list"], namesrv=ns.addr)
    families = scrape(ns_port)
    assert value(families, "rocketmq_rpc_latency_count", request_code="get_all_topic_list_from_nameserver",
                 response_code="success") >= 1
    assert value(families, "rocketmq_rpc_latency_count", request_code="register_broker") >= 1
    assert value(families, "rocketmq_broker_number", broker_cluster="MetricsCluster") == 1
    for samples in families.values():
        for sample in samples:
            assert sample.labels["node_type"] == "nameserver" and sample.labels["node_id"].endswith(f":{ns.port}")


def test_bad_http_requests_are_answered_and_the_endpoint_lives_on(cluster):
    _, _, _, port = cluster
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing-here", timeout=10)
    assert missing.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as wrong_method:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/metrics", data=b"x"), timeout=10)
    assert wrong_method.value.code == 405
    for garbage in (b"\x00\xff garbage\r\n\r\n", b"GET /metrics\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(garbage)
            answer = sock.recv(100)
        assert answer.startswith(b"HTTP/1.1 400"), answer
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X-Flood: y\r\n" * 3000)  # headers past 16 KB: dropped
        sock.settimeout(10)
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /met")  # and hang up half-way
    assert "rocketmq_topic_number" in scrape(port)


def test_transactions_and_dlq_are_counted(cluster):
    ns, broker, _, port = cluster
    topic = f"MetricsTx{int(time.time() * 1000)}"
    run_java_driver(["admin", "create-topic", "--topic", topic, "--broker-addr", broker.addr, "--queues", 2],
                    namesrv=ns.addr)
    events = run_semantics(["tx-produce", "--topic", topic, "--group", "MetricsTxProducers", "--count", 3,
                            "--states", "commit,rollback,commit", "--checks", 0, "--timeout", 30], ns.addr)
    assert events[-1]["event"] == "done", events[-1]
    families = wait_until(lambda: (f := scrape(port)) and value(f, "rocketmq_commit_messages_total", topic=topic) == 2
                          and f, 20, interval=0.5, message="commits counted")
    assert value(families, "rocketmq_rollback_messages_total", topic=topic) == 1
    assert value(families, "rocketmq_messages_in_total", topic=topic) == 0  # the halves are not the topic's yet

    dlq_topic, group = f"MetricsDlq{int(time.time() * 1000)}", "MetricsDlqGroup"
    run_java_driver(["admin", "create-topic", "--topic", dlq_topic, "--broker-addr", broker.addr, "--queues", 2],
                    namesrv=ns.addr)
    with start_java_driver(["push-consume", "--topic", dlq_topic, "--group", group, "--count", 1, "--timeout", 60,
                            "--from", "first", "--reconsume-once", "--max-reconsume", 0], namesrv=ns.addr) as consumer:
        consumer.wait_for("started", 60)
        run_java_driver(["produce", "--topic", dlq_topic, "--count", 1], namesrv=ns.addr)
        consumer.wait_for(lambda evs: any(e.get("status") == "RECONSUME_LATER" for e in evs), 60)
        wait_until(lambda: value(scrape(port), "rocketmq_send_to_dlq_messages_total", consumer_group=group,
                                 topic=dlq_topic, is_system="false") == 1, 20, interval=0.5, message="DLQ counted")
