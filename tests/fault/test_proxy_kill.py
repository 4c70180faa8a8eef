"""kill -9 under load from the official RocketMQ 5 Python producer (rocketmq-python-client 5.1.2,
gRPC): of the `mqproxy` process, and of the master behind it. A send the client saw succeed is
an acknowledged message; after the killed process is restarted (same port, same store) every
acknowledged message is delivered, read back with the official client's SimpleConsumer through
the proxy. Sends while the process is down may fail (the producer goes on: --keep-going); none
may be lost once acknowledged. Each test is bounded well under 2 minutes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.cluster import create_topic, start_master, wait_topic
from tests.support.processes import start_namesrv, start_proxy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
from clients import messages, run_py5_driver, sends, start_py5_driver  # noqa: E402

pytestmark = [pytest.mark.fault, pytest.mark.interop, pytest.mark.timeout(120)]

COUNT = 240
INTERVAL_MS = 25  # about 6 s of sends when nothing fails


def produce_in_background(endpoint: str, topic: str):  # noqa: ANN201
    return start_py5_driver(["produce", "--topic", topic, "--count", COUNT, "--body", "m", "--keep-going",
                             "--interval-ms", INTERVAL_MS, "--timeout", 5], endpoints=endpoint)


def after(events: list[dict], n: int) -> bool:
    return len(sends(events)) >= n


def delivered(endpoint: str, topic: str, count: int) -> dict[str, str]:
    events = run_py5_driver(["simple-consume", "--topic", topic, "--group", f"{topic}_G", "--count", count,
                             "--timeout", 45, "--await-s", 2], endpoints=endpoint, timeout=75)
    return {m["msgId"]: m["body"] for m in messages(events, None)}


def check_every_acknowledged_message_is_delivered(events: list[dict], endpoint: str, topic: str) -> None:
    acknowledged = {e["msgId"]: e["body"] for e in sends(events)}
    assert events[-1]["event"] == "done", events[-1]
    failed = [e for e in events if e["event"] == "send-error"]
    print(f"{topic}: {len(acknowledged)} acknowledged, {len(failed)} failed sends", flush=True)
    assert len(acknowledged) >= COUNT // 2, f"only {len(acknowledged)} of {COUNT} sends succeeded"
    got = delivered(endpoint, topic, len(acknowledged))
    missing = set(acknowledged) - set(got)
    assert not missing, f"{len(missing)} acknowledged messages never delivered: {sorted(missing)[:5]}"
    assert all(got[i] == body for i, body in acknowledged.items())


def test_kill_9_of_mqproxy_under_load_loses_no_acknowledged_message(tmp_path: Path, procs) -> None:
    ns = start_namesrv(tmp_path / "ns")
    procs.append(ns)
    broker = start_master(tmp_path / "broker", ns.addr, role="ASYNC_MASTER")
    procs.append(broker)
    create_topic(broker.addr, "ProxyKillT", queues=4)
    wait_topic(ns.addr, "ProxyKillT")
    proxy = start_proxy(tmp_path / "proxy", ns.addr)
    procs.append(proxy)
    with produce_in_background(proxy.endpoint, "ProxyKillT") as producer:
        producer.wait_for(lambda evs: after(evs, 60), 60)
        proxy.kill()  # kill -9
        before_kill = len(sends(producer.events))
        restarted = start_proxy(tmp_path / "proxy", ns.addr, port=proxy.port)
        procs.append(restarted)
        events = producer.wait(90)
    assert len(sends(events)) > before_kill, "the producer went on sending through the restarted proxy"
    check_every_acknowledged_message_is_delivered(events, restarted.endpoint, "ProxyKillT")


def test_kill_9_of_the_master_under_load_loses_no_acknowledged_message(tmp_path: Path, procs) -> None:
    ns = start_namesrv(tmp_path / "ns")
    procs.append(ns)
    master = start_master(tmp_path / "broker", ns.addr, role="ASYNC_MASTER")  # ASYNC_FLUSH: kill -9 keeps the page cache
    procs.append(master)
    create_topic(master.addr, "MasterKillT", queues=4)
    wait_topic(ns.addr, "MasterKillT")
    proxy = start_proxy(tmp_path / "proxy", ns.addr)
    procs.append(proxy)
    with produce_in_background(proxy.endpoint, "MasterKillT") as producer:
        producer.wait_for(lambda evs: after(evs, 60), 60)
        master.kill()  # kill -9
        before_kill = len(sends(producer.events))
        restarted = start_master(tmp_path / "broker", ns.addr, role="ASYNC_MASTER", port=master.port)
        procs.append(restarted)
        events = producer.wait(90)
    assert len(sends(events)) > before_kill, "the producer went on sending to the restarted master"
    check_every_acknowledged_message_is_delivered(events, proxy.endpoint, "MasterKillT")
