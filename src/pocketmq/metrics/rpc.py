"""rocketmq_rpc_latency: a histogram of request handling time, counted into plain ints per
(request code, response code, result, long polling) and turned into a family at scrape time.
Upstream's buckets (RemotingMetricsManager): 1, 3, 5, 7, 10, 100, 1000, 2000, 3000 ms."""

from __future__ import annotations

import bisect
from typing import Callable

from prometheus_client.core import HistogramMetricFamily

from pocketmq.metrics.buckets import RPC_LATENCY_BUCKETS_MS, cumulative
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand
LABELS = ("protocol_type", "request_code", "response_code", "is_long_polling", "result")


def request_code_name(code: int) -> str:
    """Upstream RemotingHelper.getRequestCodeDesc: the field name, lower case (else the number)."""
    try:
        return RequestCode(code).name.lower()
    except ValueError:
        return str(code)


def response_code_name(code: int) -> str:
    try:
        return ResponseCode(code).name.lower()
    except ValueError:
        return str(code)


class Buckets:
    """One histogram series: per-bucket counts (not cumulative), sum and count."""

    __slots__ = ("counts", "total", "count")

    def __init__(self, size: int) -> None:
        self.counts = [0] * (size + 1)
        self.total = 0.0
        self.count = 0



class RpcLatency:
    """A Dispatcher observer: ``dispatcher.observer = rpc.observe``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.table: dict[tuple[int, int, bool], Buckets] = {}  # (request code, response code or -1, held)

    def observe(self, request: RemotingCommand, response: RemotingCommand | None) -> None:
        elapsed_ms = (self.clock() - request.received_at) * 1000.0
        key = (request.code, -1 if response is None else response.code, request.suspended)
        series = self.table.get(key)
        if series is None:
            series = self.table[key] = Buckets(len(RPC_LATENCY_BUCKETS_MS))
        # most requests take under a millisecond: skip the search for them
        series.counts[0 if elapsed_ms <= 1.0 else bisect.bisect_left(RPC_LATENCY_BUCKETS_MS, elapsed_ms)] += 1
        series.total += elapsed_ms
        series.count += 1

    def family(self, base: dict[str, str]) -> HistogramMetricFamily:
        family = HistogramMetricFamily("rocketmq_rpc_latency", "Rpc latency (milliseconds)",
                                       labels=[*base, *LABELS], unit="")
        for (code, response_code, suspended), series in list(self.table.items()):
            oneway = response_code < 0
            labels = [*base.values(), "remoting", request_code_name(code),
                      "" if oneway else response_code_name(response_code),
                      "true" if suspended else "false", "oneway" if oneway else "success"]
            family.add_metric(labels, cumulative(RPC_LATENCY_BUCKETS_MS, series.counts), series.total)
        return family
