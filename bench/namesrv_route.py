"""Route queries per second against one real `mqnamesrv`, with 1 and 64 concurrent clients.

    .venv/bin/python bench/namesrv_route.py [--seconds 5] [--concurrency 1 64] [--namesrv host:port]

Starts its own name server on a free loopback port (unless --namesrv is given), registers a
broker with 100 topics over a kept-open connection, then each client loops
GET_ROUTEINFO_BY_TOPIC over those topics for the given time. Clients run in worker processes
(one per core) so the load generator is not the bottleneck of a single Python process.
Prints QPS and latency percentiles; exits non-zero if any query failed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pocketmq.protocol.route import DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigWrapper  # noqa: E402
from pocketmq.remoting.codes import RequestCode  # noqa: E402
from pocketmq.remoting.command import make_request  # noqa: E402
from pocketmq.remoting.transport import RemotingClient  # noqa: E402
from tests.support.processes import start_namesrv  # noqa: E402
from tests.support.rpc import RpcSession  # noqa: E402

TOPICS = [f"BenchTopic{i}" for i in range(100)]


async def client_loop(addr: str, connections: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def one(index: int) -> None:
        nonlocal failures
        client = RemotingClient()
        i = index
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = await client.invoke(addr, make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC,
                                                              {"topic": TOPICS[i % len(TOPICS)]}))
            latencies.append(time.perf_counter() - start)
            failures += response.code != 0
            i += 1
        await client.close()

    await asyncio.gather(*(one(i) for i in range(connections)))
    return latencies, failures


def worker(addr: str, connections: int, seconds: float, queue: "multiprocessing.Queue") -> None:
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    queue.put(asyncio.run(client_loop(addr, connections, seconds)))


def run(addr: str, concurrency: int, seconds: float) -> dict[str, float]:
    processes = max(1, min(concurrency, multiprocessing.cpu_count()))
    queue: multiprocessing.Queue = multiprocessing.Queue()
    shares = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    workers = [multiprocessing.Process(target=worker, args=(addr, share, seconds, queue)) for share in shares]
    for p in workers:
        p.start()
    latencies: list[float] = []
    failures = 0
    for _ in workers:
        got, failed = queue.get()
        latencies += got
        failures += failed
    for p in workers:
        p.join()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"concurrency": concurrency, "qps": len(latencies) / seconds, "p50_ms": pick(0.50),
            "p99_ms": pick(0.99), "max_ms": latencies[-1] * 1000, "failures": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--namesrv", help="use a running name server instead of starting one")
    args = parser.parse_args()
    namesrv = None
    addr = args.namesrv
    if addr is None:
        namesrv = start_namesrv(Path(tempfile.mkdtemp(prefix="bench-namesrv-")))
        addr = namesrv.addr
    session = RpcSession()
    try:
        wrapper = TopicConfigWrapper({t: TopicConfig(t, 8, 8) for t in TOPICS}, DataVersion())
        fields = {"brokerName": "bench-broker", "brokerAddr": "127.0.0.1:10911", "clusterName": "DefaultCluster",
                  "haServerAddr": "127.0.0.1:10912", "brokerId": "0", "compressed": "false", "bodyCrc32": "0"}
        assert session.call(addr, RequestCode.REGISTER_BROKER, fields, RegisterBrokerBody(wrapper).encode()).code == 0
        print(f"{'clients':>8} {'QPS':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'failed':>7}")
        failed = 0
        for concurrency in args.concurrency:
            r = run(addr, concurrency, args.seconds)
            failed += r["failures"]
            print(f"{r['concurrency']:>8} {r['qps']:>10.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
                  f"{r['max_ms']:>8.3f} {r['failures']:>7}")
        return 1 if failed else 0
    finally:
        session.close()
        if namesrv is not None:
            namesrv.kill()


if __name__ == "__main__":
    sys.exit(main())
