"""Message semantics end to end with real PocketMQ processes and the official Java client
(SemanticsDriver / Driver): retry and DLQ, delay levels (also across a broker restart),
orderly consumption while a second consumer joins and leaves, transactional messages with a
back-check, SQL92 selectors, and a bad SQL92 expression refused at subscribe time.

One name server and one broker serve the whole module (started with enablePropertyFilter and
a 1 s transaction timeout / check interval so the back-check is quick).
"""

from __future__ import annotations

import collections
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.interop.clients import (
    DriverProcess, _run, _with_namesrv, client_env, java_cmd, messages, run_java_driver,
)
from tests.interop.apache import InteropSetupMissing, java_classpath, keep_tmp
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call

pytestmark = pytest.mark.interop

SEMANTICS_MAIN = "pocketmq.interop.SemanticsDriver"
DELAYS_MS = {1: 1000, 2: 5000, 3: 10000}
EARLY_MS = 50      # a delayed message may not arrive before its delay (clock granularity aside)
LATE_MS = 1500     # ... and must arrive within this much after it


# ------------------------------------------------------------------------------ fixtures
class Cluster:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.namesrv = start_namesrv(home / "namesrv")
        self.extra = {"enablePropertyFilter": "true", "transactionTimeOut": 1000,
                      "transactionCheckInterval": 1000, "flushDelayOffsetInterval": 1000}
        self.broker = start_broker(home / "broker", self.namesrv.addr, extra=self.extra)

    @property
    def addr(self) -> str:
        return self.namesrv.addr

    def restart_broker(self) -> None:
        port = self.broker.port
        assert self.broker.terminate(30) == 0, self.broker.output[-3000:]
        self.broker = start_broker(self.home / "broker", self.namesrv.addr, port=port, extra=self.extra)

    def create_topic(self, topic: str, queues: int = 1) -> None:
        response = call(self.broker.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, {
            "topic": topic, "defaultTopic": "TBW102", "readQueueNums": str(queues),
            "writeQueueNums": str(queues), "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0",
            "order": "false"})
        assert response.code == ResponseCode.SUCCESS, response.remark
        wait_until(lambda: call(self.addr, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic}).code
                   == ResponseCode.SUCCESS, 15, message=f"route of {topic}")

    def max_offset(self, topic: str, queue_id: int = 0) -> int:
        response = call(self.broker.addr, RequestCode.GET_MAX_OFFSET, {"topic": topic, "queueId": str(queue_id)})
        if response.code != ResponseCode.SUCCESS:
            return -1
        return int(response.ext_fields["offset"])

    def close(self) -> None:
        self.broker.kill()
        self.namesrv.kill()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    try:
        java_classpath()
    except InteropSetupMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    home = Path(tempfile.mkdtemp(prefix="pocketmq-semantics-"))
    cluster = Cluster(home)
    try:
        yield cluster
    finally:
        cluster.close()
        if not keep_tmp():
            shutil.rmtree(home, ignore_errors=True)


_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_names)}_{int(time.time() * 1000) % 1000000}"


def semantics(args: Sequence[str], namesrv: str, timeout: float = 120.0, check: bool = True) -> list[dict]:
    return _run(java_cmd(SEMANTICS_MAIN, _with_namesrv(args, namesrv)), timeout, check, client_env(),
                "semantics driver")


def start_semantics(args: Sequence[str], namesrv: str) -> DriverProcess:
    return DriverProcess(java_cmd(SEMANTICS_MAIN, _with_namesrv(args, namesrv)), client_env(), "semantics driver")


def produce(cluster: Cluster, topic: str, count: int, *extra: str) -> list[dict]:
    events = run_java_driver(["produce", "--topic", topic, "--count", str(count), "--vip", "false", *extra],
                             namesrv=cluster.addr, timeout=60)
    sent = [e for e in events if e.get("event") == "send"]
    assert len(sent) == count and all(e["status"] == "SEND_OK" for e in sent), events
    return sent


