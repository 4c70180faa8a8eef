"""Slave lag in the master's /metrics: rocketmq_slave_lag_bytes and rocketmq_slave_lag_latency
per connected slave, 0 when caught up, the unacknowledged bytes and their age while the slave
is stopped (SIGSTOP), and back to 0 once it runs again."""

from __future__ import annotations

import os
import signal
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.cluster import create_topic, max_offset, send_raw, start_master, start_slave, wait_replicated
from tests.support.processes import free_port, start_namesrv, wait_until

pytestmark = pytest.mark.timeout(120)


def slave_lag(port: int) -> dict[str, tuple[float, float]]:
    """slave_addr -> (lag bytes, lag ms) from one scrape of the master."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        families = {f.name: f.samples for f in text_string_to_metric_families(response.read().decode())}
    latency = {s.labels["slave_addr"]: s.value for s in families["rocketmq_slave_lag_latency"]}
    return {s.labels["slave_addr"]: (s.value, latency[s.labels["slave_addr"]])
            for s in families["rocketmq_slave_lag_bytes"]}


def test_slave_lag_bytes_and_latency(tmp_path):
    ns = start_namesrv(tmp_path / "ns")
    port = free_port()
    master = start_master(tmp_path / "m", ns.addr, role="ASYNC_MASTER", extra={
        "metricsExporterType": "PROM", "metricsPromExporterHost": "127.0.0.1", "metricsPromExporterPort": port})
    slave = start_slave(tmp_path / "s", ns.addr)
    try:
        create_topic(master.addr, "LagTopic")
        for i in range(5):
            send_raw(master.addr, "LagTopic", f"m{i}".encode())
        wait_replicated(master, slave)
        [(addr, (lag_bytes, lag_ms))] = slave_lag(port).items()
        assert addr.startswith("127.0.0.1:") and (lag_bytes, lag_ms) == (0, 0)

        os.kill(slave.proc.pid, signal.SIGSTOP)
        try:
            before = max_offset(master)
            send_raw(master.addr, "LagTopic", b"x" * 1000)
            behind = max_offset(master) - before
            assert slave_lag(port)[addr][0] == behind
            # the unacknowledged message ages while the slave stays stopped
            wait_until(lambda: slave_lag(port)[addr][1] >= 200, 5, interval=0.1, message="lag latency grows")
            assert slave_lag(port)[addr][0] == behind
        finally:
            os.kill(slave.proc.pid, signal.SIGCONT)
        wait_until(lambda: slave_lag(port).get(addr) == (0, 0), 30, interval=0.5, message="slave caught up")
    finally:
        slave.kill()
        master.kill()
        ns.kill()
