"""Timer (TIMER_DELIVER_MS) and delay-level (DELAY) messages across a controller-mode role
change, with real processes: messages sent to the master before it is killed -9 are delivered
by the new master once due (at least once, never before their time); messages the old master
delivered already may come again (the new master resumes from the replicated checkpoint and
delay offsets, at most a sync period old), none is lost."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.cluster import pull_all, send_raw
from tests.support.controller_set import TOPIC, restart, restart_and_elect, route_master, start_set, sync_state_set_size
from tests.support.processes import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

DELAYS_MS = {1: 1000, 3: 10_000}  # delay levels of messageDelayLevel "1s 5s 10s ..."


def delivered(addr: str) -> dict[str, list[int]]:
    """Key -> the store timestamps of its deliveries in the real topic."""
    out: dict[str, list[int]] = {}
    for qid in range(4):
        for m in pull_all(addr, TOPIC, qid, timeout=3.0):
            key = (m.properties or {}).get("KEYS", "")
            out.setdefault(key, []).append(m.store_timestamp)
    return out


def test_timer_and_delay_messages_sent_to_the_old_master_are_delivered_by_the_new(tmp_path: Path, procs) -> None:
    namesrv, _controller, brokers, master_addr = start_set(tmp_path, procs)
    due: dict[str, int] = {}  # key -> earliest delivery time (ms)

    def send(key: str, props: dict[str, str], due_ms: int) -> None:
        response = send_raw(master_addr, TOPIC, key.encode(), queue_id=len(due) % 4, props={"KEYS": key, **props})
        assert response.code == 0, response.remark
        due[key] = due_ms

    now = int(time.time() * 1000)
    # Due before the kill: the old master delivers them (the new one may deliver them again).
    for i in range(5):
        send(f"timer-early-{i}", {"TIMER_DELIVER_MS": str(now + 2000)}, now + 2000)
        send(f"delay1-{i}", {"DELAY": "1"}, now + DELAYS_MS[1])
    wait_until(lambda: set(due) <= set(delivered(master_addr)), 60, 0.2, "the early ones delivered by the old master")
    # Due after the kill: only the new master can deliver them.
    now = int(time.time() * 1000)
    for i in range(10):
        send(f"timer-late-{i}", {"TIMER_DELIVER_MS": str(now + 15_000 + 100 * i)}, now + 15_000 + 100 * i)
        send(f"delay3-{i}", {"DELAY": "3"}, now + DELAYS_MS[3])
    # Due around the kill: the old master is delivering them when it dies.
    for i in range(20):
        send(f"timer-around-{i}", {"TIMER_DELIVER_MS": str(now + 2000 + 150 * i)}, now + 2000 + 150 * i)
    late = {k for k in due if "late" in k or k.startswith("delay3")}
    around = {k for k in due if "around" in k}
    wait_until(lambda: len(around & set(delivered(master_addr))) >= 5, 60, 0.1, "the old master delivering")
    assert not late & set(delivered(master_addr)), "delivered before their time"
    {b.addr: b for b in brokers}[master_addr].kill()  # kill -9
    killed_ms = int(time.time() * 1000)
    assert killed_ms < min(due[k] for k in late), "the machine was too slow: the kill came after the due time"

    new_master = wait_until(lambda: (lambda a: a if a and a != master_addr else None)(route_master(namesrv)),
                            60, 0.1, "a new master in the route")
    got = wait_until(lambda: (lambda d: d if set(due) <= set(d) else None)(delivered(new_master)), 90, 0.5,
                     "every timer and delay message delivered by the new master")
    deliveries = {k: got[k] for k in due}
    for key, stamps in deliveries.items():
        assert min(stamps) >= due[key] - 5, f"{key} delivered at {min(stamps)}, due at {due[key]}"
    for key in late:
        # Delivered by the new master after the kill (the old one was dead by then).
        assert min(got[key]) >= killed_ms - 1000
    again = sum(len(stamps) - 1 for stamps in deliveries.values())
    print(f"\n[timer/delay across a failover] {len(due)} messages (30 due before the kill or around it), all "
          f"delivered by the new master; {again} delivered twice")


@pytest.mark.parametrize("after_sync", [True, False], ids=["after-checkpoint-copy", "before-checkpoint-copy"])
def test_unclean_failover_timer_messages_of_the_new_master_survive_the_old_masters_return(tmp_path: Path, procs,
                                                                                          after_sync: bool) -> None:
    """enableElectUncleanMaster=true. The master, alone in its SyncStateSet, delivers timer and
    delay-level messages nobody else has (its timer checkpoint and delay offset move past them) and
    dies; a slave is elected uncleanly and takes such messages at the same queue offsets. The old master comes back
    (truncates, replicates them, copies the new master's timer checkpoint, or not yet) and is
    promoted in its turn: it must deliver the new master's timer messages, not skip them as ones
    its own old checkpoint (or delay offsets) proved delivered."""
    fast = {"haMaxTimeSlaveNotCatchup": 2000, "checkSyncStateSetPeriod": 500}
    namesrv, controller, brokers, master_addr = start_set(tmp_path, procs, extra=fast,
                                                          controller_extra=["--enableElectUncleanMaster=true"])
    a = {b.addr: b for b in brokers}[master_addr]
    others = [b for b in brokers if b is not a]
    for b in others:
        b.kill()
    wait_until(lambda: sync_state_set_size(a.addr) == 1, 60, 0.2, "A alone in its SyncStateSet")
    now = int(time.time() * 1000)
    for i in range(5):
        assert send_raw(a.addr, TOPIC, f"divergent-{i}".encode(), queue_id=i % 4,
                        props={"KEYS": f"divergent-{i}", "TIMER_DELIVER_MS": str(now + 1000)}).code == 0
        assert send_raw(a.addr, TOPIC, f"divergent-delay-{i}".encode(), queue_id=i % 4,
                        props={"KEYS": f"divergent-delay-{i}", "DELAY": "3"}).code == 0
    wait_until(lambda: len([k for k in delivered(a.addr) if k.startswith("divergent")]) == 10, 60, 0.2,
               "A to deliver its own timer and delay messages")
    offsets = a.store_root / "config" / "delayOffset.json"
    wait_until(lambda: offsets.exists() and json.loads(offsets.read_text())["offsetTable"].get("3") == 5, 30, 0.2,
               "A's delay offset past its five delayed messages")
    checkpoint = a.store_root / "config" / "timerCheckpoint.json"
    wait_until(lambda: checkpoint.exists() and json.loads(checkpoint.read_text())["minPendingOffset"] >= 5,
               30, 0.2, "A's timer checkpoint past its five timer messages")
    a.kill()

    b, c = restart_and_elect(others, master_addr, namesrv, controller, procs, fast)
    due: dict[str, int] = {}
    now = int(time.time() * 1000)
    for i in range(5):  # the same timer-queue offsets 0..4 as A's
        key = f"on-b-{i}"
        due[key] = now + 30_000
        assert send_raw(b.addr, TOPIC, key.encode(), queue_id=i % 4,
                        props={"KEYS": key, "TIMER_DELIVER_MS": str(due[key])}).code == 0
    now = int(time.time() * 1000)
    for i in range(5):  # the same schedule-queue offsets 0..4 (delay level 3, 10 s) as A's
        key = f"on-b-delay-{i}"
        due[key] = now + 10_000
        assert send_raw(b.addr, TOPIC, key.encode(), queue_id=i % 4, props={"KEYS": key, "DELAY": "3"}).code == 0
    a = restart(a, namesrv, controller, procs, fast)
    checkpoint = a.store_root / "config" / "timerCheckpoint.json"
    wait_until(lambda: sync_state_set_size(b.addr) == 3, 60, 0.2, "A back in B's SyncStateSet")
    if after_sync:
        wait_until(lambda: json.loads(checkpoint.read_text())["loadedOffset"] == 5
                   and json.loads(checkpoint.read_text())["readTimeMs"] > 0, 60, 0.2,
                   "A to copy B's timer checkpoint (slave sync)")
    # else: promoted at once, perhaps before the first copy: its own checkpoint, cut with its store
    c.kill()
    b.kill()
    wait_until(lambda: route_master(namesrv) == a.addr, 60, 0.1, "A master again")
    # The timer messages are due well after; the delayed ones maybe not (B may have delivered them).
    assert int(time.time() * 1000) < min(t for k, t in due.items() if "delay" not in k), \
        "the machine was too slow: due before A took over"
    got = wait_until(lambda: (lambda d: d if set(due) <= set(d) else None)(delivered(a.addr)), 90, 0.5,
                     "A to deliver the timer and delayed messages B took")
    for key in due:
        assert min(got[key]) >= due[key] - 5
    assert not [k for k in got if k.startswith("divergent")], "A's truncated deliveries are gone"
