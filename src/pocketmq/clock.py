"""Time as an input.

Owns: the ``Clock`` every piece of PocketMQ that reads the time is given (wall-clock epoch
milliseconds for timestamps that go on the wire or to disk, a monotonic reading for timeouts and
intervals), the system clock used in production, a ``ManualClock`` that tests and simulations
step by hand (month ends, DST, 2^31 ms, 2038, an NTP step backwards), and the local-calendar
arithmetic that RocketMQ does with ``java.util.Calendar`` (month start, hour of day), in the
process's time zone (``TZ``) as Java's default time zone.

Imports nothing from PocketMQ: every room may use it.
"""

from __future__ import annotations

import datetime
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time, milliseconds since the epoch. May step backwards (NTP)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start; never goes backwards."""
        ...


class SystemClock:
    """The operating system's clocks."""

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()


class ManualClock:
    """A clock that moves only when told to. ``advance`` moves both readings, as time passing
    does; ``step_wall`` moves only the wall clock, as an NTP step or an operator's ``date -s``."""

    def __init__(self, now_ms: int, monotonic: float = 1000.0) -> None:
        self._now_ms = int(now_ms)
        self._monotonic = float(monotonic)

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("time passing cannot go backwards; use step_wall for a clock step")
        self._now_ms += int(ms)
        self._monotonic += ms / 1000

    def step_wall(self, ms: int) -> None:
        self._now_ms += int(ms)

    def set_wall(self, now_ms: int) -> None:
        self._now_ms = int(now_ms)


def local_datetime(epoch_ms: int) -> datetime.datetime:
    """The naive local date and time of an instant (``TZ``), milliseconds kept."""
    seconds, millis = divmod(int(epoch_ms), 1000)
    return datetime.datetime.fromtimestamp(seconds).replace(microsecond=millis * 1000)


def local_epoch_ms(when: datetime.datetime) -> int:
    """A naive local date and time back to epoch ms. A time that does not exist (the hour a DST
    change skips) or exists twice is resolved as ``mktime`` does, like Java's lenient Calendar."""
    return int(when.timestamp() * 1000)


def month_bounds_ms(epoch_ms: int) -> tuple[int, int]:
    """(start of this month, start of next month) in local time, as epoch ms: Java's Calendar
    with DAY_OF_MONTH=1, 00:00:00.000, then MONTH + 1."""
    start = local_datetime(epoch_ms).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        nxt = start.replace(year=start.year + 1, month=1)
    else:
        nxt = start.replace(month=start.month + 1)
    return local_epoch_ms(start), local_epoch_ms(nxt)


def local_hour(epoch_ms: int) -> int:
    return local_datetime(epoch_ms).hour


def local_hour_matches(epoch_ms: int, hours: set[int]) -> bool:
    """Whether the local hour of ``epoch_ms`` is one of ``hours`` (RocketMQ's ``deleteWhen``).
    An hour that a spring-forward DST change skips (02 in Berlin, late March) matches in the
    first hour after the gap, so a daily job set for it still runs that day."""
    hour = local_hour(epoch_ms)
    if hour in hours:
        return True
    skipped = (hour - 1) % 24
    return skipped in hours and local_hour(epoch_ms - 3_600_000) not in (skipped, hour)
