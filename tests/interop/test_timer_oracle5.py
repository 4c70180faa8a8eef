"""Timer messages against the oracle: the same remoting sends to a real Apache RocketMQ 5.3.3 broker
and to a PocketMQ broker, both with timerMaxDelaySec=60, get the same answers — the response code
and remark for a time beyond the maximum and for one that is not a number, SUCCESS for a time in
the past (stored at once) — and a timer message comes back from both, never before its time,
carrying the same timer properties. A DELAY level on a timer message wins on both."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from apache5 import apache5_broker, apache5_namesrv  # type: ignore[import-not-found]
from pocketmq.remoting.codes import ResponseCode
from tests.support.cluster import create_topic, pull_all, send_raw
from tests.support.processes import start_broker, start_namesrv, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]

TOPIC = "TimerOracle"
CONFIG = {"timerMaxDelaySec": 60}
# What a delivered message carries that says how it was delivered: compared by name.
TIMER_KEYS = {"TIMER_DELIVER_MS", "TIMER_DELAY_SEC", "TIMER_DELAY_MS", "TIMER_OUT_MS", "TIMER_ENQUEUE_MS",
              "TIMER_DEQUEUE_MS", "TIMER_ROLL_TIMES", "REAL_TOPIC", "REAL_QID", "DELAY"}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture(scope="module")
def brokers(tmp_path_factory: pytest.TempPathFactory, interop_ready: None) -> Iterator[dict[str, str]]:
    tmp: Path = tmp_path_factory.mktemp("timer-oracle")
    with apache5_namesrv() as ans, apache5_broker(ans.addr, **CONFIG) as apache, \
            start_namesrv(tmp / "ns") as ns, start_broker(tmp / "b", ns.addr, extra=CONFIG) as ours:
        addrs = {"apache": apache.addr, "pocketmq": ours.addr}
        for addr in addrs.values():
            wait_until(lambda: _created(addr), 60, 1.0, f"topic {TOPIC} on {addr}")
        yield addrs


def _created(addr: str) -> bool:
    try:
        create_topic(addr, TOPIC, queues=1)
        return True
    except AssertionError:
        return False


def both(brokers: dict[str, str], props: dict[str, str], body: bytes,
         sent_at: dict[str, int] | None = None) -> dict[str, tuple[int, str | None]]:
    out = {}
    for name, addr in brokers.items():
        if sent_at is not None:
            sent_at[name] = now_ms()
        response = send_raw(addr, TOPIC, body, props=props)
        out[name] = (response.code, response.remark)
    return out


def find(addr: str, body: bytes):
    for msg in pull_all(addr, TOPIC, 0, timeout=5):
        if msg.body == body:
            return msg
    return None


def test_beyond_the_maximum_same_code_and_remark(brokers) -> None:
    answers = both(brokers, {"TIMER_DELIVER_MS": str(now_ms() + 120_000)}, b"too far")
    assert answers["pocketmq"] == answers["apache"]
    assert answers["apache"][0] == ResponseCode.MESSAGE_ILLEGAL
    assert "60000ms" in (answers["apache"][1] or "")
    answers = both(brokers, {"TIMER_DELAY_SEC": "61"}, b"too far, relative")
    assert answers["pocketmq"] == answers["apache"]


def test_not_a_number_same_code_and_remark(brokers) -> None:
    for value in ("tomorrow", "1.5e12", "99999999999999999999"):
        answers = both(brokers, {"TIMER_DELIVER_MS": value}, b"bad " + value.encode())
        assert answers["pocketmq"] == answers["apache"], value
        assert answers["apache"][0] == ResponseCode.MESSAGE_ILLEGAL, value


def test_a_time_in_the_past_is_stored_at_once_on_both(brokers) -> None:
    body = b"past %d" % now_ms()
    answers = both(brokers, {"TIMER_DELIVER_MS": str(now_ms() - 5000)}, body)
    assert {code for code, _ in answers.values()} == {ResponseCode.SUCCESS}
    found = {name: find(addr, body) for name, addr in brokers.items()}
    assert all(found.values()), found
    keys = {name: set(msg.properties) & TIMER_KEYS for name, msg in found.items()}
    assert keys["pocketmq"] == keys["apache"] == {"TIMER_DELIVER_MS"}


@pytest.mark.parametrize("props, delay_ms", [
    ({"TIMER_DELAY_MS": "2500"}, 2500),
    ({"TIMER_DELAY_SEC": "3"}, 3000),
])
def test_a_timer_arrives_at_its_time_with_the_same_properties(brokers, props: dict[str, str], delay_ms: int) -> None:
    body = b"timer %s %d" % (str(props).encode(), now_ms())
    sent_at: dict[str, int] = {}
    answers = both(brokers, props, body, sent_at)
    assert {code for code, _ in answers.values()} == {ResponseCode.SUCCESS}, answers
    found = {name: find(addr, body) for name, addr in brokers.items()}
    assert found == {"apache": None, "pocketmq": None}  # held back on both
    delivered = {name: wait_until(lambda a=addr: find(a, body), 60, 0.2, f"the timer on {name}")
                 for name, addr in brokers.items()}
    keys = {name: set(msg.properties) & TIMER_KEYS for name, msg in delivered.items()}
    assert keys["pocketmq"] == keys["apache"], keys
    lateness = {name: msg.store_timestamp - (sent_at[name] + delay_ms) for name, msg in delivered.items()}
    assert lateness["apache"] >= 0 and lateness["pocketmq"] >= 0, lateness  # never early
    # the precision (1 s, both) plus a second for a loaded 2-core machine running both brokers
    # (the oracle was seen 2.4 s late once here, PocketMQ 1.4 s; tests/integration and
    # tests/interop/test_timer_clients5.py hold PocketMQ to 1 s with a 100 ms precision)
    assert lateness["pocketmq"] < 2000, lateness


def test_a_delay_level_wins_over_the_timer_on_both(brokers) -> None:
    body = b"level %d" % now_ms()
    answers = both(brokers, {"DELAY": "1", "TIMER_DELIVER_MS": str(now_ms() + 50_000)}, body)
    assert {code for code, _ in answers.values()} == {ResponseCode.SUCCESS}
    delivered = {name: wait_until(lambda a=addr: find(a, body), 30, 0.2, f"the level-1 message on {name}")
                 for name, addr in brokers.items()}  # level 1 (1 s), not the timer's 50 s
    keys = {name: set(msg.properties) & TIMER_KEYS for name, msg in delivered.items()}
    # Neither keeps a timer property. Apache also keeps DELAY in the delivered message (its
    # ScheduleMessageService encodes the properties before it clears DELAY); PocketMQ's delay-level
    # path (broker/schedule.py) drops it: a difference of the 18 levels, not of timers.
    assert keys["pocketmq"] == keys["apache"] - {"DELAY"} == {"REAL_TOPIC", "REAL_QID"}, keys
