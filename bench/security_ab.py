"""A/B: what ACL or TLS costs PocketMQ's send TPS on bench/run.py's workload (single-async, 128 B,
16 producer threads, the official Java client as load generator). Two PocketMQ deployments run
at once, one plain and one with the feature, and the measured runs alternate between them, so
drift of a shared machine hits both alike.

    .venv/bin/python bench/security_ab.py --feature acl --repeat 3
    .venv/bin/python bench/security_ab.py --feature tls --repeat 3

Prints each run, then the medians and the ratio (feature / plain).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import run as benchrun  # noqa: E402
from bench.lib import clusters  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feature", choices=("acl", "tls"), required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args()
    opts = benchrun.parse_args(["--quick", "--impls", "pocketmq", "--seconds", str(a.seconds)])
    benchrun.ensure_apache_jars()
    classpath = benchrun.build_java()
    with_feature = copy.copy(opts)
    setattr(with_feature, a.feature, True)
    plain_ctx = clusters.deployment("pocketmq", "single-async")
    feature_ctx = clusters.deployment("pocketmq", "single-async", **{a.feature: True})
    plain = plain_ctx.__enter__()
    try:
        featured = feature_ctx.__enter__()
        try:
            benchrun.warm_up(plain, opts, classpath)
            benchrun.warm_up(featured, with_feature, classpath)
            results: dict[str, list[dict]] = {"plain": [], a.feature: []}
            seq = 0
            for rep in range(a.repeat):
                order = [("plain", plain, opts), (a.feature, featured, with_feature)]
                for label, dep, o in (order if rep % 2 == 0 else order[::-1]):
                    seq += 1
                    load = os.getloadavg()[0]
                    r = benchrun.one_run(dep, o, classpath, 128, 16, seq, None)
                    if "error" in r:
                        print(f"run {seq} {label}: {r['error']}")
                        continue
                    results[label].append(r)
                    print(f"run {seq} {label:5} send {r['send_tps']:,.0f}/s  broker cpu {r['cpu_s_per_m']:.1f} us/msg "
                          f"(load {load:.1f})", flush=True)
        finally:
            feature_ctx.__exit__(None, None, None)
    finally:
        plain_ctx.__exit__(None, None, None)
    med = {label: (statistics.median(r["send_tps"] for r in rs), statistics.median(r["cpu_s_per_m"] for r in rs))
           for label, rs in results.items() if rs}
    print(f"\n| single-async 128 B c16 | send TPS | broker CPU us/msg |\n|---|---|---|")
    for label, (tps, cpu) in med.items():
        print(f"| {label} | {tps:,.0f} | {cpu:.1f} |")
    if len(med) == 2:
        (tps0, cpu0), (tps1, cpu1) = med["plain"], med[a.feature]
        print(f"| {a.feature} / plain | {tps1 / tps0:.2f}x | {cpu1 / cpu0:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
