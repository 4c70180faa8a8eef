"""Replication bench: send TPS and latency of one broker set as SYNC_MASTER + slave, ASYNC_MASTER
+ slave and ASYNC_MASTER alone (the per-set shapes of 2m-2s-sync, 2m-2s-async, 2m-noslave), and
the slave's lag (master max offset - slave max offset) sampled during the load.

    .venv/bin/python bench/replication.py [--seconds 10] [--concurrency 32] [--body 256]

Real processes on loopback (bin/mqnamesrv, bin/mqbroker), a raw SEND_MESSAGE load from one
asyncio client in this process. Prints a Markdown table (pasted into bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from pocketmq.protocol import message as pm  # noqa: E402
from pocketmq.remoting.codes import RequestCode, ResponseCode  # noqa: E402
from pocketmq.remoting.command import make_request  # noqa: E402
from pocketmq.remoting.transport import RemotingClient  # noqa: E402
from tests.support.cluster import create_topic, start_master, start_slave, wait_replicated  # noqa: E402
from tests.support.processes import start_namesrv  # noqa: E402

SHAPES = [("2m-2s-sync (SYNC_MASTER + slave)", "SYNC_MASTER", True),
          ("2m-2s-async (ASYNC_MASTER + slave)", "ASYNC_MASTER", True),
          ("2m-noslave (ASYNC_MASTER)", "ASYNC_MASTER", False)]
BENCH_STORE = {"mappedFileSizeCommitLog": 256 * 1024 * 1024}


async def load(master: str, slave: str | None, seconds: float, concurrency: int, body: bytes) -> dict:
    client = RemotingClient()
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lags: list[int] = []
    stop = time.monotonic() + seconds
    props = pm.properties_to_string({"WAIT": "true"})

    async def sender(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            fields = {"producerGroup": "PID_BENCH", "topic": "BenchRep", "defaultTopic": "TBW102",
                      "defaultTopicQueueNums": "4", "queueId": str((n + i) % 4), "sysFlag": "0",
                      "bornTimestamp": str(int(time.time() * 1000)), "flag": "0", "properties": props,
                      "reconsumeTimes": "0", "unitMode": "false", "batch": "false"}
            begin = time.perf_counter()
            response = await client.invoke(master, make_request(RequestCode.SEND_MESSAGE, fields, body), 10)
            latencies.append((time.perf_counter() - begin) * 1000)
            codes[response.code] = codes.get(response.code, 0) + 1
            i += 1

    async def max_offset(addr: str) -> int:
        response = await client.invoke(addr, make_request(RequestCode.GET_BROKER_RUNTIME_INFO), 5)
        return int(orjson.loads(response.body)["table"]["commitLogMaxOffset"])

    async def sample_lag() -> None:
        while slave is not None and time.monotonic() < stop:
            m, s = await asyncio.gather(max_offset(master), max_offset(slave))
            lags.append(max(0, m - s))
            await asyncio.sleep(0.1)

    begin = time.monotonic()
    await asyncio.gather(sample_lag(), *[sender(n) for n in range(concurrency)])
    elapsed = time.monotonic() - begin
    await client.close()
    latencies.sort()
    return {"tps": len(latencies) / elapsed, "p50": statistics.median(latencies),
            "p99": latencies[int(len(latencies) * 0.99) - 1], "codes": codes,
            "lag_avg": statistics.mean(lags) if lags else None, "lag_max": max(lags) if lags else None}


def run_shape(base: Path, role: str, with_slave: bool, args: argparse.Namespace) -> dict:
    ns = start_namesrv(base / "ns")
    procs = [ns]
    try:
        master = start_master(base / "m", ns.addr, role=role, extra=BENCH_STORE)
        procs.append(master)
        slave = None
        if with_slave:
            slave = start_slave(base / "s", ns.addr, extra=BENCH_STORE)
            procs.append(slave)
            wait_replicated(master, slave)
        create_topic(master.addr, "BenchRep")
        asyncio.run(load(master.addr, None, 2, args.concurrency, b"w" * args.body))  # warm-up
        return asyncio.run(load(master.addr, slave.addr if slave else None, args.seconds, args.concurrency,
                                b"x" * args.body))
    finally:
        for proc in reversed(procs):
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--body", type=int, default=256)
    args = parser.parse_args()
    print(f"| shape | send TPS | p50 ms | p99 ms | answers | slave lag avg / max (bytes) |")
    print("|---|---|---|---|---|---|")
    for label, role, with_slave in SHAPES:
        base = Path(tempfile.mkdtemp(prefix="pmq-bench-rep-"))
        try:
            r = run_shape(base, role, with_slave, args)
        finally:
            shutil.rmtree(base, ignore_errors=True)
        answers = ", ".join(f"{ResponseCode(c).name}={n}" for c, n in sorted(r["codes"].items()))
        lag = "-" if r["lag_avg"] is None else f"{r['lag_avg']:.0f} / {r['lag_max']}"
        print(f"| {label} | {r['tps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {answers} | {lag} |", flush=True)


if __name__ == "__main__":
    main()
