"""Unique message ids (UNIQ_KEY) with an injected clock across every calendar edge: the 32-bit
span since the local month start is what Java's ``(int)`` cast keeps (no overflow from day 24 on),
it restarts at each month start, ids decode back to their instant, and an NTP step backwards
neither crashes the generator nor repeats an id. Byte-for-byte equality with the Java client's
own code is tested in tests/interop/test_uniq_id_java.py."""

from __future__ import annotations

import pytest

from pocketmq.clock import ManualClock, month_bounds_ms
from pocketmq.protocol.message_id import UniqKeyGenerator, nearly_time_from_uniq_id
from tests.support.clock_edges import BERLIN, EDGES, Edge, at, local_tz


def span_of(uniq_id: str) -> int:
    return int(uniq_id[-12:-4], 16)


def make(clock: ManualClock, **kw) -> UniqKeyGenerator:
    return UniqKeyGenerator("192.168.0.7", kw.pop("pid", 4242), clock=clock, loader_hash=0x12345678,
                            counter_start=kw.pop("counter_start", 0))


@pytest.mark.parametrize("edge", EDGES, ids=str)
def test_ids_at_each_edge_carry_the_span_and_decode_back(edge: Edge) -> None:
    with local_tz(edge.tz):
        clock = ManualClock(edge.ms - 1)
        generator = make(clock)
        for instant in (edge.ms - 1, edge.ms, edge.ms + 1, edge.ms + 3_600_000):
            clock.set_wall(instant)
            uniq_id = generator.create()
            assert len(uniq_id) == 32 and uniq_id == uniq_id.upper()
            start, _ = month_bounds_ms(instant)
            assert span_of(uniq_id) == (instant - start) & 0xFFFFFFFF
            assert nearly_time_from_uniq_id(uniq_id, instant + 5000) == instant


def test_span_past_2_31_ms_is_javas_int_bits() -> None:
    with local_tz(BERLIN):
        start = at("2026-11-01 00:00:00", BERLIN)
        clock = ManualClock(start + 2**31 + 5)                 # 2026-11-25 20:31:23.653
        uniq_id = make(clock, counter_start=0xFFFF).create()
        assert uniq_id == "C0A80007" + "1092" + "12345678" + "80000005" + "FFFF"
        assert nearly_time_from_uniq_id(uniq_id, clock.now_ms() + 1) == clock.now_ms()


def test_pid_is_javas_short_cast() -> None:
    uniq_id = make(ManualClock(at("2026-11-02 00:00:00", BERLIN)), pid=40000).create()
    assert uniq_id[8:12] == "9C40"


def test_span_restarts_at_each_month_start() -> None:
    with local_tz(BERLIN):
        new_year = at("2027-01-01 00:00:00", BERLIN)
        clock = ManualClock(new_year - 2)
        generator = make(clock)
        spans = []
        for _ in range(4):
            spans.append(span_of(generator.create()))
            clock.advance(1)
        december = 31 * 86_400_000
        assert spans == [december - 2, december - 1, 0, 1]


@pytest.mark.parametrize("edge", EDGES, ids=str)
def test_ntp_step_back_keeps_ids_unique(edge: Edge) -> None:
    """10 s of ids, one a millisecond, then the wall clock steps back 10 s and 10 s more follow:
    the same instants come round twice, the counter keeps the ids apart."""
    with local_tz(edge.tz):
        clock = ManualClock(edge.ms - 5000)
        generator = make(clock)
        ids = []
        for _ in range(10_000):
            ids.append(generator.create())
            clock.advance(1)
        clock.step_wall(-10_000)
        for _ in range(10_000):
            ids.append(generator.create())
            clock.advance(1)
        assert len(set(ids)) == len(ids)


def test_step_back_just_past_a_month_start_reads_as_span_zero() -> None:
    """As upstream: the clock stepped back a little behind the month start the generator already
    moved to gives span 0 (not a huge unsigned value) until it catches up."""
    with local_tz(BERLIN):
        start = at("2026-12-01 00:00:00", BERLIN)
        clock = ManualClock(start + 2000)
        generator = make(clock)
        assert span_of(generator.create()) == 2000
        clock.step_wall(-10_000)
        assert span_of(generator.create()) == 0
        clock.advance(8001)
        assert span_of(generator.create()) == 1
