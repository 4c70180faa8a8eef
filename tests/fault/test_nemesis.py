"""Jepsen-style nemesis run of controller mode (issue 17): a name server, our `mqcontroller` and
three PocketMQ brokers (allAckInSyncStateSet=true), each in its own network namespace on a
bridge; the official Java 4.x producer (8 threads, sync sends, unique keys) and push consumer in
the root namespace; a seeded schedule of kill -9 / SIGSTOP / partition of the master, a slave and
the controller, one at a time and then two at once. The checker asserts what a user would:
nothing acknowledged is lost, one master per epoch, no SEND_OK from a fenced master, replicas
byte-identical, epoch files agreeing; the write gaps and the consumer stall are printed (figures
for bench/README.md, not assertions).

Two shapes: one controller on its file store, and (for half the time) an etcd with two controllers
on it, where a "controller" fault hits one of the two. NEMESIS_SEED replays a run, NEMESIS_SECONDS
sets how long faults are injected (default 80 s; `make chaos` runs 600 s), NEMESIS_POLL_NAMESRV_MS
the clients' route refresh (pollNameServerInterval, default here 5000; the client's is 30000).
Every acknowledged message must also have been consumed."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.fault.nemesis import checker
from tests.fault.nemesis.net import Lab
from tests.fault.nemesis.runner import RunResult, run
from tests.fault.nemesis.schedule import Fault, every_single_fault, overlapping_steps, single_steps

SECONDS = float(os.environ.get("NEMESIS_SECONDS", "80"))
POLL_NAMESRV_MS = int(os.environ.get("NEMESIS_POLL_NAMESRV_MS", "5000"))

pytestmark = [pytest.mark.fault, pytest.mark.interop, pytest.mark.timeout(int(SECONDS * 2) + 600)]


@pytest.fixture
def root_netns():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    probe = Lab()
    try:
        probe.up()
        probe.add("probe")
    except Exception as exc:  # noqa: BLE001 - the kernel refuses bridges / namespaces here
        pytest.skip(f"the kernel refuses bridges or network namespaces here: {exc}")
    finally:
        probe.destroy()
    assert probe.leftovers() == []


def report(result: RunResult) -> str:
    lines = [f"nemesis seed={result.seed} store={result.store} faults for {result.seconds:.0f}s, run took {result.duration:.0f}s: "
             f"{len(result.acks)} SEND_OK, {result.send_errors} failed sends, {len(result.consumed)} keys consumed, "
             f"final master {result.final_master}, {result.end_offset} bytes of commit log"]
    for record in result.steps:
        lines.append(f"  {time.strftime('%T', time.gmtime(record.start))} {' + '.join(record.targets):50s} hold {record.step.hold:3.1f}s  no writes for "
                     f"{record.write_gap:5.1f}s  recovered {record.recovered - record.undone:5.1f}s after undo")
    gaps = [r.write_gap for r in result.steps] or [0.0]
    during = [" + ".join(r.targets) for r in result.steps if r.start - 1.0 <= result.consumer_stall_began <= r.recovered]
    lines.append(f"  longest write gap {max(gaps):.1f}s, longest consumer stall {result.consumer_stall:.1f}s "
                 f"(from {time.strftime('%T', time.gmtime(result.consumer_stall_began))} UTC, "
                 f"during: {', '.join(during) or 'no fault step'})")
    return "\n".join(lines)


def test_seeded_schedule_replays_and_covers_every_single_fault() -> None:
    first = [next(single_steps(42)) for _ in range(1)]
    assert first == [next(single_steps(42))]
    singles = single_steps(7)
    assert {s.faults[0] for s in (next(singles) for _ in range(9))} == set(every_single_fault())
    overlaps = overlapping_steps(7)
    for step in (next(overlaps) for _ in range(20)):
        assert len(step.faults) == 2 and step.faults[0].target != step.faults[1].target
    assert Fault("kill", "master") in every_single_fault()


def test_checker_catches_what_it_is_for() -> None:
    samples = [checker.RoleSample(1.0, "a", 1, True), checker.RoleSample(2.0, "b", 2, True),
               checker.RoleSample(3.0, "a", 2, True)]
    assert checker.split_masters(samples) == {2: {"a", "b"}}
    assert checker.longest_gap([1.0, 2.0, 6.0], 0.0, 7.0) == 4.0
    assert checker.consumer_stall([1.0, 9.0], [2.0, 3.0, 8.5]) == (7.0, 2.0)
    assert checker.consumer_stall([1.0, 9.0], [0.5]) == (0.0, 0.0)


# The etcd shape (two controllers sharing one etcd) gets half the time in the default run.
STORES = [pytest.param("file", SECONDS, id="file"), pytest.param("etcd", SECONDS / 2, id="etcd")]


@pytest.mark.parametrize("store,seconds", STORES)
def test_nemesis_kill_stop_partition_loses_nothing(tmp_path: Path, root_netns, store: str, seconds: float) -> None:
    seed = int(os.environ.get("NEMESIS_SEED", random.SystemRandom().randrange(1, 2**31)))
    print(f"\nnemesis seed {seed} (replay: NEMESIS_SEED={seed}), controller store {store}")
    result = run(tmp_path, seed, seconds, POLL_NAMESRV_MS, store,
                 say=lambda line: print(f"[{time.strftime('%T')}] {line}"))
    print(report(result))

    lost = checker.lost(result.acks, result.stored_keys)
    assert not lost, f"seed {seed}: {len(lost)} acknowledged messages not on the final master: {lost[:10]}"
    assert not checker.split_masters(result.samples), f"seed {seed}: two masters in one epoch"
    fenced = checker.fenced_acks(result.acks, result.log, result.set_hosts)
    assert not fenced, f"seed {seed}: {len(fenced)} SEND_OKs not in the converged log: {fenced[:10]}"
    assert result.logs_identical, f"seed {seed}: replicas differ below offset {result.end_offset}"
    entries = list(result.epoch_entries.values())
    assert all(e == entries[0] for e in entries), f"seed {seed}: epoch files differ: {result.epoch_entries}"
    assert len(result.steps) >= 2 and len(result.acks) > 200
    not_consumed = checker.lost(result.acks, set(result.consumed))
    assert not not_consumed, f"seed {seed}: {len(not_consumed)} acknowledged keys never consumed: {not_consumed[:10]}"
