"""Figures from bench runs: per-workload medians, the PocketMQ / RocketMQ ratio table, and the
matplotlib chart (throughput and p99 send latency per workload)."""

from __future__ import annotations

import statistics
from pathlib import Path

# (key, heading, format, higher is better)
FIGURES = [
    ("send_tps", "send TPS", "{:,.0f}", True),
    ("consume_tps", "consume TPS", "{:,.0f}", True),
    ("avg_ms", "avg ms", "{:.2f}", False),
    ("p50_ms", "p50 ms", "{:.2f}", False),
    ("p99_ms", "p99 ms", "{:.2f}", False),
    ("max_ms", "max ms", "{:.1f}", False),
    ("cpu_s_per_m", "broker CPU s/M msgs", "{:.1f}", False),
    ("busiest_thread_s_per_m", "busiest thread CPU s/M msgs", "{:.1f}", False),
    ("broker_peak_rss_mb", "peak RSS MiB", "{:,.0f}", False),
    ("broker_anon_rss_mb", "anon RSS MiB at end", "{:,.0f}", False),
    ("query_qps", "query QPS", "{:,.0f}", True),
    ("failures", "failures", "{:d}", False),
]


def workload_key(run: dict) -> str:
    if run.get("workload"):  # a scale workload (bench/lib/scale.py)
        return f"{run['deployment']} {run['workload']}"
    return f"{run['deployment']} {run['size']}B c{run['threads']}"


def derive(run: dict) -> dict:
    """Add the per-million and failure figures to one run's raw result."""
    total = max(1, run.get("sent_total", 0))
    run["cpu_s_per_m"] = run.get("broker_cpu_s", 0.0) / total * 1e6
    if "busiest_thread_cpu_s" in run:
        run["busiest_thread_s_per_m"] = run["busiest_thread_cpu_s"] / total * 1e6
    run["failures"] = int(run.get("failed_total", 0) + run.get("not_ok", 0) + run.get("lost", 0))
    return run


def summarize(runs: list[dict]) -> list[dict]:
    """One row per workload: the median of each figure per implementation, and the ratio."""
    order: list[str] = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        if r.get("error"):
            continue
        k = workload_key(r)
        if k not in order:
            order.append(k)
        groups.setdefault((k, r["impl"]), []).append(r)
    rows = []
    for k in order:
        row: dict = {"workload": k}
        for impl in ("rocketmq", "pocketmq"):
            rs = groups.get((k, impl), [])
            if not rs:
                continue
            vals = {}
            for key, *_ in FIGURES:
                xs = [r[key] for r in rs if r.get(key) is not None]
                if xs:
                    vals[key] = max(xs) if key == "failures" else statistics.median(xs)
            vals["runs"] = len(rs)
            row[impl] = vals
        if "rocketmq" in row and "pocketmq" in row:
            ratio = {}
            for key, *_ in FIGURES:
                a, b = row["rocketmq"].get(key), row["pocketmq"].get(key)
                if key != "failures" and a and b is not None:
                    ratio[key] = b / a
            row["ratio"] = ratio
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: for each workload and figure, RocketMQ, PocketMQ and PocketMQ / RocketMQ."""
    lines = []
    head = ["workload", "figure", "RocketMQ", "PocketMQ", "Pocket/Rocket"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for row in rows:
        for key, name, fmt, _ in FIGURES:
            if all(row.get(impl, {}).get(key) is None for impl in ("rocketmq", "pocketmq")):
                continue  # e.g. query QPS of a send workload
            cells = [row["workload"], name]
            for impl in ("rocketmq", "pocketmq"):
                v = row.get(impl, {}).get(key)
                cells.append("-" if v is None else fmt.format(int(v) if fmt == "{:d}" else v))
            r = row.get("ratio", {}).get(key)
            cells.append("-" if r is None else f"{r:.2f}x")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compact_table(rows: list[dict]) -> str:
    """One line per workload: the ratios only (PocketMQ / RocketMQ)."""
    keys = [f for f in FIGURES if f[0] != "failures"]
    head = ["workload"] + [name for _, name, *_ in keys] + ["failures R/P"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["workload"]]
        for key, *_ in keys:
            r = row.get("ratio", {}).get(key)
            cells.append("-" if r is None else f"{r:.2f}x")
        f = [str(int(row.get(i, {}).get("failures", 0))) if i in row else "-" for i in ("rocketmq", "pocketmq")]
        cells.append("/".join(f))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["workload"] for r in rows]
    x = list(range(len(names)))
    w = 0.38
    fig, axes = plt.subplots(3, 1, figsize=(max(8, 0.9 * len(names) + 3), 10), sharex=True)
    panels = [("send_tps", "send TPS (msg/s)"), ("consume_tps", "consume TPS (msg/s)"),
              ("p99_ms", "p99 send latency (ms)")]
    colors = {"rocketmq": "#d9822b", "pocketmq": "#2b7bd9"}
    for ax, (key, label) in zip(axes, panels):
        for j, impl in enumerate(("rocketmq", "pocketmq")):
            vals = [r.get(impl, {}).get(key, 0) or 0 for r in rows]
            ax.bar([i + (j - 0.5) * w for i in x], vals, w, label="Apache RocketMQ 4.9.7" if impl == "rocketmq"
                   else "PocketMQ", color=colors[impl])
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    axes[0].set_title(title, fontsize=10)
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(names, rotation=35, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
