"""Kill -9 of the NEW master while the old master, rejoining as a slave, truncates its divergent
tail (controller mode, real processes), at many points of the truncation.

Broker A (the master) takes writes the others never get, then dies; B becomes master and takes
writes that C replicates. A is restarted with the test-only hook ``truncationTestPauseAtStep``:
its truncation for B stops after the named step; B is killed -9 right then (and, in some runs,
A too). C takes over. Everything is restarted. Then: no acknowledged message is lost, A and B
follow C and hold its commit log byte for byte up to its end (every send was acknowledged by the
whole SyncStateSet, so that is the confirmed offset), the divergent messages are gone, and the
three epoch files agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketmq.store.epoch_file import EpochFile
from pocketmq.store.truncation import intent_path
from tests.support.cluster import commit_log_bytes, pull_all, send_raw
from tests.support.controller_set import TOPIC, restart, restart_and_elect, route_master, safe_info, start_set
from tests.support.processes import Broker, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

# Steps of store/truncation.py, in order ("cq-" is the first consume queue cut).
STEPS = ["begin", "intent", "epoch", "commitlog-tail", "cq-", "index", "checkpoint", "cleared"]
# Small commit-log files, so the divergent tail spans several and their deletion is a step too.
SMALL_FILES = {"mappedFileSizeCommitLog": 4096}


def broker_log(broker: Broker) -> str:
    path = broker.home / "logs" / "rocketmqlogs" / "broker.log"
    return path.read_text(errors="replace") if path.exists() else ""


def keys_on(addr: str) -> set[bytes]:
    return {m.body for qid in range(4) for m in pull_all(addr, TOPIC, qid, timeout=3.0)}


def wait_identical(master: Broker, slave: Broker) -> int:
    ha = f":{master.port + 1}"
    wait_until(lambda: safe_info(slave.addr).get("haMasterAddress", "").endswith(ha), 60, 0.2,
               f"{slave.addr} to follow {master.addr}")
    end = wait_until(lambda: (lambda m, s: m if m == s and m > 0 else None)(
        int(safe_info(master.addr).get("commitLogMaxOffset", "-1")),
        int(safe_info(slave.addr).get("commitLogMaxOffset", "-2"))), 60, 0.2, f"{slave.addr} to catch up")
    assert commit_log_bytes(slave, end) == commit_log_bytes(master, end)
    return end


CASES = [(s, False, False) for s in STEPS] + [("epoch", True, False), ("cq-", True, False),
                                              ("commitlog-delete-", False, True), ("commitlog-delete-", True, True)]


@pytest.mark.parametrize("step,kill_slave_too,small_files", CASES)
def test_kill_new_master_during_rejoining_slaves_truncation(tmp_path: Path, procs, step: str,
                                                             kill_slave_too: bool, small_files: bool) -> None:
    files = SMALL_FILES if small_files else {}
    namesrv, controller, brokers, master_addr = start_set(tmp_path, procs, extra=files)
    by_addr = {b.addr: b for b in brokers}
    a = by_addr[master_addr]
    acked: set[bytes] = set()
    for i in range(20):
        assert send_raw(a.addr, TOPIC, f"replicated-{i}".encode()).code == 0
        acked.add(f"replicated-{i}".encode())
    others = [b for b in brokers if b is not a]
    for b in others:
        b.kill()
    for i in range(50):  # SEND_OK at once (WAIT=false), held by A alone: the divergent tail
        assert send_raw(a.addr, TOPIC, f"divergent-{i}".encode() * 20, props={"WAIT": "false"}).code == 0
    a.kill()

    # B (whichever the controller elects) becomes master; C catches up and joins its SyncStateSet.
    b, c = restart_and_elect(others, master_addr, namesrv, controller, procs, files)
    for i in range(20):
        assert send_raw(b.addr, TOPIC, f"on-b-{i}".encode()).code == 0
        acked.add(f"on-b-{i}".encode())

    # A comes back and truncates for B; B dies at the chosen step of A's truncation.
    a = restart(a, namesrv, controller, procs, {**files, "truncationTestPauseAtStep": step, "truncationTestPauseMillis": 4000})
    wait_until(lambda: f"truncation paused after step {step}" in broker_log(a), 60, 0.05,
               f"A's truncation to pause after step {step}")
    b.kill()
    if kill_slave_too:
        a.kill()
    wait_until(lambda: route_master(namesrv) == c.addr, 60, 0.1, "C to take over as brokerId 0")
    for i in range(20):
        response = wait_until(lambda: (lambda r: r if r.code == 0 else None)(send_raw(c.addr, TOPIC, f"on-c-{i}".encode())),
                              60, 0.2, "C to acknowledge a send")
        assert response.code == 0
        acked.add(f"on-c-{i}".encode())

    # Everything restarts: A (again, if it was killed) and B follow C.
    if kill_slave_too:
        a = restart(a, namesrv, controller, procs, files)
    b = restart(b, namesrv, controller, procs, files)
    for slave in (a, b):
        end = wait_identical(c, slave)
    assert end == int(safe_info(c.addr)["commitLogMaxOffset"])
    assert "truncating" in broker_log(a)
    assert not Path(intent_path(str(a.store_root))).exists()

    stored = keys_on(c.addr)
    lost = sorted(acked - stored)
    assert not lost, f"acknowledged messages lost: {lost[:10]}"
    assert not any(body.startswith(b"divergent") for body in stored)
    assert keys_on(a.addr) == stored == keys_on(b.addr)
    epochs = []
    for broker in (a, b, c):
        f = EpochFile(str(broker.store_root))
        f.load()
        epochs.append(f.entries)
    assert epochs[0] == epochs[1] == epochs[2] and len(epochs[2]) >= 3, epochs
