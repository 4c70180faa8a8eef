"""Unique message ids against the official Java client's own MessageClientIDSetter (from the
4.9.7 jars): ids made by both at the same instants are byte-identical, including right after
2^31 ms into a month (day 24-25, where PocketMQ's client once failed every send) and across a
month rollover; and Java's getNearlyTimeFromID reads our ids back to the instant they were made.

The Java side runs under libfaketime, started shortly before each edge; every id it prints whose
clock reading did not move during the call pins an instant, which our generator is then given
through an injected clock, with Java's ip, pid, class-loader hash and counter."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from pocketmq.clock import ManualClock
from pocketmq.protocol.message import unpack_ip
from pocketmq.protocol.message_id import UniqKeyGenerator, nearly_time_from_uniq_id
from tests.support.clock_edges import local_tz
from tests.support.faketime import faketime_start_env, local_ms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import _run, client_env, java_cmd  # noqa: E402

pytestmark = pytest.mark.interop

TZ = "Europe/Berlin"
SPAN_2_31 = 2**31


def java_ids(start_local: str, until_ms: int) -> list[dict]:
    env = client_env(faketime_start_env(start_local, TZ))
    events = _run(java_cmd("pocketmq.interop.UniqIds", ["create", str(until_ms)]), 60, False, env, "UniqIds")
    ids = [e for e in events if e.get("event") == "id"]
    assert ids, "the Java side made no ids"
    return ids


def java_decode(now_local: str, ids: list[str]) -> dict[str, int]:
    env = client_env(faketime_start_env(now_local, TZ))
    events = _run(java_cmd("pocketmq.interop.UniqIds", ["decode", *ids]), 60, False, env, "UniqIds")
    return {e["id"]: e["time"] for e in events if e.get("event") == "decoded"}


def generator_like(java_id: str, clock: ManualClock) -> UniqKeyGenerator:
    raw = bytes.fromhex(java_id)
    ip_len = 16 if len(raw) == 28 else 4
    pid = int.from_bytes(raw[ip_len:ip_len + 2], "big")
    loader_hash = int.from_bytes(raw[ip_len + 2:ip_len + 6], "big")
    counter = int.from_bytes(raw[-2:], "big")
    return UniqKeyGenerator(unpack_ip(raw[:ip_len]), pid, clock=clock, loader_hash=loader_hash,
                            counter_start=counter)


def span_of(uniq_id: str) -> int:
    raw = bytes.fromhex(uniq_id)
    return int.from_bytes(raw[-6:-2], "big")


@pytest.fixture
def berlin():
    with local_tz(TZ):
        yield


def assert_same_as_java(java: list[dict]) -> list[dict]:
    """Replays Java's pinned instants, in order, through one generator of ours (so its month
    bounds move as Java's do); returns the pinned events."""
    pinned = [e for e in java if e["before"] == e["after"]]
    assert len(pinned) >= 20, f"too few pinned instants ({len(pinned)} of {len(java)})"
    clock = ManualClock(pinned[0]["before"])
    ours = generator_like(pinned[0]["id"], clock)
    for event in pinned:
        clock.set_wall(event["before"])
        # Java's counter also moved for the ids whose instant was not pinned: follow it.
        ours._counter = itertools.count(int(event["id"][-4:], 16))
        assert ours.create() == event["id"], f"instant {event['before']}"
    return pinned


def test_ids_match_java_across_2_31_ms_into_a_month(berlin: None, interop_ready: None) -> None:
    edge = local_ms("2026-11-01 00:00:00", TZ) + SPAN_2_31          # 2026-11-25 20:31:23.648
    java = java_ids("2026-11-25 20:31:19", edge + 1500)
    pinned = assert_same_as_java(java)
    assert pinned[0]["before"] < edge <= pinned[-1]["before"], "the run did not cross 2^31 ms"
    spans = [span_of(e["id"]) for e in pinned]
    assert min(spans) < SPAN_2_31 <= max(spans)


def test_ids_match_java_across_a_month_rollover(berlin: None, interop_ready: None) -> None:
    edge = local_ms("2026-12-01 00:00:00", TZ)
    java = java_ids("2026-11-30 23:59:56", edge + 1500)
    pinned = assert_same_as_java(java)
    before = [e for e in pinned if e["before"] < edge]
    after = [e for e in pinned if e["before"] >= edge]
    assert before and after, "the run did not cross the month end"
    assert min(span_of(e["id"]) for e in after) < 2000  # counted from December 1st again


@pytest.mark.parametrize("edge_local, now_local", [
    ("2026-11-25 20:31:23.648", "2026-11-25 20:31:30"),   # 2^31 ms into November
    ("2026-12-01 00:00:00", "2026-12-01 00:00:05"),       # the month's last and first ms
    ("2028-02-29 12:00:00", "2028-02-29 12:00:05"),       # a leap day
    ("2026-03-29 03:00:00", "2026-03-29 03:00:05"),       # Berlin's spring-forward hour
])
def test_java_reads_our_ids_back_to_their_instant(berlin: None, interop_ready: None,
                                                  edge_local: str, now_local: str) -> None:
    edge = local_ms(edge_local, TZ)
    instants = [edge - 1, edge, edge + 1]
    clock = ManualClock(instants[0])
    generator = UniqKeyGenerator("10.0.0.7", 4242, clock=clock)
    ids = []
    for instant in instants:
        clock.set_wall(instant)
        ids.append(generator.create())
    decoded = java_decode(now_local, ids)
    now = local_ms(now_local, TZ)
    for instant, uniq_id in zip(instants, ids):
        assert decoded[uniq_id] == instant, uniq_id
        assert nearly_time_from_uniq_id(uniq_id, now) == instant
