"""Consumer/producer group subcommands (upstream ``tools/command/consumer``, ``connection`` and
``offset``): updateSubGroup, deleteSubGroup, consumerProgress, consumerConnection,
producerConnection, consumerStatus, resetOffsetByTime, cloneGroupOffset."""

from __future__ import annotations

import asyncio
import os
import time

from pocketmq.client.errors import MQBrokerError
from pocketmq.protocol.client_bodies import (
    ConsumeStats, MessageQueue, OffsetWrapper, SubscriptionGroupConfig, decode_topic_stats,
)
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.tools.admin_ext import DLQ_PREFIX, RETRY_PREFIX, AdminError, AdminExt, ConsumerRunningInfo, select_broker_addr
from pocketmq.tools.cmd_topic import delete_topic_everywhere
from pocketmq.tools.command import Context, Opt, command
from pocketmq.tools.jfmt import format_date, front, hashmap_order, jformat, jval, mq_order, parse_timestamp, version_desc


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() == "true"


def group_config_str(c: SubscriptionGroupConfig) -> str:
    b = lambda v: "true" if v else "false"  # noqa: E731
    return (f"SubscriptionGroupConfig [groupName={c.groupName}, consumeEnable={b(c.consumeEnable)}, "
            f"consumeFromMinEnable={b(c.consumeFromMinEnable)}, consumeBroadcastEnable={b(c.consumeBroadcastEnable)}, "
            f"retryQueueNums={c.retryQueueNums}, retryMaxTimes={c.retryMaxTimes}, brokerId={c.brokerId}, "
            f"whichBrokerWhenConsumeSlowly={c.whichBrokerWhenConsumeSlowly}, "
            f"notifyConsumerIdsChangedEnable={b(c.notifyConsumerIdsChangedEnable)}]")


@command("updateSubGroup", "Update or create subscription group",
         [Opt("b", "brokerAddr", True, "create subscription group to which broker"),
          Opt("c", "clusterName", True, "create subscription group to which cluster"),
          Opt("g", "groupName", True, "consumer group name", required=True),
          Opt("s", "consumeEnable", True, "consume enable"),
          Opt("m", "consumeFromMinEnable", True, "from min offset"),
          Opt("d", "consumeBroadcastEnable", True, "broadcast"),
          Opt("o", "consumeMessageOrderly", True, "consume message orderly"),
          Opt("q", "retryQueueNums", True, "retry queue nums"),
          Opt("r", "retryMaxTimes", True, "retry max times"),
          Opt("i", "brokerId", True, "consumer from which broker id"),
          Opt("w", "whichBrokerWhenConsumeSlowly", True, "which broker id when consume slowly"),
          Opt("a", "notifyConsumerIdsChanged", True, "notify consumerId changed")])
async def update_sub_group(ctx: Context, cl) -> None:  # noqa: ANN001
    c = SubscriptionGroupConfig(cl.get("g"), consumeBroadcastEnable=False, consumeFromMinEnable=False)
    if cl.has("s"):
        c.consumeEnable = _bool(cl.get("s"))
    if cl.has("m"):
        c.consumeFromMinEnable = _bool(cl.get("m"))
    if cl.has("d"):
        c.consumeBroadcastEnable = _bool(cl.get("d"))
    if cl.has("o"):
        c.consumeMessageOrderly = _bool(cl.get("o"))
    if cl.has("q"):
        c.retryQueueNums = int(cl.get("q"))
    if cl.has("r"):
        c.retryMaxTimes = int(cl.get("r"))
    if cl.has("i"):
        c.brokerId = int(cl.get("i"))
    if cl.has("w"):
        c.whichBrokerWhenConsumeSlowly = int(cl.get("w"))
    if cl.has("a"):
        c.notifyConsumerIdsChangedEnable = _bool(cl.get("a"))
    admin = await ctx.admin()

    async def create(addr: str) -> None:
        await admin.create_group(addr, c)
        ctx.printf("create subscription group to %s success.%n", addr)

    await ctx.on_brokers(cl, "updateSubGroup", create)
    ctx.printf("%s", group_config_str(c))


