"""BrokerStatsManager: upstream StatsItem windows (10 s / 10 min / 1 h samples, a zero sample one
period before the first), keys, and the counters behind the message families."""

from __future__ import annotations

from pocketmq.broker.stats_manager import BrokerStatsManager, message_type


class Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def test_unknown_item_is_none_and_fresh_item_is_all_zero():
    stats = BrokerStatsManager("C", Clock())
    assert stats.view("TOPIC_PUT_NUMS", "T") is None
    assert stats.view("NO_SUCH_SET", "T") is None
    assert stats.view("BROKER_PUT_NUMS", "C") is None  # created on first put, as upstream
    stats.on_put("T", "normal", 1, 100)
    assert stats.view("TOPIC_PUT_NUMS", "T") == {name: {"sum": 0, "tps": 0.0, "avgpt": 0.0}
                                                 for name in ("statsDay", "statsHour", "statsMinute")}


def test_minute_window_sums_tps_and_average_per_call():
    clock = Clock()
    stats = BrokerStatsManager("C", clock)
    stats.tick()  # boot: every window sampled (nothing yet)
    stats.on_put("T", "normal", 3, 300)  # a batch of 3: one call
    stats.on_put("T", "normal", 1, 100)
    clock.ms += 10_000
    stats.tick()
    minute = stats.view("TOPIC_PUT_NUMS", "T")["statsMinute"]
    assert minute == {"sum": 4, "tps": 4 * 1000 / 10_000, "avgpt": 2.0}
    assert stats.view("TOPIC_PUT_SIZE", "T")["statsMinute"]["sum"] == 400
    broker = stats.view("BROKER_PUT_NUMS", "C")["statsMinute"]
    assert broker["sum"] == 4 and broker["avgpt"] == 0.0  # upstream adds no call count there
    # The hour and day windows took their first sample at boot, before the item existed.
    assert stats.view("TOPIC_PUT_NUMS", "T")["statsHour"]["sum"] == 0
    clock.ms += 600_000
    stats.tick()
    assert stats.view("TOPIC_PUT_NUMS", "T")["statsHour"]["sum"] == 4


def test_minute_window_keeps_seven_samples():
    clock = Clock()
    stats = BrokerStatsManager("C", clock)
    stats.on_get("G", "T", 1, 10)
    for _ in range(10):
        clock.ms += 10_000
        stats.tick()
        stats.on_get("G", "T", 1, 10)
    minute = stats.view("GROUP_GET_NUMS", "T@G")["statsMinute"]
    assert minute["sum"] == 6 and abs(minute["tps"] - 0.1) < 1e-9  # six periods of one each


def test_message_families_leave_retry_and_dlq_out_and_bucket_sizes():
    stats = BrokerStatsManager("C", Clock())
    stats.on_put("%RETRY%G", "normal", 1, 100)
    stats.on_put("T", "normal", 2, 5000)  # 2500 bytes each: the 4 KB bucket
    stats.on_put("T", "delay", 1, 600)
    assert set(stats.typed_in) == {("T", "normal"), ("T", "delay")}
    normal = stats.typed_in[("T", "normal")]
    assert (normal.messages, normal.bytes, normal.size_count, normal.size_sum) == (2, 5000, 1, 2500)
    assert normal.size_buckets == [0, 1, 0, 0, 0, 0, 0]
    assert stats.view("TOPIC_PUT_NUMS", "%RETRY%G") is not None


def test_send_back_key_and_forget_topic():
    stats = BrokerStatsManager("C", Clock())
    stats.on_send_back("G", "T")
    stats.on_put("T", "normal", 1, 10)
    stats.on_get("G", "T", 1, 10)
    assert stats.view("SNDBCK_PUT_NUMS", "T@G") is not None
    stats.forget_topic("T")
    assert stats.view("TOPIC_PUT_NUMS", "T") is None and stats.view("GROUP_GET_NUMS", "T@G") is None
    assert stats.group_get() == [] and stats.typed_in == {}


def test_message_type_from_stored_properties():
    assert message_type("KEYS\x01k\x02") == "normal"
    assert message_type("DELAY\x013\x02") == "delay"
    assert message_type("TRAN_MSG\x01true\x02") == "transaction"
    assert message_type("__SHARDINGKEY\x01a\x02") == "fifo"
