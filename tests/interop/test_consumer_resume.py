"""A push consumer resumes as soon as its broker is back, not at its next heartbeat.

A restarted broker (kill -9, or a process SIGSTOPped past its client expiry) has forgotten the
consumers' subscriptions, which it learns only from heartbeats (every 30 s by default). The
official Java 4.x client pulls without its subscription in the request (postSubscriptionWhenPull
is off by default), so upstream answers SUBSCRIPTION_NOT_EXIST until the next heartbeat and the
consumer stalls. PocketMQ serves such a TAG pull with a match-all filter (the client filters by
tag itself, as every official client does), so the consumer goes on at once. The heartbeat
interval here is ten minutes: a consumer that resumed cannot have been rescued by a heartbeat."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.interop.clients import run_java_driver, start_java_driver
from tests.support.cluster import create_topic
from tests.support.processes import start_broker, start_namesrv

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]

TOPIC = "ResumeAfterRestart"
HEARTBEAT_MS = 600_000


def _bodies(events: list[dict]) -> list[str]:
    return [e["body"] for e in events if e.get("event") == "msg" and e.get("status") == "SUCCESS"]


def test_java_push_consumer_resumes_after_broker_kill_before_its_next_heartbeat(tmp_path: Path) -> None:
    procs = []
    try:
        ns = start_namesrv(tmp_path / "ns")
        procs.append(ns)
        broker = start_broker(tmp_path / "b", ns.addr, extra={"flushDiskType": "SYNC_FLUSH"})
        procs.append(broker)
        create_topic(broker.addr, TOPIC, queues=2)
        args = ["push-consume", "--topic", TOPIC, "--count", "1000", "--timeout", "200", "--expr", "TagA",
                "--heartbeat-ms", str(HEARTBEAT_MS), "--group", "CID_resume"]
        with start_java_driver(args, namesrv=ns.addr) as consumer:
            consumer.wait_for("started", 90)
            run_java_driver(["produce", "--topic", TOPIC, "--count", "6", "--tags", "TagA",
                             "--body", "before-{i}"], namesrv=ns.addr)
            consumer.wait_for(lambda events: len(set(_bodies(events))) >= 6, 90)

            broker.proc.send_signal(signal.SIGKILL)
            broker.proc.wait()
            broker = start_broker(tmp_path / "b", ns.addr, port=broker.port, extra={"flushDiskType": "SYNC_FLUSH"})
            procs.append(broker)
            run_java_driver(["produce", "--topic", TOPIC, "--count", "6", "--tags", "TagB",
                             "--body", "other-{i}"], namesrv=ns.addr)
            run_java_driver(["produce", "--topic", TOPIC, "--count", "6", "--tags", "TagA",
                             "--body", "after-{i}"], namesrv=ns.addr)
            after = {f"after-{i}" for i in range(6)}
            events = consumer.wait_for(lambda events: after <= set(_bodies(events)), 150)
        bodies = _bodies(events)
        assert not [b for b in bodies if b.startswith("other-")], "a TagB message reached a TagA consumer"
    finally:
        for proc in reversed(procs):
            proc.terminate()