# ------------------------------------------------------------------------------ retry / DLQ
def test_reconsume_later_redelivers_with_growing_reconsume_times_then_dead_letters(cluster):
    topic, group = unique("SemRetry"), unique("GID_retry")
    cluster.create_topic(topic)
    sent = produce(cluster, topic, 2)
    max_reconsume = 2
    deliveries = len(sent) * (max_reconsume + 1)
    events = semantics(["consume", "--topic", topic, "--group", group, "--reconsume-later", "--delay-level", "1",
                        "--max-reconsume", str(max_reconsume), "--count", str(deliveries), "--timeout", "60",
                        "--linger-ms", "500"], cluster.addr)
    got = [e for e in events if e.get("event") == "msg"]
    by_id = collections.defaultdict(list)
    for event in got:
        by_id[event["msgId"]].append(event)
    assert set(by_id) == {e["msgId"] for e in sent}, got
    for msg_id, seen in by_id.items():
        seen.sort(key=lambda e: e["recvTs"])
        assert [e["reconsumeTimes"] for e in seen] == list(range(max_reconsume + 1)), seen
        assert all(e["topic"] == topic for e in seen)
        # delay level 1 (1 s) between redeliveries, as the listener asked
        gaps = [b["recvTs"] - a["recvTs"] for a, b in zip(seen, seen[1:])]
        assert all(gap >= DELAYS_MS[1] - EARLY_MS for gap in gaps), gaps
    for seen in by_id.values():
        retried = seen[1]
        assert retried["properties"].get("RETRY_TOPIC") == topic
        assert retried["properties"].get("ORIGIN_MESSAGE_ID")

    dlq = f"%DLQ%{group}"
    wait_until(lambda: cluster.max_offset(dlq) >= len(sent), 15, message="dead letters")
    dead = messages(run_java_driver(["lite-pull-consume", "--topic", dlq, "--assign", "--count", str(len(sent)),
                                     "--timeout", "30", "--vip", "false"], namesrv=cluster.addr, timeout=60))
    assert sorted(e["msgId"] for e in dead) == sorted(e["msgId"] for e in sent)
    for event in dead:
        assert event["reconsumeTimes"] == max_reconsume + 1
        assert event["properties"].get("RETRY_TOPIC") == topic
        assert event["body"].startswith("body-")
    assert cluster.max_offset(dlq) == len(sent)


# ----------------------------------------------------------------------------- delay levels
def _delivery_latencies(events: list[dict]) -> dict[str, int]:
    """Per body: when the broker delivered it to its real topic (the store time there) minus when
    the producer created it; independent of how soon a consumer pulled it."""
    return {e["body"]: e["storeTimestamp"] - e["bornTimestamp"] for e in events if e.get("event") == "msg"}


def test_delay_levels_one_to_three_arrive_on_time_and_in_order(cluster):
    topic, group = unique("SemDelay"), unique("GID_delay")
    cluster.create_topic(topic)
    with start_semantics(["consume", "--topic", topic, "--group", group, "--count", "9", "--timeout", "60"],
                         cluster.addr) as consumer:
        consumer.wait_for("started", 60)
        for level in (3, 2, 1):
            produce(cluster, topic, 3, "--delay-level", str(level), "--body", f"L{level}-{{i}}", "--queue-id", "0")
        events = consumer.wait(90)
    got = [e for e in events if e.get("event") == "msg"]
    assert len({e["body"] for e in got}) == 9, events[-1]
    for body, latency in _delivery_latencies(events).items():
        delay = DELAYS_MS[int(body[1])]
        assert delay - EARLY_MS <= latency <= delay + LATE_MS, (body, latency)
    for level in (1, 2, 3):
        # delivered to the real topic in send order within a level
        offsets = [next(e["queueOffset"] for e in got if e["body"] == f"L{level}-{i}") for i in range(3)]
        assert offsets == sorted(offsets), (level, offsets)
        assert all(e["properties"].get("DELAY") is None for e in got)
        assert all(e["properties"].get("REAL_TOPIC") == topic for e in got)


def test_delayed_messages_survive_a_broker_restart_without_duplicates(cluster):
    topic, group = unique("SemDelayRestart"), unique("GID_delay_restart")
    cluster.create_topic(topic)
    produce(cluster, topic, 1, "--delay-level", "1", "--body", "early-{i}", "--queue-id", "0")
    produce(cluster, topic, 3, "--delay-level", "3", "--body", "late-{i}", "--queue-id", "0")
    wait_until(lambda: cluster.max_offset(topic) == 1, 10, message="the level-1 message delivered")
    cluster.restart_broker()
    events = semantics(["consume", "--topic", topic, "--group", group, "--count", "4", "--timeout", "60"],
                       cluster.addr, timeout=90)
    latencies = _delivery_latencies(events)
    assert set(latencies) == {"early-0", "late-0", "late-1", "late-2"}, events[-1]
    for body, latency in latencies.items():
        delay = DELAYS_MS[1 if body.startswith("early") else 3]
        assert delay - EARLY_MS <= latency <= delay + LATE_MS, (body, latency)
    # each delayed message reached its topic exactly once, the restart notwithstanding
    assert cluster.max_offset(topic) == 4


