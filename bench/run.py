"""PocketMQ side by side with Apache RocketMQ 4.9.7, on loopback, same load generator, one run.

    .venv/bin/python bench/run.py --quick            # 128 B, single ASYNC_FLUSH broker, 16 threads, 10 s
    .venv/bin/python bench/run.py                    # the full matrix (about 35 min on 2 cores)
    .venv/bin/python bench/run.py --deployments single-sync --sizes 1024 --concurrency 1 64 --seconds 20
    .venv/bin/python bench/run.py --deployments single-async --scale topics groups backlog query

For each deployment, both clusters are started (Apache from the jars of tests/interop/setup.sh,
PocketMQ from bin/), both stay up, and every workload (size x producer concurrency) runs
against one then the other, the order alternating from workload to workload (and repeat to
repeat) to cancel machine drift. Each run is end-to-end: a fresh topic, a push consumer
started first, N producer threads sending fixed-size messages synchronously for warmup +
seconds, then a drain until the consumer has seen every acknowledged message.

Load generator: bench/java (the official RocketMQ 4.9.7 Java client, built with `mvn -q` into
bench/java/target), --loadgen go (bench/lib/goloadgen.py: the official Go client, bench/go, one
producer per process over several processes) or --loadgen python (bench/lib/pyloadgen.py,
PocketMQ's own client).

Writes bench/results/<name>.json (every run plus the medians and ratios) and <name>.png, and
prints the table of PocketMQ / RocketMQ ratios. --profile records the PocketMQ master with
py-spy during its runs and writes a text summary beside the JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.lib import clusters, procstat, report, scale  # noqa: E402
from bench.lib import profile as prof  # noqa: E402

JAVA_DIR = HERE / "java"
RESULTS = HERE / "results"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- build ------------------------------------------------------------------------------------

def build_java(force: bool = False) -> str:
    """Compile the Java load generator (once; again when a source is newer). Returns its classpath."""
    classes = JAVA_DIR / "target" / "classes"
    main = classes / "pocketmq" / "bench" / "LoadGen.class"
    sources = [JAVA_DIR / "pom.xml", *JAVA_DIR.glob("src/**/*.java")]
    fresh = main.exists() and (JAVA_DIR / "target" / "lib").is_dir() and \
        all(s.stat().st_mtime <= main.stat().st_mtime for s in sources)
    if force or not fresh:
        log("building the Java load generator (mvn -q compile)")
        subprocess.run(["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(JAVA_DIR / "pom.xml"), "compile"],
                       check=True)
    return f"{classes}{os.pathsep}{JAVA_DIR / 'target' / 'lib'}/*"


def ensure_apache_jars() -> None:
    from tests.interop import apache
    try:
        apache.java_classpath()
    except apache.InteropSetupMissing:
        log("fetching Apache RocketMQ 4.9.7 jars (tests/interop/setup.sh)")
        subprocess.run(["bash", str(ROOT / "tests" / "interop" / "setup.sh")], check=True)


def _pyspy() -> str:
    venv = Path(sys.executable).parent / "py-spy"
    return str(venv) if venv.exists() else (shutil.which("py-spy") or "py-spy")


# ---- one run ----------------------------------------------------------------------------------

def acl_args(opts: argparse.Namespace) -> list[str]:
    return ["--access-key", clusters.ACL_ACCESS_KEY, "--secret-key", clusters.ACL_SECRET_KEY] if opts.acl else []


def loadgen_cmd(kind: str, classpath: str, args: list[str], tmp: Path, tls: bool = False) -> list[str]:
    if kind == "java":
        java = shutil.which("java") or "java"
        return [java, "-Xms512m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.net.preferIPv4Stack=true",
                *(["-Dtls.enable=true"] if tls else []),
                f"-Drocketmq.client.logRoot={tmp}", "-Drocketmq.client.logLevel=WARN",
                f"-Duser.home={tmp}", "-cp", classpath, "pocketmq.bench.LoadGen", *args]
    if kind == "go":
        return [sys.executable, str(HERE / "lib" / "goloadgen.py"), *args]
    return [sys.executable, str(HERE / "lib" / "pyloadgen.py"), *args]


def one_run(dep: clusters.Deployment, opts: argparse.Namespace, classpath: str, size: int, threads: int,
            seq: int, profile_dir: Path | None) -> dict:
    topic = f"bench_{dep.impl[:6]}_{dep.name.replace('-', '')}_{size}_{threads}_{seq}_{os.getpid()}"
    args = ["--namesrv", dep.namesrv_addr, "--topic", topic, "--cluster", clusters.CLUSTER,
            "--threads", str(threads), "--size", str(size), "--seconds", str(opts.seconds),
            "--warmup", str(opts.warmup), "--drain", str(opts.drain), "--queues", str(opts.queues), *acl_args(opts)]
    tmp = Path(dep.homes[0]).parent / "loadgen"
    tmp.mkdir(exist_ok=True)
    cmd = loadgen_cmd(opts.loadgen, classpath, args, tmp, opts.tls)
    run: dict = {"impl": dep.impl, "deployment": dep.name, "size": size, "threads": threads, "seq": seq,
                 "loadgen": opts.loadgen, "loadavg_before": list(os.getloadavg()),
                 "started": dt.datetime.now().isoformat(timespec="seconds")}
    if not dep.alive():
        run["error"] = "a broker process is gone"
        return run
    sample = procstat.ProcSample.start(dep.broker_pids)
    spy = None
    if profile_dir is not None and dep.impl == "pocketmq":
        raw = profile_dir / f"{topic}.txt"
        spy = subprocess.Popen([_pyspy(), "record", "--pid", str(dep.broker_pids[0]), "--format", "raw",
                                "--rate", "100", "--nonblocking", "--threads", "-o", str(raw),
                                "--duration", str(int(opts.warmup + opts.seconds + 2))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run["profile_raw"] = str(raw)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=opts.warmup + opts.seconds + opts.drain + 180)
    except subprocess.TimeoutExpired:
        run["error"] = "load generator timed out"
        return run
    finally:
        run.update(sample.finish())
        run["wall_s"] = time.monotonic() - t0
        if spy is not None:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
    run["loadavg_after"] = list(os.getloadavg())
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        run["error"] = f"load generator exited {p.returncode}: {(p.stderr or p.stdout)[-1500:]}"
        return run
    run.update(json.loads(lines[-1]))
    return report.derive(run)


def warm_up(dep: clusters.Deployment, opts: argparse.Namespace, classpath: str) -> None:
    """Unmeasured load right after boot, so the broker JVM's JIT (and PocketMQ's page cache and
    allocator) are warm before the first measured run, as in a long-running deployment."""
    if opts.broker_warmup <= 0:
        return
    topic = f"bench_warmup_{dep.impl[:6]}_{os.getpid()}"
    args = ["--namesrv", dep.namesrv_addr, "--topic", topic, "--cluster", clusters.CLUSTER, "--threads", "16",
            "--size", str(opts.sizes[0]), "--seconds", str(opts.broker_warmup), "--warmup", "0", "--drain", "10",
            "--queues", str(opts.queues), *acl_args(opts)]
    tmp = Path(dep.homes[0]).parent / "loadgen"
    tmp.mkdir(exist_ok=True)
    p = subprocess.run(loadgen_cmd(opts.loadgen, classpath, args, tmp, opts.tls), capture_output=True, text=True,
                       timeout=opts.broker_warmup + 200)
    if p.returncode != 0:
        log(f"  warm-up of {dep.impl} failed: {p.stderr[-800:]}")


# ---- main -------------------------------------------------------------------------------------

def git_rev() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="128 B, single-async, concurrency 16, 10 s (3 s warm-up); other flags still apply")
    ap.add_argument("--deployments", nargs="+", choices=clusters.DEPLOYMENTS, default=None)
    ap.add_argument("--sizes", nargs="+", type=int, default=None, help="message body bytes (128 1024)")
    ap.add_argument("--concurrency", nargs="+", type=int, default=None, help="producer threads (1 16 64)")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per run (15; quick 10)")
    ap.add_argument("--warmup", type=float, default=None, help="unmeasured seconds before (5; quick 3)")
    ap.add_argument("--broker-warmup", type=float, default=None,
                    help="unmeasured seconds of load right after each deployment boots (10; quick 5)")
    ap.add_argument("--drain", type=float, default=30, help="max seconds to wait for the consumer after")
    ap.add_argument("--repeat", type=int, default=1, help="runs per workload and implementation")
    ap.add_argument("--queues", type=int, default=4, help="queues per master for each topic")
    ap.add_argument("--impls", nargs="+", choices=("rocketmq", "pocketmq"), default=["rocketmq", "pocketmq"])
    scale.add_arguments(ap)
    ap.add_argument("--loadgen", choices=("java", "python", "go"), default="java",
                    help="java: bench/java (official 4.9.7 client, one JVM); python: PocketMQ's own client; "
                         "go: bench/go (official Go client, threads split over 4 processes)")
    ap.add_argument("--profile", action="store_true", help="py-spy the PocketMQ master during its runs")
    ap.add_argument("--name", default=None, help="result file stem under bench/results/")
    ap.add_argument("--note", default="", help="free text stored in the result file")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--tls", action="store_true",
                    help="the (java) load generator talks TLS to name servers and brokers (-Dtls.enable=true)")
    ap.add_argument("--acl", action="store_true",
                    help="brokers with aclEnable=true; the load generator signs every request")
    ap.add_argument("--pocketmq-conf", nargs="+", default=[], metavar="KEY=VALUE",
                    help="extra broker.conf keys for PocketMQ's brokers only, for an A/B of one setting")
    ap.add_argument("--keep", action="store_true", help="keep the brokers' temporary directories")
    o = ap.parse_args(argv)
    o.deployments = o.deployments or (["single-async"] if o.quick else list(clusters.DEPLOYMENTS))
    o.sizes = o.sizes or ([128] if o.quick else [128, 1024])
    o.concurrency = o.concurrency or ([16] if o.quick else [1, 16, 64])
    o.seconds = o.seconds if o.seconds is not None else (10.0 if o.quick else 15.0)
    o.broker_warmup = o.broker_warmup if o.broker_warmup is not None else (5.0 if o.quick else 10.0)
    o.warmup = o.warmup if o.warmup is not None else (3.0 if o.quick else 5.0)
    return o


def main(argv: list[str] | None = None) -> int:
    o = parse_args(argv)
    ensure_apache_jars()
    if o.scale:
        o.loadgen = "go"  # the scale workloads are driven by bench/lib/goloadgen.py
    if o.loadgen == "go":
        if o.tls:
            raise SystemExit("--loadgen go does not speak TLS here; use --loadgen java or python")
        from bench.lib import goloadgen
        goloadgen.build()
    classpath = "" if o.loadgen in ("python", "go") else (
        f"{JAVA_DIR / 'target' / 'classes'}{os.pathsep}{JAVA_DIR / 'target' / 'lib'}/*" if o.no_build
        else build_java())
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = o.name or f"{'quick' if o.quick else 'run'}-{o.loadgen}-{stamp}"
    json_path, png_path = RESULTS / f"{name}.json", RESULTS / f"{name}.png"
    profile_dir = RESULTS / f"{name}-profile" if o.profile else None
    if profile_dir:
        profile_dir.mkdir(exist_ok=True)

    meta = {
        "name": name, "date": dt.datetime.now().isoformat(timespec="seconds"), "git": git_rev(),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "rocketmq_version": "4.9.7", "loadgen": o.loadgen, "seconds": o.seconds, "warmup": o.warmup,
        "queues_per_master": o.queues, "broker_warmup": o.broker_warmup, "repeat": o.repeat,
        "deployments": o.deployments, "sizes": o.sizes,
        "concurrency": o.concurrency, "loadavg_start": list(os.getloadavg()), "note": o.note, "acl": o.acl,
        "tls": o.tls,
        "argv": sys.argv[1:],
    }
    runs: list[dict] = []
    seq = 0
    t_start = time.monotonic()

    def save() -> None:
        rows = report.summarize(runs)
        meta["loadavg_end"] = list(os.getloadavg())
        meta["wall_s"] = round(time.monotonic() - t_start, 1)
        json_path.write_text(json.dumps({"meta": meta, "summary": rows, "runs": runs}, indent=1))

    try:
        for dname in o.deployments:
            started: dict[str, clusters.Deployment] = {}
            ctxs = []
            try:
                for impl in o.impls:
                    log(f"starting {impl} {dname}")
                    ctx = clusters.deployment(impl, dname, keep=o.keep, acl=o.acl, tls=o.tls,
                                              pocketmq_keys=dict(kv.split("=", 1) for kv in o.pocketmq_conf))
                    started[impl] = ctx.__enter__()
                    ctxs.append(ctx)
                for impl, dep in started.items():
                    log(f"warming up {impl} {dname} ({o.broker_warmup:.0f} s)")
                    warm_up(dep, o, classpath)
                if o.scale:
                    for family in o.scale:
                        log(f"scale family {family} on {dname}")
                        runs.extend(scale.run_family(family, started, o, log))
                        save()
                    continue
                flip = False
                for rep in range(o.repeat):
                    for size in o.sizes:
                        for threads in o.concurrency:
                            order = list(o.impls)[::-1] if flip else list(o.impls)
                            flip = not flip
                            for impl in order:
                                seq += 1
                                log(f"run {seq}: {impl} {dname} {size}B x{threads} (load {os.getloadavg()[0]:.2f})")
                                r = one_run(started[impl], o, classpath, size, threads, seq, profile_dir)
                                r["repeat"] = rep
                                runs.append(r)
                                if r.get("error"):
                                    log(f"  ERROR {r['error'][:400]}")
                                else:
                                    log(f"  send {r['send_tps']:,.0f}/s p99 {r['p99_ms']:.2f} ms, consume "
                                        f"{r.get('consume_tps', 0):,.0f}/s, cpu {r['cpu_s_per_m']:.1f} s/M "
                                        f"(busiest thread {r.get('busiest_thread_s_per_m', 0):.1f}), "
                                        f"rss {r['broker_peak_rss_mb']:,.0f} MiB, failures {r['failures']}")
                                save()
            finally:
                for ctx in reversed(ctxs):
                    ctx.__exit__(None, None, None)
    finally:
        save()

    rows = report.summarize(runs)
    la = meta["loadavg_start"], meta["loadavg_end"]
    title = (f"PocketMQ vs Apache RocketMQ 4.9.7 ({o.loadgen} load generator, {o.seconds:.0f} s runs)\n"
             f"{meta['date']}, git {meta['git']}, load avg {la[0][0]:.1f} -> {la[1][0]:.1f}")
    if rows:
        report.chart(rows, png_path, title)
    print(f"\n{title}\n")
    print(report.table(rows))
    print("\nratios PocketMQ / RocketMQ:\n")
    print(report.compact_table(rows))
    if profile_dir:
        merged = profile_dir / "all.txt"
        with open(merged, "w") as out:
            for f in sorted(profile_dir.glob("bench_*.txt")):
                out.write(f.read_text())
        summary = prof.summarize(merged)
        (profile_dir / "summary.txt").write_text(summary + "\n")
        print("\nPocketMQ master profile (py-spy):\n" + summary)
    print(f"\nwrote {json_path.relative_to(ROOT)}" + (f" and {png_path.relative_to(ROOT)}" if rows else ""))
    errors = [r for r in runs if r.get("error")]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
