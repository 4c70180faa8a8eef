"""The console's put-latency chart: the mean over an interval from two looks at each broker's
put distribution (each put taken as the middle of its bucket)."""

from pocketmq.console.service import BrokerRow, PutLatency, parse_distribution

NAMES = ("<=0ms", "0~10ms", "10~50ms", "50~100ms", "100~200ms", "200~500ms", "500ms~1s", "1~2s", "2~3s",
         "3~4s", "4~5s", "5~10s", "10s~")


def text(counts):
    return " ".join(f"[{n}]:{c}" for n, c in zip(NAMES, counts))


def row(counts):
    return BrokerRow("c", "b", 0, "127.0.0.1:10911", put_distribution=parse_distribution(text(counts)))


def test_mean_over_the_interval() -> None:
    latency = PutLatency()
    zero = [0] * 13
    assert latency.mean_ms([row(zero)]) == 0.0                       # nothing to compare with yet
    later = [0, 90, 10] + [0] * 10                                   # 90 puts of ~5 ms, 10 of ~30 ms
    assert latency.mean_ms([row(later)]) == 7.5
    assert latency.mean_ms([row(later)]) == 0.0                      # no puts since


def test_bad_distribution_text_is_ignored() -> None:
    assert parse_distribution("garbage") == []
    assert parse_distribution("") == []