# ---------------------------------------------------------------------------------- orderly
def test_orderly_consumer_keeps_queue_order_while_a_second_consumer_joins_and_leaves(cluster, tmp_path):
    topic, group = unique("SemOrderly"), unique("GID_orderly")
    queues, count = 4, 240
    cluster.create_topic(topic, queues)
    stop = tmp_path / "stop-A"
    with start_semantics(["consume", "--topic", topic, "--group", group, "--orderly", "--name", "A",
                          "--stop-file", str(stop), "--timeout", "90"], cluster.addr) as first:
        first.wait_for("started", 60)
        with start_semantics(["ordered-produce", "--topic", topic, "--count", str(count), "--queues", str(queues),
                              "--interval-ms", "25"], cluster.addr) as producer:
            first.wait_for(lambda evs: sum(e.get("event") == "msg" for e in evs) >= 30, 60)
            # B joins (the group rebalances, queues move to B under the broker's locks), consumes for a
            # moment once it holds a queue, and leaves (its queues go back to A)
            second_events = semantics(["consume", "--topic", topic, "--group", group, "--orderly", "--name", "B",
                                       "--count", "1", "--timeout", "15", "--linger-ms", "1500"], cluster.addr,
                                      timeout=60)
            produced = producer.wait(90)
        assert sum(e.get("event") == "send" for e in produced) == count

        def all_consumed(events: list[dict]) -> bool:
            bodies = {int(e["body"]) for e in events + second_events if e.get("event") == "msg"}
            return len(bodies) == count

        first.wait_for(all_consumed, 60)  # A took B's queues back after B left
        stop.touch()
        first_events = first.wait(60)
    got = [e for e in first_events + second_events if e.get("event") == "msg"]
    per_queue: dict[int, list[dict]] = collections.defaultdict(list)
    for event in got:
        per_queue[event["queueId"]].append(event)
    assert sorted(per_queue) == list(range(queues))
    for queue_id, seen in per_queue.items():
        seen.sort(key=lambda e: (e["recvTs"], int(e["properties"]["seq"])))
        highest = -1
        for event in seen:
            seq = int(event["properties"]["seq"])
            # a message is consumed only after every earlier message of its queue (repeats allowed)
            assert seq <= highest + 1, (queue_id, event["consumer"], seq, highest)
            highest = max(highest, seq)
        assert highest == count // queues - 1
    consumers = collections.Counter(e["consumer"] for e in got)
    assert consumers["A"] > 0, consumers
    assert any(e.get("event") == "started" for e in second_events)
    if second_events[-1].get("event") == "done":  # B got a queue lock before the messages ran out
        assert consumers["B"] > 0, consumers


# ----------------------------------------------------------------------------- transactions
def test_transaction_commit_rollback_and_back_check(cluster):
    topic, producer_group, group = unique("SemTx"), unique("PID_tx"), unique("GID_tx")
    cluster.create_topic(topic)
    events = semantics(["tx-produce", "--topic", topic, "--group", producer_group, "--count", "3",
                        "--states", "commit,rollback,unknown", "--check-answer", "commit", "--checks", "1",
                        "--timeout", "30"], cluster.addr, timeout=60)
    sends = {e["i"]: e for e in events if e.get("event") == "send"}
    assert [sends[i]["localState"] for i in range(3)] == ["COMMIT_MESSAGE", "ROLLBACK_MESSAGE", "UNKNOW"]
    checks = [e for e in events if e.get("event") == "check"]
    assert checks and {c["properties"]["i"] for c in checks} == {"2"}, checks
    assert checks[0]["topic"] == topic and checks[0]["transactionId"] == sends[2]["msgId"]
    assert events[-1]["event"] == "done"

    wait_until(lambda: cluster.max_offset(topic) >= 2, 15, message="the two committed messages")
    consumed = semantics(["consume", "--topic", topic, "--group", group, "--count", "2", "--timeout", "30",
                          "--linger-ms", "500"], cluster.addr)
    assert sorted(e["body"] for e in consumed if e.get("event") == "msg") == ["tx-0", "tx-2"]
    assert cluster.max_offset(topic) == 2  # the rolled-back half never reached the topic


# ----------------------------------------------------------------------------------- SQL92
def test_sql92_selector_picks_exactly_the_matching_messages(cluster):
    topic, group = unique("SemSql"), unique("GID_sql")
    cluster.create_topic(topic)
    produce(cluster, topic, 10, "--prop", "a={i}", "--prop", "b=x", "--body", "x-{i}")
    produce(cluster, topic, 10, "--prop", "a={i}", "--prop", "b=y", "--body", "y-{i}")
    produce(cluster, topic, 3, "--prop", "b=x", "--body", "noa-{i}")
    expression = "(a BETWEEN 3 AND 7 AND b = 'x') OR (b <> 'x' AND a IN ('1', '2')) OR (a IS NULL AND b = 'z')"
    expected = {f"x-{i}" for i in range(3, 8)} | {"y-1", "y-2"}
    events = run_java_driver(["push-consume", "--topic", topic, "--group", group, "--sql", "--expr", expression,
                              "--count", str(len(expected)), "--timeout", "30", "--linger-ms", "1000",
                              "--vip", "false"], namesrv=cluster.addr, timeout=60)
    bodies = [e["body"] for e in messages(events)]
    assert sorted(bodies) == sorted(expected), events[-1]


def test_bad_sql92_expression_is_rejected_at_subscribe_time(cluster):
    topic, group = unique("SemSqlBad"), unique("GID_sql_bad")
    cluster.create_topic(topic)
    events = run_java_driver(["push-consume", "--topic", topic, "--group", group, "--sql", "--expr", "a >> 3",
                              "--count", "1", "--timeout", "10", "--vip", "false"],
                             namesrv=cluster.addr, timeout=60, check=False)
    errors = [e for e in events if e.get("event") == "error"]
    assert errors, events
    assert "does not compile" in errors[0]["error"] and 'unexpected ">" at position 4' in errors[0]["error"], errors
