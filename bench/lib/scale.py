"""The scale workloads of bench/run.py (--scale): how cost grows as the work grows, for both
brokers in the same run (issue 16 item 3). Load comes from bench/lib/goloadgen.py (the official Go
client, one producer per process).

- topics:  1, 100 and 1,000 topics of 8 queues each, the sends spread round-robin over them;
- groups:  1 and 100 consumer groups on one topic, each group reading every message;
- backlog: a backlog of --backlog-mb (5 GiB) written with no consumer, the page cache dropped
           (cold reads; needs root, else it says so and the reads may be warm), then a consumer
           catching up from the first offset;
- query:   --query-messages (10 M) messages with unique keys, then random keys looked up with
           QUERY_MESSAGE (PocketMQ's admin client, the same for both brokers).

Each measured step is one run dict in the shape of bench/run.py's (send/consume TPS, p99, broker
CPU per message, peak RSS), labelled by ``workload`` so report.py tabulates it beside the matrix.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from bench.lib import clusters, procstat, report
from bench.lib.pyloadgen import pct, wait_route

HERE = Path(__file__).resolve().parent
FAMILIES = ("topics", "groups", "backlog", "query")
QUEUES = 8


def goloadgen(dep: clusters.Deployment, args: list[str], timeout: float) -> dict:
    cmd = [sys.executable, str(HERE / "goloadgen.py"), "--namesrv", dep.namesrv_addr,
           "--cluster", clusters.CLUSTER, "--queues", str(QUEUES), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"goloadgen exited {p.returncode}: {(p.stderr or p.stdout)[-1500:]}")
    return json.loads(lines[-1])


def measured(dep: clusters.Deployment, workload: str, size: int, threads: int,
             step: Callable[[], dict]) -> dict:
    """Run one step with the broker CPU and peak RSS sampled around it; never raises."""
    run: dict = {"impl": dep.impl, "deployment": dep.name, "workload": workload, "size": size,
                 "threads": threads, "loadgen": "go", "loadavg_before": list(os.getloadavg())}
    sample = procstat.ProcSample.start(dep.broker_pids)
    t0 = time.monotonic()
    try:
        run.update(step())
    except Exception as e:  # noqa: BLE001 - recorded, the next workload still runs
        run["error"] = f"{type(e).__name__}: {e}"[:1500]
    finally:
        run.update(sample.finish())
        run["wall_s"] = time.monotonic() - t0
        run["loadavg_after"] = list(os.getloadavg())
    return run if run.get("error") else report.derive(run)


async def _create_topics(namesrv: str, names: list[str]) -> None:
    from pocketmq.client.admin import AsyncAdmin
    async with AsyncAdmin(namesrv) as admin:
        masters = await admin.master_addrs(clusters.CLUSTER)
        gate = asyncio.Semaphore(16)

        async def one(name: str) -> None:
            async with gate:
                await admin.create_topic(name, cluster=clusters.CLUSTER, read_queue_nums=QUEUES,
                                         write_queue_nums=QUEUES)
        await asyncio.gather(*(one(n) for n in names))
        deadline = time.monotonic() + 120
        for name in names:
            await wait_route(admin, name, len(masters), deadline)


def create_topics(dep: clusters.Deployment, names: list[str]) -> None:
    asyncio.run(_create_topics(dep.namesrv_addr, names))


def window(o: argparse.Namespace) -> list[str]:
    return ["--seconds", str(o.seconds), "--warmup", str(o.warmup)]


def topics_family(dep: clusters.Deployment, o: argparse.Namespace, n: int, tag: str) -> dict:
    names = [f"scale_{tag}_t{n}_{i}" for i in range(n)]
    create_topics(dep, names)
    size, threads = o.scale_size, o.scale_threads
    return measured(dep, f"{n} topics x{QUEUES}q", size, threads, lambda: goloadgen(
        dep, ["--topic", names[0], "--topics", *names, "--no-create", "--no-consume", "--threads", str(threads),
              "--size", str(size), *window(o)], timeout=o.warmup + o.seconds + 300))


# Consumers must own their queues before the window opens: RocketMQ's clients rebalance every 20 s
# (rocketmq.client.rebalance.waitInterval; the Go client's RebalanceInterval), so wait longer than that.
GROUPS_STARTUP_SECONDS = 25.0


def groups_family(dep: clusters.Deployment, o: argparse.Namespace, groups: int, tag: str) -> dict:
    topic = f"scale_{tag}_g{groups}"
    return measured(dep, f"{groups} groups on 1 topic", o.scale_size, 16, lambda: goloadgen(
        dep, ["--topic", topic, "--groups", str(groups), "--threads", "16", "--size", str(o.scale_size),
              "--drain", "120", "--startup", str(GROUPS_STARTUP_SECONDS + groups * 0.1), *window(o)],
        timeout=o.warmup + o.seconds + 600))


def drop_page_cache() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
        return True
    except OSError:
        return False


def backlog_family(dep: clusters.Deployment, o: argparse.Namespace, tag: str) -> list[dict]:
    topic, size = f"scale_{tag}_backlog", 1024
    count = o.backlog_mb * 1024 * 1024 // size
    fill = measured(dep, f"backlog fill {o.backlog_mb} MiB", size, 64, lambda: goloadgen(
        dep, ["--topic", topic, "--no-consume", "--threads", "64", "--size", str(size), "--count", str(count),
              "--seconds", "86400", "--warmup", "0", "--startup", "0"], timeout=86400))
    if fill.get("error"):
        return [fill]
    fill["send_tps"] = fill["sent_total"] / max(1e-9, fill["wall_s"])  # the whole fill, not a window
    cold = drop_page_cache()
    catch_up = measured(dep, f"backlog catch-up {o.backlog_mb} MiB" + ("" if cold else " (warm)"), size, 0,
                        lambda: goloadgen(dep, ["--topic", topic, "--no-create", "--threads", "0",
                                                "--count", str(fill["sent_total"]), "--drain", "3600"],
                                          timeout=3700))
    catch_up["page_cache_dropped"] = cold
    return [fill, catch_up]


async def _query(namesrv: str, topic: str, keys: list[str]) -> dict:
    from pocketmq.client.admin import AsyncAdmin
    lat: list[float] = []
    found = 0
    async with AsyncAdmin(namesrv) as admin:
        t0 = time.perf_counter()
        for key in keys:
            s = time.perf_counter()
            got = await admin.query_message(topic, key, max_num=32)
            lat.append(time.perf_counter() - s)
            found += any(key in (m.keys or "").split(" ") for m in got)
        wall = time.perf_counter() - t0
    lat.sort()
    return {"queries": len(keys), "found": found, "query_qps": len(keys) / wall,
            "avg_ms": sum(lat) / len(lat) * 1000, "p50_ms": pct(lat, 0.5) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000, "max_ms": lat[-1] * 1000, "sent_total": len(keys)}


def query_family(dep: clusters.Deployment, o: argparse.Namespace, tag: str) -> list[dict]:
    topic, processes = f"scale_{tag}_query", 4
    prefix = f"q{tag}-"
    fill = measured(dep, f"query fill {o.query_messages:,} keys", 128, 64, lambda: goloadgen(
        dep, ["--topic", topic, "--no-consume", "--threads", "64", "--size", "128",
              "--count", str(o.query_messages), "--key-prefix", prefix, "--processes", str(processes),
              "--seconds", "86400", "--warmup", "0", "--startup", "0"], timeout=86400))
    if fill.get("error"):
        return [fill]
    fill["send_tps"] = fill["sent_total"] / max(1e-9, fill["wall_s"])
    per_proc = o.query_messages // processes
    rng = random.Random(7)
    keys = [f"{prefix}{rng.randrange(processes)}-{rng.randrange(1, per_proc + 1)}" for _ in range(o.queries)]
    query = measured(dep, f"query by key over {o.query_messages:,}", 128, 1,
                     lambda: asyncio.run(_query(dep.namesrv_addr, topic, keys)))
    return [fill, query]


def run_family(family: str, deps: dict[str, clusters.Deployment], o: argparse.Namespace,
               log: Callable[[str], None]) -> list[dict]:
    """Every step of one family against each implementation, alternating which goes first."""
    runs: list[dict] = []
    steps: list[Callable[[clusters.Deployment, str], list[dict]]]
    if family == "topics":
        steps = [lambda d, t, n=n: [topics_family(d, o, n, t)] for n in o.scale_topics]
    elif family == "groups":
        steps = [lambda d, t, g=g: [groups_family(d, o, g, t)] for g in o.scale_groups]
    elif family == "backlog":
        steps = [lambda d, t: backlog_family(d, o, t)]
    else:
        steps = [lambda d, t: query_family(d, o, t)]
    flip = False
    for i, step in enumerate(steps):
        for rep in range(o.repeat):  # repeats alternate which implementation goes first, too
            order = list(deps.items())[::-1] if flip else list(deps.items())
            flip = not flip
            for impl, dep in order:
                tag = f"{impl[:2]}{os.getpid() % 10000}{i}r{rep}"
                runs.extend(_logged(step(dep, tag), impl, rep, log))
    return runs


def _logged(step_runs: list[dict], impl: str, rep: int, log: Callable[[str], None]) -> list[dict]:
    for run in step_runs:
        run["repeat"] = rep
        log(f"  {impl} {run['workload']}: " + (f"ERROR {run['error'][:300]}" if run.get("error") else
            f"send {run.get('send_tps', 0):,.0f}/s, consume {run.get('consume_tps', 0):,.0f}/s, "
            f"p99 {run.get('p99_ms', 0):.2f} ms, cpu {run.get('cpu_s_per_m', 0):.1f} s/M, "
            f"rss {run.get('broker_peak_rss_mb', 0):,.0f} MiB"))
    return step_runs


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--scale", nargs="+", choices=FAMILIES, default=None,
                    help="run these scale workload families instead of the size x concurrency matrix")
    ap.add_argument("--scale-topics", nargs="+", type=int, default=[1, 100, 1000])
    ap.add_argument("--scale-groups", nargs="+", type=int, default=[1, 100])
    ap.add_argument("--scale-size", type=int, default=1024, help="body bytes of the topics/groups families")
    ap.add_argument("--scale-threads", type=int, default=64, help="producer threads of the topics family")
    ap.add_argument("--backlog-mb", type=int, default=5120, help="backlog size (5 GiB)")
    ap.add_argument("--query-messages", type=int, default=10_000_000)
    ap.add_argument("--queries", type=int, default=2000, help="random keys looked up")