@command("setConsumeMode", "Set consume message mode. pull/pop etc.",
         [Opt("b", "brokerAddr", True, "create subscription group to which broker"),
          Opt("c", "clusterName", True, "create subscription group to which cluster"),
          Opt("t", "topicName", True, "topic name", required=True),
          Opt("g", "groupName", True, "consumer group name", required=True),
          Opt("m", "mode", True, "consume mode. PULL/POP", required=True),
          Opt("q", "popShareQueueNum", True, "num of queue which share in pop mode")])
async def set_consume_mode(ctx: Context, cl) -> None:  # noqa: ANN001
    topic, group = cl.get("t").strip(), cl.get("g").strip()
    mode = cl.get("m").strip()
    if mode not in ("PULL", "POP"):
        raise AdminError(f"No enum constant org.apache.rocketmq.common.message.MessageRequestMode.{mode}")
    share = int(cl.get("q").strip()) if cl.has("q") else 0
    admin = await ctx.admin()

    async def set_mode(addr: str) -> None:
        await admin.set_message_request_mode(addr, topic, group, mode, share)
        ctx.printf("set consume mode to %s success.%n", addr)

    await ctx.on_brokers(cl, "setConsumeMode", set_mode)
    ctx.printf("topic[%s] group[%s] consume mode[%s] popShareQueueNum[%d]", topic, group, mode, share)


@command("deleteSubGroup", "Delete subscription group from broker.",
         [Opt("b", "brokerAddr", True, "delete subscription group from which broker"),
          Opt("c", "clusterName", True, "delete subscription group from which cluster"),
          Opt("g", "groupName", True, "subscription group name", required=True),
          Opt("r", "removeOffset", True, "remove offset")])
async def delete_sub_group(ctx: Context, cl) -> None:  # noqa: ANN001
    group = cl.get("g")
    remove = _bool(cl.get("r"))
    admin = await ctx.admin()
    if cl.has("b"):
        addr = cl.get("b")
        await admin.delete_group(addr, group, remove)
        ctx.printf("delete subscription group [%s] from broker [%s] success.%n", group, addr)
        return
    if cl.has("c"):
        cluster = cl.get("c")
        for addr in hashmap_order(await admin.master_addrs(cluster)):
            await admin.delete_group(addr, group, remove)
            ctx.printf("delete subscription group [%s] from broker [%s] in cluster [%s] success.%n", group, addr,
                       cluster)
        try:
            await delete_topic_everywhere(ctx, admin, cluster, RETRY_PREFIX + group)
            await delete_topic_everywhere(ctx, admin, cluster, DLQ_PREFIX + group)
        except (MQBrokerError, OSError) as exc:  # upstream prints the stack trace only
            ctx.err.write(f"mqadmin: deleteSubGroup: retry/DLQ topic: {exc}\n")
        return
    raise AdminError("give -b <brokerAddr> or -c <clusterName>")


def _last_time(ts: int) -> str:
    return "N/A" if ts == 0 else format_date(ts)


async def _allocation(admin: AdminExt, group: str) -> dict[MessageQueue, str]:
    result: dict[MessageQueue, str] = {}
    try:
        cc = await admin.consumer_connection(group)
        for conn in cc.connectionSet:
            info = await admin.consumer_running_info(group, conn.clientId, False)
            for mq in info.mq_table:
                result[mq] = conn.clientId.split("@")[0]
    except Exception:
        pass
    return result


@command("consumerProgress", "Query consumers's progress, speed",
         [Opt("g", "groupName", True, "consumer group name"),
          Opt("s", "showClientIP", True, "Show Client IP per Queue")], json=True)
