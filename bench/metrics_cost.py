"""What built-in metrics cost a sending broker, three ways:

1. the per-call cost of the two hot-path hooks (the stats counter every send runs, and the rpc
   latency observer ``PROM`` adds);
2. in process (``--inprocess``, the steadiest figure on a shared machine): the broker's send
   handler called directly on a real store, with the stats counter stubbed out ("bare"), as
   shipped ("stats", always on, as upstream's BrokerStatsManager), and with the rpc observer too
   ("prom"), alternating rounds; CPU microseconds per send;
3. end to end: the same send load from a Python producer against a real broker with
   ``metricsExporterType=DISABLE`` and one with ``PROM`` (scraped every second), alternating
   rounds; send TPS and broker CPU microseconds per message.

    .venv/bin/python bench/metrics_cost.py [--count 20000] [--size 128] [--rounds 3] [--inflight 256]
    .venv/bin/python bench/metrics_cost.py --inprocess [--count 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import statistics
import sys
import tempfile
import threading
import time
import timeit
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lib import procstat  # noqa: E402
from pocketmq.broker.stats_manager import BrokerStatsManager  # noqa: E402
from pocketmq.client import AsyncProducer, Message  # noqa: E402
from pocketmq.client.admin import AsyncAdmin  # noqa: E402
from pocketmq.metrics.rpc import RpcLatency  # noqa: E402
from pocketmq.remoting.command import make_request, make_response  # noqa: E402
from tests.support.processes import free_port, start_broker, start_namesrv  # noqa: E402


def hook_costs() -> dict[str, float]:
    """Nanoseconds per call of the hot-path hooks, in this process."""
    stats = BrokerStatsManager("C")
    rpc = RpcLatency(time.perf_counter)
    request = make_request(310, {})
    request.received_at = time.perf_counter()
    response = make_response(request)
    n = 200_000
    put = timeit.timeit(lambda: stats.on_put("BenchTopic", "normal", 1, 300), number=n) / n * 1e9
    get = timeit.timeit(lambda: stats.on_get("G", "BenchTopic", 32, 9600, 1, 100), number=n) / n * 1e9
    observe = timeit.timeit(lambda: rpc.observe(request, response), number=n) / n * 1e9
    empty = timeit.timeit(lambda: None, number=n) / n * 1e9
    return {"on_put_ns": put - empty, "on_get_ns": get - empty, "rpc_observe_ns": observe - empty}


async def send_load(ns: str, topic: str, count: int, size: int, inflight: int) -> float:
    async with AsyncAdmin(ns) as admin:
        await admin.create_topic(topic, cluster="DefaultCluster", read_queue_nums=4, write_queue_nums=4)
    body = b"x" * size
    async with AsyncProducer("bench_metrics_pg", ns, send_timeout=10) as producer:
        for _ in range(50):  # route, connection, warm caches
            await producer.send(Message(topic, body))
        sem = asyncio.Semaphore(inflight)

        async def one() -> None:
            async with sem:
                await producer.send(Message(topic, body))

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return time.perf_counter() - t0


def scraper(port: int, stop: threading.Event, scrapes: list[float]) -> None:
    """Scrape every second; ``scrapes`` gets each scrape's duration in ms."""
    while not stop.wait(1.0):
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            response.read()
        scrapes.append((time.perf_counter() - t0) * 1000)


async def answered(result: Any) -> Any:
    """A handler's answer: returned at once, or by the coroutine it returned (as the transport)."""
    return await result if inspect.iscoroutine(result) else result


async def inprocess_round(mode: str, count: int, size: int, root: Path) -> float:
    """CPU microseconds per send through SendProcessor.process on a fresh store (ASYNC_FLUSH)."""
    from pocketmq.broker.controller import BrokerController
    from pocketmq.config import BrokerConfig, MessageStoreConfig
    from pocketmq.protocol.client_headers import SendMessageRequestHeader
    from pocketmq.protocol.route import TopicConfig
    from pocketmq.remoting.codes import RequestCode
    from pocketmq.remoting.header import encode_header

    class Channel:
        remote_address = "127.0.0.1:40000"

    config = BrokerConfig(brokerName="bench", brokerIP1="127.0.0.1", listenPort=free_port(), namesrvAddr="")
    store_config = MessageStoreConfig(storePathRootDir=str(root), mappedFileSizeCommitLog=256 * 1024 * 1024)
    broker = BrokerController(config, store_config)
    await broker.store.start()
    broker.topic_config_manager.update(TopicConfig("BenchTopic", 4, 4))
    if mode == "bare":
        broker.stats_manager.on_put = lambda *args: None  # type: ignore[method-assign]
    rpc = RpcLatency(time.perf_counter) if mode == "prom" else None
    header = SendMessageRequestHeader(producerGroup="pg", topic="BenchTopic", defaultTopic="TBW102",
                                      defaultTopicQueueNums=4, queueId=0, sysFlag=0, bornTimestamp=0, flag=0,
                                      properties="UNIQ_KEY\x01ABC\x02WAIT\x01true\x02TAGS\x01TagA\x02")
    fields = encode_header(header, short_names=True)
    body, channel, process = b"x" * size, Channel(), broker.send_processor.process
    try:
        for _ in range(2000):  # warm up: first pages of the mapped file, caches
            await answered(process(make_request(RequestCode.SEND_MESSAGE_V2, dict(fields), body), channel))
        t0 = time.process_time()  # CPU time of this process: steadier than wall time on a shared machine
        for _ in range(count):
            request = make_request(RequestCode.SEND_MESSAGE_V2, dict(fields), body)
            if rpc is not None:
                request.received_at = time.perf_counter()
            response = await answered(process(request, channel))
            if rpc is not None:
                rpc.observe(request, response)
        return (time.process_time() - t0) / count * 1e6
    finally:
        await broker.store.shutdown()


