"""Histogram bucket bounds, RocketMQ 5's: message size (BrokerMetricsManager) and rpc latency
(RemotingMetricsManager). Shared by the counters on the hot paths and the collectors."""

from __future__ import annotations

# 1 KB, 4 KB, 512 KB, 1 MB, 2 MB, 4 MB (then +Inf)
MESSAGE_SIZE_BUCKETS = (1024, 4096, 512 * 1024, 1024 * 1024, 2 * 1024 * 1024, 4 * 1024 * 1024)
# milliseconds
RPC_LATENCY_BUCKETS_MS = (1.0, 3.0, 5.0, 7.0, 10.0, 100.0, 1000.0, 2000.0, 3000.0)


def cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, float]]:
    """Per-bucket counts (the last one above every bound) as Prometheus's cumulative le buckets."""
    running, out = 0, []
    for bound, n in zip((*bounds, float("inf")), counts):
        running += n
        out.append(("+Inf" if bound == float("inf") else repr(float(bound)), float(running)))
    return out
