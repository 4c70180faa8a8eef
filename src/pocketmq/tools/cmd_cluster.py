"""clusterList and clusterRT (upstream ``tools/command/cluster``).

PocketMQ extension to clusterList: a broker set listed in the cluster whose master (brokerId 0)
is not registered any more is "master down". Upstream's rows stay exactly as they are (the slaves
still print with their own #BID), and after the table one note line per such set is printed:

    #MasterDown  <cluster>  <brokerName>  (master down, slaves: <addr>[,<addr>])

It starts with ``#`` like the header, so scripts that skip header lines skip it too. ``--json``
gives the same information as ``"masterDown": true`` on each row of that set.
"""

from __future__ import annotations

import asyncio
import time

from pocketmq.protocol.route import MASTER_ID
from pocketmq.tools.command import Context, Opt, command
from pocketmq.tools.jfmt import hashmap_order, jformat

HEADER = "%-16s  %-22s  %-4s  %-22s %-16s %19s %19s %10s %5s %6s%n"
MORE = "%-16s  %-32s %14s %14s %14s %14s%n"
MORE_ROW = "%-16s  %-32s %14d %14d %14d %14d%n"


def _tps(value: str | None) -> float:
    if value is None:
        raise ValueError("no TPS value")
    tokens = value.split(" ")
    # A fresh Apache broker reports "" until its first stats window fills (upstream then prints a
    # NumberFormatException stack trace); that is simply no traffic yet.
    return float(tokens[0]) if tokens and tokens[0] else 0.0


async def _runtime_all(ctx: Context, addrs: list[str]) -> dict[str, dict[str, str] | Exception]:
    admin = await ctx.admin()

    async def one(addr: str) -> dict[str, str] | Exception:
        try:
            return await admin.runtime_info(addr)
        except Exception as exc:  # printed per row, as upstream does
            return exc

    results = await asyncio.gather(*(one(a) for a in addrs))
    return dict(zip(addrs, results))


def _layout(info) -> list[tuple[str, str, int, str]]:  # noqa: ANN001
    rows = []
    for cluster in hashmap_order(info.clusterAddrTable):
        for name in sorted(info.clusterAddrTable[cluster]):
            bd = info.brokerAddrTable.get(name)
            if bd is None:
                continue
            for bid in sorted(bd.brokerAddrs):
                rows.append((cluster, name, bid, bd.brokerAddrs[bid]))
    return rows


def _master_down(info) -> list[tuple[str, str, list[str]]]:  # noqa: ANN001
    down = []
    for cluster in hashmap_order(info.clusterAddrTable):
        for name in sorted(info.clusterAddrTable[cluster]):
            bd = info.brokerAddrTable.get(name)
            if bd is not None and bd.brokerAddrs and MASTER_ID not in bd.brokerAddrs:
                down.append((cluster, name, [bd.brokerAddrs[i] for i in sorted(bd.brokerAddrs)]))
    return down


async def _base_info(ctx: Context) -> None:
    admin = await ctx.admin()
    info = await admin.cluster_info()
    rows = _layout(info)
    stats = await _runtime_all(ctx, [r[3] for r in rows])
    down = _master_down(info)
    down_sets = {(c, n) for c, n, _ in down}
    records = []
    if not ctx.json:
        ctx.printf(HEADER, "#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Version", "#InTPS(LOAD)",
                   "#OutTPS(LOAD)", "#PCWait(ms)", "#Hour", "#SPACE")
    for cluster, name, bid, addr in rows:
        kv = stats[addr]
        tin = tout = 0.0
        version = send_q = pull_q = send_wait = pull_wait = pc_wait = earliest = ratio = ""
        if isinstance(kv, Exception):
            ctx.error(f"clusterList: runtime info of {addr} failed: {kv}")
        else:
            send_q, pull_q = kv.get("sendThreadPoolQueueSize"), kv.get("pullThreadPoolQueueSize")
            send_wait = kv.get("sendThreadPoolQueueHeadWaitTimeMills")
            pull_wait = kv.get("pullThreadPoolQueueHeadWaitTimeMills")
            pc_wait, earliest = kv.get("pageCacheLockTimeMills"), kv.get("earliestMessageTimeStamp")
            ratio, version = kv.get("commitLogDiskRatio"), kv.get("brokerVersionDesc")
            try:
                tin, tout = _tps(kv.get("putTps")), _tps(kv.get("getTransferedTps"))
            except ValueError as exc:
                ctx.error(f"clusterList: runtime info of {addr}: {exc}")
        hour = space = 0.0
        if earliest:
            hour = (time.time() * 1000 - int(earliest)) / 1000.0 / 60.0 / 60.0
        if ratio:
            space = float(ratio)
        record = {"cluster": cluster, "brokerName": name, "brokerId": bid, "addr": addr, "version": version,
                  "inTps": tin, "outTps": tout, "sendThreadPoolQueueSize": send_q,
                  "sendThreadPoolQueueHeadWaitTimeMills": send_wait, "pullThreadPoolQueueSize": pull_q,
                  "pullThreadPoolQueueHeadWaitTimeMills": pull_wait, "pageCacheLockTimeMills": pc_wait,
                  "hour": round(hour, 2), "space": space, "masterDown": (cluster, name) in down_sets}
        records.append(record)
        if not ctx.json:
            ctx.printf(HEADER, cluster, name, bid, addr, version,
                       jformat("%9.2f(%s,%sms)", tin, send_q, send_wait),
                       jformat("%9.2f(%s,%sms)", tout, pull_q, pull_wait),
                       pc_wait, "%2.2f" % hour, "%.4f" % space)
    if ctx.json:
        ctx.emit_json(records)
        return
    for cluster, name, addrs in down:
        ctx.write(f"#MasterDown  {cluster}  {name}  (master down, slaves: {','.join(addrs)})\n")


