"""Broker subcommands (upstream ``tools/command/broker`` and ``stats``): brokerStatus,
brokerConsumeStats, getBrokerConfig, updateBrokerConfig, statsAll.

getBrokerConfig prints the keys in the order the broker sent them (upstream re-reads them into a
``java.util.Properties`` whose iteration order is an accident of its hash table)."""

from __future__ import annotations

from pocketmq.client.errors import MQBrokerError
from pocketmq.protocol.client_bodies import ConsumeStats, OffsetWrapper, _mq_table
from pocketmq.tools.admin_ext import DLQ_PREFIX, RETRY_PREFIX, AdminError
from pocketmq.tools.command import Context, Opt, command
from pocketmq.tools.jfmt import format_date, front, hashmap_order


@command("brokerStatus", "Fetch broker runtime status data",
         [Opt("b", "brokerAddr", True, "Broker address"), Opt("c", "clusterName", True, "which cluster")], json=True)
async def broker_status(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    if cl.has("b"):
        addr = cl.get("b")
        table = await admin.runtime_info(addr)
        if ctx.json:
            ctx.emit_json(dict(sorted(table.items())))
            return
        for key in sorted(table):
            ctx.printf("%-32s: %s%n", key, table[key])
        return
    if cl.has("c"):
        addrs = hashmap_order(await admin.all_addrs(cl.get("c")))
        result = {}
        for addr in addrs:
            try:
                table = await admin.runtime_info(addr)
            except (MQBrokerError, OSError) as exc:
                ctx.error(f"brokerStatus: {addr}: {exc}")
                continue
            result[addr] = dict(sorted(table.items()))
            if not ctx.json:
                for key in sorted(table):
                    ctx.printf("%-24s %-32s: %s%n", addr, key, table[key])
        if ctx.json:
            ctx.emit_json(result)
        return
    raise AdminError("give -b <brokerAddr> or -c <clusterName>")


@command("brokerConsumeStats", "Fetch broker consume stats data",
         [Opt("b", "brokerAddr", True, "Broker address", required=True),
          Opt("t", "timeoutMillis", True, "request timeout Millis"),
          Opt("l", "level", True, "threshold of print diff"),
          Opt("o", "order", True, "order topic")], json=True)
async def broker_consume_stats(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    is_order = (cl.get("o") or "").lower() == "true"
    timeout = int(cl.get("t", "50000"))
    level = int(cl.get("l", "0"))
    data = await admin.broker_consume_stats(cl.get("b"), is_order, timeout)
    rows = []
    for entry in data.get("consumeStatsList") or []:
        for group, stats_list in entry.items():
            for raw in stats_list or []:
                table = _mq_table(raw.get("offsetTable"))
                for mq in sorted(table):
                    v = table[mq]
                    w = OffsetWrapper(int(v.get("brokerOffset", 0)), int(v.get("consumerOffset", 0)),
                                      int(v.get("lastTimestamp", 0)))
                    diff = w.brokerOffset - w.consumerOffset
                    if diff < level or w.lastTimestamp <= 0:
                        continue
                    rows.append((mq, group, w, diff))
    if ctx.json:
        ctx.emit_json({"totalDiff": int(data.get("totalDiff", 0)),
                       "rows": [{"topic": mq.topic, "group": g, "brokerName": mq.brokerName, "queueId": mq.queueId,
                                 "brokerOffset": w.brokerOffset, "consumerOffset": w.consumerOffset, "diff": d,
                                 "lastTimestamp": w.lastTimestamp} for mq, g, w, d in rows]})
        return
    ctx.printf("%-64s  %-64s  %-32s  %-4s  %-20s  %-20s  %-20s  %s%n", "#Topic", "#Group", "#Broker Name", "#QID",
               "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime")
    for mq, group, w, diff in rows:
        ctx.printf("%-64s  %-64s  %-32s  %-4d  %-20d  %-20d  %-20d  %s%n", front(mq.topic, 64), group,
                   front(mq.brokerName, 32), mq.queueId, w.brokerOffset, w.consumerOffset, diff,
                   format_date(w.lastTimestamp))
    ctx.printf("%nDiff Total: %d%n", int(data.get("totalDiff", 0)))


async def _print_config(ctx: Context, prefix: str, addr: str, collected: dict) -> None:
    admin = await ctx.admin()
    props = await admin.broker_config(addr)
    collected[addr] = props
    if ctx.json:
        return
    ctx.write(prefix)
    for key, value in props.items():
        ctx.printf("%-50s=  %s\n", key, value)
    ctx.printf("%n")


@command("getBrokerConfig", "Get broker config by cluster or special broker!",
         [Opt("b", "brokerAddr", True, "get which broker"), Opt("c", "clusterName", True, "get which cluster")],
         json=True)
async def get_broker_config(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    collected: dict = {}
    if cl.has("b"):
        addr = cl.get("b")
        await _print_config(ctx, f"============{addr}============\n", addr, collected)
    elif cl.has("c"):
        for master, slaves in await admin.master_and_slaves(cl.get("c")):
            if master:
                await _print_config(ctx, f"============Master: {master}============\n", master, collected)
            for slave in slaves:
                await _print_config(ctx, f"============My Master: {master}=====Slave: {slave}============\n",
                                    slave, collected)
    else:
        raise AdminError("give -b <brokerAddr> or -c <clusterName>")
    if ctx.json:
        ctx.emit_json(collected)


@command("updateBrokerConfig", "Update broker's config",
         [Opt("b", "brokerAddr", True, "update which broker"), Opt("c", "clusterName", True, "update which cluster"),
          Opt("k", "key", True, "config key", required=True), Opt("v", "value", True, "config value", required=True)])
async def update_broker_config(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    props = {cl.get("k"): cl.get("v")}

    async def update(addr: str) -> None:
        await admin.update_broker_config(addr, props)
        ctx.printf("update broker config success, %s\n", addr)

    await ctx.on_brokers(cl, "updateBrokerConfig", update)


def _sum_24h(bsd: dict) -> int:
    for key in ("statsDay", "statsHour", "statsMinute"):
        total = int((bsd.get(key) or {}).get("sum", 0))
        if total != 0:
            return total
    return 0


@command("statsAll", "Topic and Consumer tps stats",
         [Opt("a", "activeTopic", False, "print active topic only"),
          Opt("t", "topic", True, "print select topic only")], json=True)
async def stats_all(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    active = cl.flag("a")
    selected = cl.get("t")
    topics = [t for t in await admin.topic_list() if not t.startswith((RETRY_PREFIX, DLQ_PREFIX))
              and (not selected or t == selected)]

    async def detail(topic: str) -> list[tuple]:
        route = await admin.topic_route(topic)
        groups = await admin.topic_consumed_by(topic)
        masters = [a for bd in route.brokerDatas if (a := bd.brokerAddrs.get(0))]
        in_tps, in_today = 0.0, 0
        for addr in masters:
            try:
                bsd = await admin.view_broker_stats(addr, "TOPIC_PUT_NUMS", topic)
                in_tps += float((bsd.get("statsMinute") or {}).get("tps", 0))
                in_today += _sum_24h(bsd)
            except Exception:
                pass
        rows = []
        if groups:
            for group in groups:
                out_tps, out_today = 0.0, 0
                for addr in masters:
                    try:
                        bsd = await admin.view_broker_stats(addr, "GROUP_GET_NUMS", f"{topic}@{group}")
                        out_tps += float((bsd.get("statsMinute") or {}).get("tps", 0))
                        out_today += _sum_24h(bsd)
                    except Exception:
                        pass
                accumulate = 0
                try:
                    stats: ConsumeStats = await admin.consume_stats(group, topic)
                    accumulate = max(0, sum(w.brokerOffset - w.consumerOffset for w in stats.offsetTable.values()))
                except Exception:
                    pass
                if not active or in_today > 0 or out_today > 0:
                    rows.append((topic, group, accumulate, in_tps, out_tps, in_today, out_today))
        elif not active or in_today > 0:
            rows.append((topic, "", 0, in_tps, None, in_today, None))
        return rows

    results = []
    for topic in topics:
        try:
            results.append(await detail(topic))
        except Exception as exc:
            ctx.error(f"statsAll: {topic}: {exc}")
            results.append([])
    rows = [r for rs in results for r in rs]
    if ctx.json:
        ctx.emit_json([{"topic": r[0], "consumerGroup": r[1], "accumulation": r[2], "inTps": r[3], "outTps": r[4],
                        "inMsg24Hour": r[5], "outMsg24Hour": r[6]} for r in rows])
        return
    ctx.printf("%-64s  %-64s %12s %11s %11s %14s %14s%n", "#Topic", "#Consumer Group", "#Accumulation", "#InTPS",
               "#OutTPS", "#InMsg24Hour", "#OutMsg24Hour")
    for topic, group, acc, in_tps, out_tps, in_today, out_today in rows:
        if out_tps is None:
            ctx.printf("%-64s  %-64s %12d %11.2f %11s %14d %14s%n", front(topic, 64), "", 0, in_tps, "", in_today,
                       "NO_CONSUMER")
        else:
            ctx.printf("%-64s  %-64s %12d %11.2f %11.2f %14d %14d%n", front(topic, 64), front(group, 64), acc,
                       in_tps, out_tps, in_today, out_today)

