"""The calendar and clock edges every time-reading piece of PocketMQ is tested across, as epoch
milliseconds with the time zone they are local to, and a context manager that sets the process's
time zone (``TZ`` + ``time.tzset``) the way an operator's environment does.

    @pytest.mark.parametrize("edge", EDGES, ids=str)
    def test_x(edge):
        with local_tz(edge.tz):
            ... ManualClock(edge.ms) ...
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
import zoneinfo
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Edge:
    name: str
    tz: str
    ms: int  # the first millisecond after the edge; ms - 1 is the last before it

    def __str__(self) -> str:
        return self.name


def at(local: str, tz: str, fold: int = 0) -> int:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]`` local to ``tz`` as epoch ms (``fold=1``: the second pass
    through an hour that DST repeats)."""
    when = datetime.datetime.fromisoformat(local).replace(tzinfo=zoneinfo.ZoneInfo(tz), fold=fold)
    return int(when.timestamp() * 1000)


BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"

EDGES = [
    Edge("31-day month end (new year)", BERLIN, at("2027-01-01 00:00:00", BERLIN)),
    Edge("30-day month end", NEW_YORK, at("2026-12-01 00:00:00", NEW_YORK)),
    Edge("Feb 28 -> 29 (leap year)", BERLIN, at("2028-02-29 00:00:00", BERLIN)),
    Edge("Feb 29 -> Mar 1", BERLIN, at("2028-03-01 00:00:00", BERLIN)),
    Edge("Feb 28 -> Mar 1 (common year)", NEW_YORK, at("2027-03-01 00:00:00", NEW_YORK)),
    Edge("Berlin spring forward", BERLIN, at("2026-03-29 03:00:00", BERLIN)),
    Edge("Berlin fall back (second 02:00)", BERLIN, at("2026-10-25 02:00:00", BERLIN, fold=1)),
    Edge("New York spring forward", NEW_YORK, at("2026-03-08 03:00:00", NEW_YORK)),
    Edge("New York fall back (second 01:00)", NEW_YORK, at("2026-11-01 01:00:00", NEW_YORK, fold=1)),
    Edge("2^31 ms into a month", BERLIN, at("2026-11-01 00:00:00", BERLIN) + 2**31),
    Edge("2^31 ms into a 31-day month", NEW_YORK, at("2026-12-01 00:00:00", NEW_YORK) + 2**31),
    Edge("2^31 s after the epoch (2038)", BERLIN, 2**31 * 1000),
]


@contextlib.contextmanager
def local_tz(tz: str) -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()
