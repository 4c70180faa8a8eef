"""pocketmq.clock: Java-Calendar month bounds and hours in the local time zone across every
calendar edge, the deleteWhen hour on DST days, and the manual clock's steps."""

from __future__ import annotations

import pytest

from pocketmq.clock import ManualClock, local_datetime, local_hour_matches, month_bounds_ms
from tests.support.clock_edges import BERLIN, EDGES, NEW_YORK, Edge, at, local_tz


@pytest.mark.parametrize("edge", EDGES, ids=str)
def test_month_bounds_hold_each_edge(edge: Edge) -> None:
    with local_tz(edge.tz):
        for instant in (edge.ms - 1, edge.ms, edge.ms + 1):
            start, nxt = month_bounds_ms(instant)
            assert start <= instant < nxt
            first = local_datetime(start)
            assert (first.day, first.hour, first.minute, first.second, first.microsecond) == (1, 0, 0, 0, 0)
            after = local_datetime(nxt)
            assert (after.day, after.hour) == (1, 0)
            assert after.month == first.month % 12 + 1
            # 28 to 31 days, give or take the hour a DST change adds or takes
            assert 28 * 86_400_000 - 3_600_000 <= nxt - start <= 31 * 86_400_000 + 3_600_000


def test_month_start_is_local_midnight_not_utc() -> None:
    with local_tz(NEW_YORK):
        assert month_bounds_ms(at("2026-12-01 00:00:00", NEW_YORK))[0] == at("2026-12-01 00:00:00", NEW_YORK)
        assert month_bounds_ms(at("2026-11-30 23:59:59.999", NEW_YORK))[1] == at("2026-12-01 00:00:00", NEW_YORK)


def test_delete_when_hour_runs_on_the_day_dst_skips_it() -> None:
    with local_tz(BERLIN):
        two = {2}
        assert local_hour_matches(at("2026-03-28 02:30:00", BERLIN), two)        # an ordinary day
        assert not local_hour_matches(at("2026-03-28 03:30:00", BERLIN), two)
        # 29 March: 02:00 CET jumps to 03:00 CEST; the 02 job runs in the hour after the gap
        assert local_hour_matches(at("2026-03-29 03:00:00", BERLIN), two)
        assert local_hour_matches(at("2026-03-29 03:59:59", BERLIN), two)
        assert not local_hour_matches(at("2026-03-29 04:00:00", BERLIN), two)
        # 25 October: 02:00-03:00 happens twice; both passes are the deleteWhen hour
        assert local_hour_matches(at("2026-10-25 02:30:00", BERLIN, fold=0), two)
        assert local_hour_matches(at("2026-10-25 02:30:00", BERLIN, fold=1), two)
        assert not local_hour_matches(at("2026-10-25 03:30:00", BERLIN), two)
        assert local_hour_matches(at("2026-10-25 04:10:00", BERLIN), {4})


def test_manual_clock_steps_the_wall_clock_alone() -> None:
    clock = ManualClock(1_000_000, monotonic=50.0)
    clock.advance(1500)
    assert (clock.now_ms(), clock.monotonic()) == (1_001_500, 51.5)
    clock.step_wall(-10_000)  # an NTP step back
    assert (clock.now_ms(), clock.monotonic()) == (991_500, 51.5)
    with pytest.raises(ValueError):
        clock.advance(-1)
