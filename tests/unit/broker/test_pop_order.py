"""Orderly POP's per-queue state (ConsumerOrderInfo) on a manual clock: a queue is blocked while a
delivered message is neither acked nor past its invisible time; acks move the next offset to the
first message not acked; a redelivery counts one more attempt; a changed invisible time counts."""

from pocketmq.broker.pop_order import ConsumerOrderInfo
from pocketmq.clock import ManualClock

KEY = ("T", "G", 0)


def test_blocked_until_acked_or_invisible_time_over() -> None:
    clock = ManualClock(1_000_000)
    info = ConsumerOrderInfo(clock)
    assert not info.blocked(KEY, None)
    counts, minimum = info.update(KEY, clock.now_ms(), 5000, [10, 11, 12], None)
    assert (counts, minimum) == ({}, 0)
    assert info.blocked(KEY, None)
    pop_time = clock.now_ms()
    assert info.commit_and_next(KEY, 11, pop_time) == 10  # 10 still in flight
    assert info.commit_and_next(KEY, 10, pop_time) == 12
    assert info.commit_and_next(KEY, 99, pop_time) == -1  # never delivered by this pop
    assert info.commit_and_next(KEY, 12, pop_time - 1) == -2  # an older pop's receipt
    assert info.blocked(KEY, None)
    clock.advance(5000)
    assert not info.blocked(KEY, None)  # 12's invisible time is over
    counts, minimum = info.update(KEY, clock.now_ms(), 5000, [12, 13], None)
    assert counts == {12: 1} and minimum == 0
    assert info.commit_and_next(KEY, 12, clock.now_ms()) == 13
    assert info.commit_and_next(KEY, 13, clock.now_ms()) == 14
    assert not info.blocked(KEY, None)  # all acked


def test_same_attempt_is_not_blocked_nor_counted_and_visibility_can_change() -> None:
    clock = ManualClock(2_000_000)
    info = ConsumerOrderInfo(clock)
    info.update(KEY, clock.now_ms(), 60_000, [5], "attempt-1")
    assert not info.blocked(KEY, "attempt-1") and info.blocked(KEY, "attempt-2")
    counts, _ = info.update(KEY, clock.now_ms(), 60_000, [5], "attempt-1")  # the client's retry of a receive
    assert counts == {}
    pop_time = clock.now_ms()
    assert info.change_visibility(KEY, 5, pop_time, clock.now_ms() + 1000)
    assert not info.change_visibility(KEY, 6, pop_time, clock.now_ms() + 1000)
    clock.advance(1000)
    assert not info.blocked(KEY, None)


def test_persisted_in_upstreams_shape_and_read_back(tmp_path) -> None:
    clock = ManualClock(1_000_000)
    info = ConsumerOrderInfo(clock, str(tmp_path))
    info.update(KEY, clock.now_ms(), 5000, [10, 11, 13], "attempt-1")
    info.commit_and_next(KEY, 11, clock.now_ms())
    info.change_visibility(KEY, 10, clock.now_ms(), 1_009_000)
    info.persist()
    text = (tmp_path / "config" / "consumerOrderInfo.json").read_text()
    assert text == ('{"table":{"T@G":{"0":{"a":"attempt-1","cm":2,"i":5000,"l":1000000,"o":[10,1,3],'
                    '"ot":{"10":1009000},"popTime":1000000}}}}')
    again = ConsumerOrderInfo(clock, str(tmp_path))
    again.load()
    assert again.table == info.table
    assert again.blocked(KEY, None) and not again.blocked(KEY, "attempt-1")


def test_reads_the_file_apache_writes_and_drops_a_day_old_entry(tmp_path) -> None:
    # fastjson writes integer map keys unquoted; "oc" counts earlier deliveries
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "consumerOrderInfo.json").write_text(
        '{"table":{"T@G":{0:{"cm":0,"i":60000,"l":1000000,"o":[7],"oc":{7:2},"popTime":1000000}}}}')
    clock = ManualClock(1_030_000)
    info = ConsumerOrderInfo(clock, str(tmp_path))
    info.load()
    assert info.blocked(KEY, None)
    assert info.table[KEY].counts == {7: 2}
    clock.advance(24 * 3600 * 1000)
    assert b'"T@G"' not in info.encode()