async def consumer_progress(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    show_ip = _bool(cl.get("s"))
    if cl.has("g"):
        group = cl.get("g")
        stats = await admin.consume_stats(group)
        alloc = await _allocation(admin, group) if show_ip else {}
        rows = sorted(stats.offsetTable.items())
        if ctx.json:
            ctx.emit_json({"consumeTps": stats.consumeTps, "diffTotal": sum(w.brokerOffset - w.consumerOffset
                                                                            for _, w in rows),
                           "queues": [{"topic": mq.topic, "brokerName": mq.brokerName, "queueId": mq.queueId,
                                       "brokerOffset": w.brokerOffset, "consumerOffset": w.consumerOffset,
                                       "diff": w.brokerOffset - w.consumerOffset, "lastTimestamp": w.lastTimestamp,
                                       **({"clientIP": alloc.get(mq)} if show_ip else {})} for mq, w in rows]})
            return
        if show_ip:
            ctx.printf("%-64s  %-32s  %-4s  %-20s  %-20s  %-20s %-20s  %s%n", "#Topic", "#Broker Name", "#QID",
                       "#Broker Offset", "#Consumer Offset", "#Client IP", "#Diff", "#LastTime")
        else:
            ctx.printf("%-64s  %-32s  %-4s  %-20s  %-20s  %-20s  %s%n", "#Topic", "#Broker Name", "#QID",
                       "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime")
        total = 0
        for mq, w in rows:
            diff = w.brokerOffset - w.consumerOffset
            total += diff
            if show_ip:
                ctx.printf("%-64s  %-32s  %-4d  %-20d  %-20d  %-20s %-20d  %s%n", front(mq.topic, 64),
                           front(mq.brokerName, 32), mq.queueId, w.brokerOffset, w.consumerOffset,
                           alloc.get(mq) or "N/A", diff, _last_time(w.lastTimestamp))
            else:
                ctx.printf("%-64s  %-32s  %-4d  %-20d  %-20d  %-20d  %s%n", front(mq.topic, 64),
                           front(mq.brokerName, 32), mq.queueId, w.brokerOffset, w.consumerOffset, diff,
                           _last_time(w.lastTimestamp))
        ctx.printf("%n")
        ctx.printf("Consume TPS: %.2f%n", stats.consumeTps)
        ctx.printf("Diff Total: %d%n", total)
        return
    groups = [t[len(RETRY_PREFIX):] for t in await admin.topic_list() if t.startswith(RETRY_PREFIX)]

    async def one(group: str) -> dict:
        info = {"group": group, "count": 0, "version": None, "consumeType": None, "messageModel": None,
                "consumeTps": 0, "diffTotal": 0}
        try:
            stats = await admin.consume_stats(group)
            info["consumeTps"] = int(stats.consumeTps)
            info["diffTotal"] = sum(w.brokerOffset - w.consumerOffset for w in stats.offsetTable.values())
        except Exception:
            pass
        try:
            cc = await admin.consumer_connection(group)
            info.update(count=len(cc.connectionSet), messageModel=cc.messageModel, consumeType=cc.consumeType,
                        version=min(c.version for c in cc.connectionSet))
        except Exception:
            pass
        return info

    infos = await asyncio.gather(*(one(g) for g in groups))
    if ctx.json:
        ctx.emit_json([{**i, "version": version_desc(i["version"]) if i["count"] else None} for i in infos])
        return
    ctx.printf("%-64s  %-6s  %-24s %-5s  %-14s  %-7s  %s%n", "#Group", "#Count", "#Version", "#Type", "#Model",
               "#TPS", "#Diff Total")
    for i in infos:
        count = i["count"]
        ctype = ("PULL" if i["consumeType"] == "CONSUME_ACTIVELY" else "PUSH") if count else ""
        model = i["messageModel"] if count and i["consumeType"] == "CONSUME_PASSIVELY" else ""
        ctx.printf("%-64s  %-6d  %-24s %-5s  %-14s  %-7d  %d%n", front(i["group"], 64), count,
                   version_desc(i["version"]) if count else "OFFLINE", ctype, model, i["consumeTps"], i["diffTotal"])


@command("consumerConnection", "Query consumer's socket connection, client version and subscription",
         [Opt("g", "consumerGroup", True, "consumer group name", required=True),
          Opt("b", "brokerAddr", True, "broker address")], json=True)
async def consumer_connection(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    cc = await admin.consumer_connection(cl.get("g"), cl.get("b"))
    topics = hashmap_order(cc.subscriptionTable)
    if ctx.json:
        ctx.emit_json({"connections": [{"clientId": c.clientId, "clientAddr": c.clientAddr, "language": c.language,
                                        "version": version_desc(c.version)} for c in cc.connectionSet],
                       "subscriptions": [{"topic": cc.subscriptionTable[t].topic,
                                          "subExpression": cc.subscriptionTable[t].subString} for t in topics],
                       "consumeType": cc.consumeType, "messageModel": cc.messageModel,
                       "consumeFromWhere": cc.consumeFromWhere})
        return
    ctx.printf("%-36s %-22s %-10s %s%n", "#ClientId", "#ClientAddr", "#Language", "#Version")
    for c in cc.connectionSet:
        ctx.printf("%-36s %-22s %-10s %s%n", c.clientId, c.clientAddr, c.language, version_desc(c.version))
    ctx.printf("%nBelow is subscription:\n")
    ctx.printf("%-20s %s%n", "#Topic", "#SubExpression")
    for t in topics:
        sd = cc.subscriptionTable[t]
        ctx.printf("%-20s %s%n", sd.topic, sd.subString)
    ctx.printf("\n")
    ctx.printf("ConsumeType: %s%n", cc.consumeType)
    ctx.printf("MessageModel: %s%n", cc.messageModel)
    ctx.printf("ConsumeFromWhere: %s%n", cc.consumeFromWhere)


@command("producerConnection", "Query producer's socket connection and client version",
         [Opt("g", "producerGroup", True, "producer group name", required=True),
          Opt("t", "topic", True, "topic name", required=True)], json=True)
async def producer_connection(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    conns = await admin.producer_connection(cl.get("g"), cl.get("t"))
    if ctx.json:
        ctx.emit_json([{"clientId": c.clientId, "clientAddr": c.clientAddr, "language": c.language,
                        "version": version_desc(c.version)} for c in conns])
        return
    for i, c in enumerate(conns, 1):
        ctx.printf("%04d  %-32s %-22s %-8s %s%n", i, c.clientId, c.clientAddr, c.language, version_desc(c.version))


_PQ_FIELDS = ("commitOffset", "cachedMsgMinOffset", "cachedMsgMaxOffset", "cachedMsgCount", "cachedMsgSizeInMiB",
              "transactionMsgMinOffset", "transactionMsgMaxOffset", "transactionMsgCount", "locked",
              "tryUnlockTimes", "lastLockTimestamp", "droped", "lastPullTimestamp", "lastConsumeTimestamp")


def running_info_text(info: ConsumerRunningInfo) -> str:
    """ConsumerRunningInfo.formatString()."""
    out = ["#Consumer Properties#\n"]
    for key in hashmap_order(info.properties):
        out.append(jformat("%-40s: %s%n", key, info.properties[key]))
    out.append("\n\n#Consumer Subscription#\n")
    subs = sorted(info.subscriptions, key=lambda s: (str(s.get("topic")), str(s.get("subString"))))
    for i, s in enumerate(subs, 1):
        out.append(jformat("%03d Topic: %-40s ClassFilter: %-8s SubExpression: %s%n", i, s.get("topic"),
                           bool(s.get("classFilterMode", False)), s.get("subString")))
    out.append("\n\n#Consumer Offset#\n")
    out.append(jformat("%-64s  %-32s  %-4s  %-20s%n", "#Topic", "#Broker Name", "#QID", "#Consumer Offset"))
    table = sorted(info.mq_table.items())
    for mq, pq in table:
        out.append(jformat("%-32s  %-32s  %-4d  %-20d%n", mq.topic, mq.brokerName, mq.queueId,
                           int(pq.get("commitOffset", 0))))
    out.append("\n\n#Consumer MQ Detail#\n")
    out.append(jformat("%-64s  %-32s  %-4s  %-20s%n", "#Topic", "#Broker Name", "#QID", "#ProcessQueueInfo"))
    for mq, pq in table:
        text = "ProcessQueueInfo [" + ", ".join(f"{k}={jval(pq.get(k, 0))}" for k in _PQ_FIELDS) + "]"
        out.append(jformat("%-64s  %-32s  %-4d  %s%n", mq.topic, mq.brokerName, mq.queueId, text))
    out.append("\n\n#Consumer RT&TPS#\n")
    out.append(jformat("%-64s  %14s %14s %14s %14s %18s %25s%n", "#Topic", "#Pull RT", "#Pull TPS", "#Consume RT",
                       "#ConsumeOK TPS", "#ConsumeFailed TPS", "#ConsumeFailedMsgsInHour"))
    for topic in sorted(info.status_table):
        st = info.status_table[topic] or {}
        out.append(jformat("%-32s  %14.2f %14.2f %14.2f %14.2f %18.2f %25d%n", topic, float(st.get("pullRT", 0)),
                           float(st.get("pullTPS", 0)), float(st.get("consumeRT", 0)),
                           float(st.get("consumeOKTPS", 0)), float(st.get("consumeFailedTPS", 0)),
                           int(st.get("consumeFailedMsgs", 0))))
    if info.jstack is not None:
        out.append("\n\n#Consumer jstack#\n" + info.jstack)
    return "".join(out)


@command("consumerStatus", "Query consumer's internal data structure",
         [Opt("g", "consumerGroup", True, "consumer group name", required=True),
          Opt("i", "clientId", True, "The consumer's client id"),
          Opt("b", "brokerAddr", True, "broker address"),
          Opt("s", "jstack", False, "Run jstack command in the consumer progress")], json=True)
async def consumer_status(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    group = cl.get("g")
    jstack = cl.flag("s")
    cc = await admin.consumer_connection(group, cl.get("b"))
    if cl.has("i"):
        info = await admin.consumer_running_info(group, cl.get("i"), jstack)
        if ctx.json:
            ctx.emit_json({"properties": info.properties, "subscriptions": info.subscriptions,
                           "mqTable": [{"topic": mq.topic, "brokerName": mq.brokerName, "queueId": mq.queueId, **pq}
                                       for mq, pq in sorted(info.mq_table.items())], "statusTable": info.status_table})
        else:
            ctx.printf("%s", running_info_text(info))
        return
    now = int(time.time() * 1000)
    table: dict[str, ConsumerRunningInfo] = {}
    rows = []
    if not ctx.json:
        ctx.printf("%-10s %-40s %-20s %s%n", "#Index", "#ClientId", "#Version", "#ConsumerRunningInfoFile")
    for conn in cc.connectionSet:
        try:
            info = await admin.consumer_running_info(group, conn.clientId, jstack)
        except Exception as exc:
            ctx.error(f"consumerStatus: {conn.clientId}: {exc}")
            continue
        table[conn.clientId] = info
        path = f"{now}/{conn.clientId}"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(running_info_text(info))
        rows.append({"clientId": conn.clientId, "version": version_desc(conn.version), "file": path})
        if not ctx.json:
            ctx.printf("%-10d %-40s %-20s %s%n", len(rows), conn.clientId, version_desc(conn.version), path)
    if ctx.json:
        ctx.emit_json(rows)
        return
    if table:
        infos = [table[k] for k in sorted(table)]
        push = infos[0].properties.get("PROP_CONSUME_TYPE") == "CONSUME_PASSIVELY"
        started = int(infos[0].properties.get("PROP_CONSUMER_START_TIMESTAMP", "0") or 0)
        same = True
        if push and now - started > 2 * 60 * 1000:
            key = lambda i: sorted((s.get("topic"), s.get("subString")) for s in i.subscriptions)  # noqa: E731
            same = all(key(i) == key(infos[0]) for i in infos) and bool(infos[-1].subscriptions)
        if same:
            ctx.printf("%n%nSame subscription in the same group of consumer")
            ctx.printf("%n%nRebalance %s%n", "OK")
        else:
            ctx.printf("%n%nWARN: Different subscription in the same group of consumer!!!")


def _parse_reset_time(text: str) -> int:
    if text == "now":
        return -1
    try:
        return parse_timestamp(text)
    except ValueError:
        raise AdminError(f"bad timestamp {text!r}: give now, milliseconds or yyyy-MM-dd#HH:mm:ss:SSS") from None


async def _reset_old(ctx: Context, admin: AdminExt, group: str, topic: str, timestamp: int, force: bool,
                     text: str) -> None:
    """ResetOffsetByTimeOldCommand: set each queue's committed offset on the brokers directly."""
    route = await admin.topic_route(topic)
    read_nums = {q.brokerName: q.readQueueNums for q in route.queueDatas}
    stats_rows = []
    for bd in route.brokerDatas:
        addr = select_broker_addr(bd)
        if not addr:
            continue
        response = await admin.call(addr, RequestCode.GET_CONSUME_STATS, {"consumerGroup": group})
        stats = ConsumeStats.decode(response.body_bytes())
        mine = {mq: w for mq, w in stats.offsetTable.items() if mq.topic == topic}
        if not mine:
            offsets = decode_topic_stats((await admin.call(addr, RequestCode.GET_TOPIC_STATS_INFO, {"topic": topic})).body_bytes())
            for i in range(read_nums.get(bd.brokerName, 0)):
                mq = MessageQueue(topic, bd.brokerName, i)
                o = offsets.get(mq)
                mine[mq] = OffsetWrapper(o.maxOffset if o else 0, o.minOffset if o else 0)
        for mq, w in sorted(mine.items()):
            if timestamp == -1:
                target = await admin.api.get_max_offset(addr, mq)
            else:
                target = await admin.api.search_offset(addr, mq, timestamp)
            rollback = w.consumerOffset
            if force or target <= w.consumerOffset:
                rollback = target
                await admin.update_consumer_offset(addr, group, mq, target)
            stats_rows.append((mq.brokerName, mq.queueId, w.brokerOffset, w.consumerOffset, target, rollback))
    ctx.printf("rollback consumer offset by specified consumerGroup[%s], topic[%s], force[%s], "
               "timestamp(string)[%s], timestamp(long)[%s]%n", group, topic, force, text, timestamp)
    ctx.printf("%-20s  %-20s  %-20s  %-20s  %-20s  %-20s%n", "#brokerName", "#queueId", "#brokerOffset",
               "#consumerOffset", "#timestampOffset", "#rollbackOffset")
    for row in stats_rows:
        ctx.printf("%-20s  %-20d  %-20d  %-20d  %-20d  %-20d%n", front(row[0], 32), *row[1:])


@command("resetOffsetByTime", "Reset consumer offset by timestamp(without client restart).",
         [Opt("g", "group", True, "set the consumer group", required=True),
          Opt("t", "topic", True, "set the topic", required=True),
          Opt("s", "timestamp", True, "set the timestamp[now|currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]",
              required=True),
          Opt("f", "force", True, "set the force rollback by timestamp switch[true|false]"),
          Opt("c", "cplus", False, "reset c++ client offset")])
async def reset_offset_by_time(ctx: Context, cl) -> None:  # noqa: ANN001
    group, topic, text = cl.get("g"), cl.get("t"), cl.get("s")
    timestamp = _parse_reset_time(text)
    force = _bool(cl.get("f")) if cl.has("f") else True
    admin = await ctx.admin()
    try:
        table = await admin.reset_offset_by_time(topic, group, timestamp, force, cl.flag("c"))
    except MQBrokerError as exc:
        if exc.code == ResponseCode.CONSUMER_NOT_ONLINE:
            await _reset_old(ctx, admin, group, topic, timestamp, force, text)
            return
        raise
    ctx.printf("rollback consumer offset by specified group[%s], topic[%s], force[%s], timestamp(string)[%s], "
               "timestamp(long)[%s]%n", group, topic, force, text, timestamp)
    ctx.printf("%-40s  %-40s  %-40s%n", "#brokerName", "#queueId", "#offset")
    for mq in mq_order(table):
        ctx.printf("%-40s  %-40d  %-40d%n", front(mq.brokerName, 32), mq.queueId, table[mq])


@command("cloneGroupOffset", "clone offset from other group.",
         [Opt("s", "srcGroup", True, "set source consumer group", required=True),
          Opt("d", "destGroup", True, "set destination consumer group", required=True),
          Opt("t", "topic", True, "set the topic", required=True),
          Opt("o", "offline", True, "the group or the topic is offline")])
async def clone_group_offset(ctx: Context, cl) -> None:  # noqa: ANN001
    src, dest, topic = cl.get("s"), cl.get("d"), cl.get("t")
    admin = await ctx.admin()
    stats = await admin.consume_stats(src)
    if stats.offsetTable:
        route = await admin.topic_route(topic)
        for mq, w in stats.offsetTable.items():
            addr = next((select_broker_addr(bd) for bd in route.brokerDatas if bd.brokerName == mq.brokerName), None)
            if addr and w.consumerOffset >= 0:
                await admin.update_consumer_offset(addr, dest, mq, w.consumerOffset)
    ctx.printf("clone group offset success. srcGroup[%s], destGroup=[%s], topic[%s]", src, dest, topic)