async def _more_stats(ctx: Context) -> None:
    admin = await ctx.admin()
    info = await admin.cluster_info()
    rows = _layout(info)
    stats = await _runtime_all(ctx, [r[3] for r in rows])
    records = []
    if not ctx.json:
        ctx.printf(MORE, "#Cluster Name", "#Broker Name", "#InTotalYest", "#OutTotalYest", "#InTotalToday",
                   "#OutTotalToday")
    for cluster, name, bid, addr in rows:
        kv = stats[addr]
        in_yest = out_yest = in_today = out_today = 0
        if isinstance(kv, Exception):
            ctx.error(f"clusterList: runtime info of {addr} failed: {kv}")
        else:
            try:
                g = {k: int(kv[k]) for k in ("msgPutTotalYesterdayMorning", "msgPutTotalTodayMorning",
                                             "msgPutTotalTodayNow", "msgGetTotalYesterdayMorning",
                                             "msgGetTotalTodayMorning", "msgGetTotalTodayNow")}
                in_yest = g["msgPutTotalTodayMorning"] - g["msgPutTotalYesterdayMorning"]
                out_yest = g["msgGetTotalTodayMorning"] - g["msgGetTotalYesterdayMorning"]
                in_today = g["msgPutTotalTodayNow"] - g["msgPutTotalTodayMorning"]
                out_today = g["msgGetTotalTodayNow"] - g["msgGetTotalTodayMorning"]
            except (KeyError, ValueError) as exc:
                ctx.error(f"clusterList: runtime info of {addr}: missing {exc}")
        records.append({"cluster": cluster, "brokerName": name, "brokerId": bid, "addr": addr,
                        "inTotalYest": in_yest, "outTotalYest": out_yest, "inTotalToday": in_today,
                        "outTotalToday": out_today})
        if not ctx.json:
            ctx.printf(MORE_ROW, cluster, name, in_yest, out_yest, in_today, out_today)
    if ctx.json:
        ctx.emit_json(records)


@command("clusterList", "List all of clusters",
         [Opt("m", "moreStats", False, "Print more stats"),
          Opt("i", "interval", True, "specify intervals numbers, it is in seconds")], json=True)
async def cluster_list(ctx: Context, cl) -> None:  # noqa: ANN001
    interval = float(cl.get("i")) if cl.has("i") else None
    first = True
    while first or interval is not None:
        if not first:
            ctx.out.flush()
            await asyncio.sleep(interval)  # type: ignore[arg-type]
        first = False
        await (_more_stats(ctx) if cl.flag("m") else _base_info(ctx))


@command("clusterRT", "List All clusters Message Send RT",
         [Opt("a", "amount", True, "message amount | default 100"),
          Opt("s", "size", True, "message size | default 128 Byte"),
          Opt("c", "cluster", True, "cluster name | default display all cluster"),
          Opt("p", "print log", True, "print as tlog | default false"),
          Opt("m", "machine room", True, "machine room name | default noname"),
          Opt("i", "interval", True, "print interval | default 10 seconds")], alias="clusterSendMsgRT")
async def cluster_rt(ctx: Context, cl) -> None:  # noqa: ANN001
    """Runs until interrupted, as upstream (one round every -i seconds)."""
    from pocketmq.client.message import Message

    admin = await ctx.admin()
    info = await admin.cluster_info()
    amount = int(cl.get("a", "100"))
    size = int(cl.get("s", "128"))
    interval = float(cl.get("i", "10"))
    tlog = cl.has("p") and cl.get("p", "").lower() == "true"
    room = cl.get("m", "noname")
    clusters = [cl.get("c")] if cl.has("c") else hashmap_order(info.clusterAddrTable)
    producer = await admin.producer(str(int(time.time() * 1000)))
    try:
        if not tlog:
            ctx.printf("%-24s  %-24s  %-4s  %-8s  %-8s%n", "#Cluster Name", "#Broker Name", "#RT", "#successCount",
                       "#failCount")
        while True:
            for cluster in clusters:
                names = info.clusterAddrTable.get(cluster)
                if names is None:
                    ctx.printf("cluster [%s] not exist", cluster)
                    break
                for name in hashmap_order(names):
                    msg = Message(topic=name, body=b"a" * size)
                    elapsed = ok = failed = 0
                    for i in range(amount):
                        start = time.monotonic()
                        try:
                            await producer.send(msg)
                            ok += 1
                        except Exception:
                            failed += 1
                        if i != 0:
                            elapsed += int((time.monotonic() - start) * 1000)
                    rt = elapsed / (amount - 1) if amount > 1 else 0.0
                    if not tlog:
                        ctx.printf("%-24s  %-24s  %-8s  %-16s  %-16s%n", cluster, name, "%.2f" % rt, ok, failed)
                    else:
                        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600))
                        ctx.printf("%s|%s|%s|%s|%s%n", now, room, cluster, name, int(rt + 0.5))
            ctx.out.flush()
            await asyncio.sleep(interval)
    finally:
        await producer.shutdown()
