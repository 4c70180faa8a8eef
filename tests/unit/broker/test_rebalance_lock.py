"""Orderly-consumer queue locks: one holder per (group, queue), renewal, 60 s expiry."""

from pocketmq.broker.rebalance_lock import RebalanceLockManager
from pocketmq.protocol.client_bodies import MessageQueue

Q0 = MessageQueue("T", "broker-a", 0)
Q1 = MessageQueue("T", "broker-a", 1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_holder_per_group_and_queue():
    locks = RebalanceLockManager(FakeClock())
    assert locks.try_lock_batch("G", [Q0, Q1], "c1") == [Q0, Q1]
    assert locks.try_lock_batch("G", [Q0, Q1], "c2") == []
    assert locks.try_lock_batch("OtherGroup", [Q0], "c2") == [Q0]
    locks.unlock_batch("G", [Q0], "c2")  # not the holder: no effect
    assert locks.try_lock_batch("G", [Q0], "c2") == []
    locks.unlock_batch("G", [Q0], "c1")
    assert locks.try_lock_batch("G", [Q0], "c2") == [Q0]


def test_lock_expires_60_seconds_after_last_renewal():
    clock = FakeClock()
    locks = RebalanceLockManager(clock)
    locks.try_lock_batch("G", [Q0], "c1")
    clock.now += 59
    assert locks.try_lock_batch("G", [Q0], "c1") == [Q0]  # renewal
    clock.now += 59
    assert locks.try_lock_batch("G", [Q0], "c2") == []
    clock.now += 2
    assert locks.try_lock_batch("G", [Q0], "c2") == [Q0]
    assert locks.is_locked("G", Q0, "c2") and not locks.is_locked("G", Q0, "c1")
