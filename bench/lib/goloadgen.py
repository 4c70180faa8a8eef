"""The Go load generator of bench/run.py (--loadgen go): several processes of the official Go
client (bench/go, rocketmq-client-go/v2), one producer each, plus one consumer process; the same
arguments and JSON result as bench/java LoadGen and bench/lib/pyloadgen.py.

    .venv/bin/python bench/lib/goloadgen.py --namesrv 127.0.0.1:9876 --topic T --threads 16 \
        --size 128 --seconds 15 --warmup 5 --processes 4

Scale workloads (bench/lib/scale.py) add --topics (spread the sends), --key-prefix (unique keys), --count (a backlog
fill), --groups (N consumer groups each reading everything) and --threads 0 (consume only).

The --threads senders are split over --processes producer processes (default: min(threads, 4)),
as upstream's Go benchmark is run, so that the ratio of two brokers is not decided by how well
one client process scales. Every process measures the same wall-clock window; the latencies are
merged before the percentiles are taken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GO_DIR = HERE.parent / "go"
GO_BIN = GO_DIR / "bin" / "goloadgen"
sys.path.insert(0, str(HERE.parent.parent))

from bench.lib.pyloadgen import add_common_arguments, create_topic, pct  # noqa: E402
from pocketmq.client import SessionCredentials  # noqa: E402


def build(force: bool = False) -> Path:
    """go build bench/go once (again when a source is newer than the binary)."""
    sources = [GO_DIR / "main.go", GO_DIR / "go.mod", GO_DIR / "go.sum"]
    fresh = GO_BIN.exists() and all(s.stat().st_mtime <= GO_BIN.stat().st_mtime for s in sources)
    if force or not fresh:
        print("goloadgen: go build bench/go", file=sys.stderr, flush=True)
        subprocess.run(["go", "build", "-o", str(GO_BIN), "."], cwd=GO_DIR, check=True)
    return GO_BIN


def split(threads: int, processes: int) -> list[int]:
    """threads senders over `processes` processes, as evenly as possible, none empty."""
    processes = max(1, min(processes, threads))
    base, extra = divmod(threads, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


def acl(args: argparse.Namespace) -> list[str]:
    return ["-access-key", args.access_key, "-secret-key", args.secret_key] if args.access_key else []


def run(args: argparse.Namespace) -> dict:
    binary = build()
    if args.create and not args.topics:
        creds = SessionCredentials(args.access_key, args.secret_key) if args.access_key else None
        asyncio.run(create_topic(args.namesrv, args.topic, args.cluster, args.queues, creds))
    spread = ["-topics", ",".join(args.topics)] if args.topics else []
    fill = ["-count", str(-(-args.count // args.processes))] if args.count else []
    env = dict(os.environ, POCKETMQ_GO_LOG=os.environ.get("POCKETMQ_GO_LOG", os.devnull))
    # Starting the clients takes a while; the window opens once all are up and warmed.
    start_ms = int(time.time() * 1000) + int((args.startup + args.warmup) * 1000)
    end_ms = start_ms + int(args.seconds * 1000)
    window = ["-start-ms", str(start_ms), "-end-ms", str(end_ms)]
    consumer = None
    if args.consume:
        consumer = subprocess.Popen([str(binary), "consume", "-namesrv", args.namesrv, "-topic", args.topic,
                                     "-group", f"bench_cg_{args.topic}", "-drain", str(args.drain),
                                     "-groups", str(args.groups), *window, *acl(args)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        ready = consumer.stdout.readline() if consumer.stdout else ""
        if '"ready"' not in ready:
            raise RuntimeError(f"Go consumer did not start: {ready}")
    if args.threads == 0:  # consume only: a backlog catch-up of --count messages
        return consume_only(args, consumer)
    producers = [subprocess.Popen([str(binary), "produce", "-namesrv", args.namesrv, "-topic", args.topic,
                                   "-threads", str(n), "-size", str(args.size),
                                   "-send-timeout", str(args.send_timeout), *window, *spread, *fill,
                                   *(["-key-prefix", f"{args.key_prefix}{i}-"] if args.key_prefix else []),
                                   *acl(args)],
                                  stdout=subprocess.PIPE, text=True, env=env)
                 for i, n in enumerate(split(args.threads, args.processes))]
    parts = []
    for p in producers:
        out, _ = p.communicate(timeout=args.startup + args.warmup + args.seconds + 120)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        if p.returncode != 0 or not lines:
            raise RuntimeError(f"Go producer exited {p.returncode}: {out[-800:]}")
        parts.append(json.loads(lines[-1]))
    producer_done = time.perf_counter()
    lat = sorted(v for part in parts for v in part["latencies_us"])
    total = {k: sum(part[k] for part in parts) for k in ("sent", "failed", "not_ok", "sent_total", "failed_total")}
    out: dict = {"loadgen": "go", "processes": len(producers), "topic": args.topic, "threads": args.threads,
                 "size": args.size, "seconds": args.seconds, **total,
                 "send_tps": total["sent"] / args.seconds,
                 "avg_ms": (sum(lat) / len(lat) / 1000) if lat else 0.0,
                 "p50_ms": pct(lat, 0.50) / 1000, "p99_ms": pct(lat, 0.99) / 1000,
                 "max_ms": (lat[-1] / 1000) if lat else 0.0,
                 "errors": [e for part in parts for e in part.get("errors") or []][:5]}
    if consumer is not None:
        cout, _ = consumer.communicate(f"{total['sent_total']}\n", timeout=args.drain + 60 + args.groups)
        lines = [ln for ln in cout.splitlines() if ln.startswith("{")]
        if consumer.returncode != 0 or not lines:
            raise RuntimeError(f"Go consumer exited {consumer.returncode}: {cout[-800:]}")
        got = json.loads(lines[-1])
        out.update(got)
        out["drain_ms"] = max(int(got.get("drain_ms", 0)), int((time.perf_counter() - producer_done) * 1000))
        out["lost"] = max(0, total["sent_total"] * args.groups - got["consumed"])
    return out


def consume_only(args: argparse.Namespace, consumer: subprocess.Popen) -> dict:
    """A catch-up: wait until the consumer has read --count messages (or --drain seconds); the
    rate is what it read over the time from its first message to its last."""
    cout, _ = consumer.communicate(f"{args.count}\n", timeout=args.drain + 60 + args.groups)
    lines = [ln for ln in cout.splitlines() if ln.startswith("{")]
    if consumer.returncode != 0 or not lines:
        raise RuntimeError(f"Go consumer exited {consumer.returncode}: {cout[-800:]}")
    got = json.loads(lines[-1])
    span_s = max(1e-3, (got["last_ms"] - got["first_ms"]) / 1000)
    return {"loadgen": "go", "topic": args.topic, "threads": 0, "sent": 0, "failed": 0, "not_ok": 0,
            "sent_total": got["consumed"], "failed_total": 0, **got, "consume_tps": got["consumed"] / span_s,
            "catch_up_s": span_s, "lost": max(0, args.count - got["consumed"]), "errors": []}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(ap)
    ap.add_argument("--processes", type=int, default=4, help="producer processes the threads are split over")
    ap.add_argument("--startup", type=float, default=3, help="seconds allowed for the clients to start")
    ap.add_argument("--topics", nargs="*", default=None, help="spread the sends over these (existing) topics")
    ap.add_argument("--key-prefix", default="", help="keys <prefix><process>-<n>, n = 1, 2, ... per process")
    ap.add_argument("--count", type=int, default=0,
                    help="stop after this many messages (a fill); with --threads 0, read this many (a catch-up)")
    ap.add_argument("--groups", type=int, default=1, help="consumer groups, each reading everything")
    args = ap.parse_args(argv)
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