def inprocess(args: argparse.Namespace) -> None:
    results: dict[str, list[float]] = {"bare": [], "stats": [], "prom": []}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        for n in range(args.rounds):
            modes = ("bare", "stats", "prom") if n % 2 == 0 else ("prom", "stats", "bare")
            for mode in modes:
                us = asyncio.run(inprocess_round(mode, args.count, args.size, Path(tmp) / f"{mode}{n}"))
                results[mode].append(us)
                print(f"round {n} {mode:<6} {us:6.2f} us/send", flush=True)
    bare, bare_min = statistics.median(results["bare"]), min(results["bare"])
    for mode, values in results.items():
        median, least = statistics.median(values), min(values)
        print(f"{mode:<6} median {median:6.2f} us/send ({100 * (median - bare) / bare:+.1f} % vs bare), "
              f"min {least:6.2f} ({100 * (least - bare_min) / bare_min:+.1f} %)")


def one_run(mode: str, args: argparse.Namespace, work: Path, n: int) -> dict[str, float]:
    home = work / f"{mode}-{n}"
    ns = start_namesrv(home / "ns")
    port = free_port()
    extra: dict[str, object] = {"brokerClusterName": "DefaultCluster", "mappedFileSizeCommitLog": 256 * 1024 * 1024}
    if mode == "PROM":
        extra.update(metricsExporterType="PROM", metricsPromExporterHost="127.0.0.1", metricsPromExporterPort=port)
    broker = start_broker(home / "broker", ns.addr, extra=extra)
    stop, scrapes = threading.Event(), []
    thread = threading.Thread(target=scraper, args=(port, stop, scrapes), daemon=True) if mode == "PROM" else None
    try:
        time.sleep(2)  # registration settles
        cpu0 = procstat.cpu_seconds(broker.proc.pid)
        if thread:
            thread.start()
        elapsed = asyncio.run(send_load(ns.addr, f"BenchMetrics{n}", args.count, args.size, args.inflight))
        cpu = procstat.cpu_seconds(broker.proc.pid) - cpu0
    finally:
        stop.set()
        if thread is not None and thread.is_alive():
            thread.join()  # the last scrape ends before the broker does
        broker.kill()
        ns.kill()
    return {"tps": args.count / elapsed, "cpu_us_per_msg": cpu / (args.count + 50) * 1e6, "scrapes": len(scrapes),
            "scrape_ms": statistics.median(scrapes) if scrapes else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--inflight", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--inprocess", action="store_true", help="time the broker's send handler in this process")
    args = ap.parse_args()
    print("hook costs (ns/call):", {k: round(v) for k, v in hook_costs().items()})
    if args.inprocess:
        inprocess(args)
        return
    results: dict[str, list[dict[str, float]]] = {"DISABLE": [], "PROM": []}
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        for n in range(args.rounds):
            for mode in (("DISABLE", "PROM") if n % 2 == 0 else ("PROM", "DISABLE")):
                run = one_run(mode, args, Path(tmp), n)
                results[mode].append(run)
                print(f"round {n} {mode:<7} {run['tps']:>9,.0f} msg/s  broker {run['cpu_us_per_msg']:.1f} us/msg"
                      f"  scrapes {run['scrapes']} (median {run['scrape_ms']:.1f} ms)", flush=True)
    for mode, runs in results.items():
        print(f"median {mode:<7} {statistics.median(r['tps'] for r in runs):>9,.0f} msg/s  broker "
              f"{statistics.median(r['cpu_us_per_msg'] for r in runs):.1f} us/msg")
    off = statistics.median(r["cpu_us_per_msg"] for r in results["DISABLE"])
    on = statistics.median(r["cpu_us_per_msg"] for r in results["PROM"])
    print(f"PROM costs {100 * (on - off) / off:+.1f} % broker CPU per message; TPS "
          f"{100 * (statistics.median(r['tps'] for r in results['PROM']) / statistics.median(r['tps'] for r in results['DISABLE']) - 1):+.1f} %")


if __name__ == "__main__":
    main()
