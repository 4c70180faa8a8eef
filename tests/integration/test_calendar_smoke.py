"""The calendar smoke: a name server, a broker, PocketMQ's own Python producer and push consumer
and ``mqadmin`` (sendMessage, queryMsgById, queryMsgByKey), a delayed message and a broker
restart, every process under libfaketime with TZ=Europe/Berlin, at two dates:

- 2026-12-31 23:59:30, so the run crosses into the new year: sends before and after midnight,
  the delayed message stored in one year and delivered in the next, the restart after midnight;
- 2027-01-28 21:00:00, the 28th of a 31-day month in the evening: 2^31 ms and more since the
  month began, where PocketMQ's client once failed every send.

Every process gets the same clock offset, so they agree on the time. (Debian's ``faketime`` is
installed by tests/interop/setup.sh, which ``make test`` runs; ``make calendar-smoke`` runs
this file alone.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pocketmq.protocol.message_id import nearly_time_from_uniq_id
from tests.support.clock_edges import local_tz
from tests.support.faketime import faketime_env, local_ms, local_text
from tests.support.processes import BIN, ROOT, start_broker, start_namesrv, wait_until

pytestmark = pytest.mark.timeout(240)

TZ = "Europe/Berlin"
CLIENT = Path(__file__).with_name("calendar_client.py")
DELAY_LEVEL_10S = 3


class FakeClock:
    """The faked wall clock every process of one smoke shares."""

    def __init__(self, local_start: str) -> None:
        self.env = faketime_env(local_start, TZ)
        self.offset_ms = local_ms(local_start, TZ) - time.time() * 1000

    def now_ms(self) -> int:
        return int(time.time() * 1000 + self.offset_ms)


def run_client(clock: FakeClock, home: Path, *args: object, timeout: float = 90) -> list[dict]:
    cp = subprocess.run([sys.executable, str(CLIENT), *map(str, args)], capture_output=True, text=True,
                        timeout=timeout, env={**_base_env(home), **clock.env}, cwd=str(ROOT))
    assert cp.returncode == 0, cp.stderr[-3000:]
    assert "Traceback" not in cp.stderr, cp.stderr[-3000:]
    return [json.loads(line) for line in cp.stdout.splitlines() if line.startswith("{")]


def mqadmin(clock: FakeClock, home: Path, *args: object) -> str:
    cp = subprocess.run(["bash", str(BIN / "mqadmin"), *map(str, args)], capture_output=True, text=True,
                        timeout=60, env={**_base_env(home), **clock.env})
    assert cp.returncode == 0, (args, cp.stdout[-2000:], cp.stderr[-2000:])
    return cp.stdout


def _base_env(home: Path) -> dict[str, str]:
    return dict(os.environ, HOME=str(home), POCKETMQ_VENV=str(Path(sys.executable).parent.parent))


def sends_ok(events: list[dict], count: int) -> list[dict]:
    sent = [e for e in events if e["event"] == "send"]
    assert [e["status"] for e in sent] == ["SEND_OK"] * count, events
    return sent


def year_of(ms: int) -> str:
    return local_text(ms, TZ)[:4]


@pytest.mark.parametrize("local_start, crossing", [
    ("2026-12-31 23:59:30", "2027-01-01 00:00:00"),
    ("2027-01-28 21:00:00", None),
], ids=["new-year", "28th-21h"])
def test_calendar_smoke(tmp_path: Path, local_start: str, crossing: str | None) -> None:
    clock = FakeClock(local_start)
    env = clock.env
    ns = start_namesrv(tmp_path / "ns", env=env)
    broker = start_broker(tmp_path / "broker", ns.addr, env=env, extra={"autoCreateTopicEnable": "true"})
    try:
        topic, n = "CalendarTopic", 10
        mqadmin(clock, tmp_path, "updateTopic", "-n", ns.addr, "-b", broker.addr, "-t", topic)
        before = sends_ok(run_client(clock, tmp_path, "produce", ns.addr, topic, "before", n), n)
        delayed = sends_ok(run_client(clock, tmp_path, "produce", ns.addr, topic, "delayed", 1, DELAY_LEVEL_10S), 1)
        out = mqadmin(clock, tmp_path, "sendMessage", "-n", ns.addr, "-t", topic, "-p", "from mqadmin", "-k", "admin-0")
        assert "SEND_OK" in out, out
        with local_tz(TZ):  # our ids decode back to the (faked) instant they were made
            for event in before:
                assert abs(nearly_time_from_uniq_id(event["msgId"], clock.now_ms()) - event["now"]) < 5000

        if crossing is not None:
            edge = local_ms(crossing, TZ)
            assert before[-1]["now"] < edge, "the first sends were meant to happen before the edge"
            wait_until(lambda: clock.now_ms() > edge + 500, timeout=60, message=f"the faked clock to pass {crossing}")

        broker.terminate()
        broker = start_broker(tmp_path / "broker", ns.addr, port=broker.port, env=env,
                              extra={"autoCreateTopicEnable": "true"})
        after = sends_ok(run_client(clock, tmp_path, "produce", ns.addr, topic, "after", n), n)

        keys = [e["key"] for e in before + delayed + after] + ["admin-0"]
        events = run_client(clock, tmp_path, "consume", ns.addr, topic, "calendar_group", 60, *keys)
        assert events[-1] == {"event": "done"}, events[-3:]
        got = {e["key"]: e for e in events if e["event"] == "msg"}
        assert set(got) == set(keys)
        d = got["delayed-0"]
        assert d["stored"] - delayed[0]["now"] >= 10_000 - 1000, d   # not before its 10 s delay
        if crossing is not None:
            assert year_of(got["before-0"]["stored"]) == "2026" and year_of(got["after-0"]["stored"]) == "2027"

        by_id = mqadmin(clock, tmp_path, "queryMsgById", "-n", ns.addr, "-i",
                        f"{before[3]['offsetMsgId']},{after[3]['offsetMsgId']}")
        assert "before-3" in by_id and "after-3" in by_id, by_id
        for key in ("before-7", "after-7", "admin-0"):
            by_key = mqadmin(clock, tmp_path, "queryMsgByKey", "-n", ns.addr, "-t", topic, "-k", key)
            assert len(by_key.strip().splitlines()) == 2, by_key   # the header and one message
        unique = mqadmin(clock, tmp_path, "queryMsgByUniqueKey", "-n", ns.addr, "-t", topic, "-i", after[5]["msgId"])
        assert "after-5" in unique
        assert local_text(got["after-5"]["stored"], TZ)[:10] in unique  # Store Timestamp, local date
    finally:
        broker.kill()
        ns.kill()
