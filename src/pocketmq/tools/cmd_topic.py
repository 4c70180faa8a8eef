"""Topic subcommands (upstream ``tools/command/topic``): topicList, topicRoute, topicStatus,
topicClusterList, updateTopic, deleteTopic, updateTopicPerm."""

from __future__ import annotations

import asyncio

from pocketmq.client.errors import MQBrokerError
from pocketmq.protocol.route import ClusterInfo, TopicRouteData
from pocketmq.remoting.codes import RequestCode
from pocketmq.tools.admin_ext import DLQ_PREFIX, RETRY_PREFIX, AdminError, AdminExt
from pocketmq.tools.command import Context, Opt, command
from pocketmq.tools.jfmt import fastjson_pretty, front, hashmap_order, human_time2, perm_to_string

ORDER_TOPIC_CONFIG = "ORDER_TOPIC_CONFIG"


def topic_config_str(name: str, read: int, write: int, perm: int, sys_flag: int = 0, order: bool = False,
                     attributes: str | None = None) -> str:
    """TopicConfig.toString() (4.x's; with ``-a``, 5.x's, which ends with the attributes map)."""
    text = (f"TopicConfig [topicName={name}, readQueueNums={read}, writeQueueNums={write}, "
            f"perm={perm_to_string(perm)}, topicFilterType=SINGLE_TAG, topicSysFlag={sys_flag}, "
            f"order={'true' if order else 'false'}")
    if attributes is None:
        return text + "]"
    pairs = [kv if "=" in kv else f"{kv}=" for kv in attributes.split(",") if kv]
    return text + f", attributes={{{', '.join(pairs)}}}]"


def cluster_of(topic_route: TopicRouteData, info: ClusterInfo) -> str | None:
    """The first cluster (map order) holding the route's first broker."""
    if not topic_route.brokerDatas:
        raise AdminError(f"topic route has no broker")
    name = topic_route.brokerDatas[0].brokerName
    for cluster in hashmap_order(info.clusterAddrTable):
        if name in info.clusterAddrTable[cluster]:
            return cluster
    return None


def route_dict(route: TopicRouteData) -> dict:
    data: dict = {
        "brokerDatas": [{"brokerAddrs": {int(i): a for i, a in sorted(bd.brokerAddrs.items())},
                         "brokerName": bd.brokerName, "cluster": bd.cluster} for bd in route.brokerDatas],
        "filterServerTable": dict(getattr(route, "filterServerTable", None) or {}),
        "queueDatas": [{"brokerName": q.brokerName, "perm": q.perm, "readQueueNums": q.readQueueNums,
                        "topicSysFlag": q.topicSysFlag, "writeQueueNums": q.writeQueueNums}
                       for q in route.queueDatas],
    }
    if getattr(route, "orderTopicConf", None):
        data["orderTopicConf"] = route.orderTopicConf
    return data


@command("topicList", "Fetch all topic list from name server",
         [Opt("c", "clusterModel", False, "clusterModel")], json=True)
async def topic_list(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    if not cl.flag("c"):
        topics = await admin.topic_list()
        if ctx.json:
            ctx.emit_json(topics)
        else:
            for topic in topics:
                ctx.printf("%s%n", topic)
        return
    info = await admin.cluster_info()
    topics = [t for t in await admin.topic_list() if not t.startswith((RETRY_PREFIX, DLQ_PREFIX))]

    async def one(topic: str) -> tuple[str | None, list[str]]:
        cluster: str | None = ""
        groups: list[str] = []
        try:
            cluster = cluster_of(await admin.topic_route(topic), info)
            groups = await admin.topic_consumed_by(topic) or []
        except Exception as exc:  # upstream prints the stack trace and goes on
            ctx.error(f"topicList: {topic}: {exc}")
        return cluster, groups or [""]

    results = await asyncio.gather(*(one(t) for t in topics))
    if ctx.json:
        ctx.emit_json([{"cluster": c, "topic": t, "consumerGroups": [g for g in gs if g]}
                       for t, (c, gs) in zip(topics, results)])
        return
    ctx.printf("%-20s  %-48s  %-48s%n", "#Cluster Name", "#Topic", "#Consumer Group")
    for topic, (cluster, groups) in zip(topics, results):
        for group in groups:
            ctx.printf("%-20s  %-64s  %-64s%n", front(cluster, 20), front(topic, 64), front(group, 64))


@command("topicRoute", "Examine topic route info",
         [Opt("t", "topic", True, "topic name", required=True),
          Opt("l", "list", False, "Use list format to print data")], json=True)
async def topic_route(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    route = await admin.topic_route(cl.get("t"))
    data = route_dict(route)
    if ctx.json:
        ctx.emit_json({**data, "brokerDatas": [{**b, "brokerAddrs": {str(k): v for k, v in b["brokerAddrs"].items()}}
                                               for b in data["brokerDatas"]]})
        return
    if not cl.flag("l"):
        ctx.printf("%s%n", fastjson_pretty(data))
        return
    fmt = "%-45s %-32s %-50s %-10s %-11s %-5s%n"
    queues = {q.brokerName: q for q in route.queueDatas}
    ctx.printf(fmt, "#ClusterName", "#BrokerName", "#BrokerAddrs", "#ReadQueue", "#WriteQueue", "#Perm")
    total_read = total_write = 0
    for bd in sorted(route.brokerDatas, key=lambda b: b.brokerName):
        q = queues[bd.brokerName]
        total_read += q.readQueueNums
        total_write += q.writeQueueNums
        addrs = "{" + ", ".join(f"{i}={a}" for i, a in sorted(bd.brokerAddrs.items())) + "}"
        ctx.printf(fmt, bd.cluster, bd.brokerName, addrs, q.readQueueNums, q.writeQueueNums, q.perm)
    ctx.write("-" * 158 + "\n")
    ctx.printf(fmt, "Total:", len(queues), "", total_read, total_write, "")


@command("topicStatus", "Examine topic Status info", [Opt("t", "topic", True, "topic name", required=True)],
         json=True)
async def topic_status(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    table = await admin.topic_stats(cl.get("t"))
    if ctx.json:
        ctx.emit_json([{"brokerName": mq.brokerName, "queueId": mq.queueId, "minOffset": o.minOffset,
                        "maxOffset": o.maxOffset, "lastUpdateTimestamp": o.lastUpdateTimestamp}
                       for mq, o in sorted(table.items())])
        return
    ctx.printf("%-32s  %-4s  %-20s  %-20s    %s%n", "#Broker Name", "#QID", "#Min Offset", "#Max Offset",
               "#Last Updated")
    for mq, offset in sorted(table.items()):
        stamp = human_time2(offset.lastUpdateTimestamp) if offset.lastUpdateTimestamp > 0 else ""
        ctx.printf("%-32s  %-4d  %-20d  %-20d    %s%n", front(mq.brokerName, 32), mq.queueId, offset.minOffset,
                   offset.maxOffset, stamp)


@command("topicClusterList", "get cluster info for topic", [Opt("t", "topic", True, "topic name", required=True)],
         json=True)
async def topic_cluster_list(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    info = await admin.cluster_info()
    route = await admin.topic_route(cl.get("t"))
    if not route.brokerDatas:
        raise AdminError("topic route has no broker")
    name = route.brokerDatas[0].brokerName
    clusters = hashmap_order(c for c in info.clusterAddrTable if name in info.clusterAddrTable[c])
    if ctx.json:
        ctx.emit_json(clusters)
        return
    for cluster in clusters:
        ctx.printf("%s%n", cluster)


async def _order_conf(admin: AdminExt, topic: str, conf: str, cluster_wide: bool) -> None:
    """createOrUpdateOrderConf: a cluster replaces the value; a broker merges its entry in."""
    if not cluster_wide:
        try:
            response = await admin.call_namesrv(RequestCode.GET_KV_CONFIG,
                                                {"namespace": ORDER_TOPIC_CONFIG, "key": topic})
            old = (response.ext_fields or {}).get("value")
        except MQBrokerError:
            old = None
        if old:
            entries = dict(item.split(":", 1) for item in old.split(";") if ":" in item)
            name, _, nums = conf.partition(":")
            entries[name] = nums
            conf = ";".join(f"{k}:{v}" for k, v in entries.items())
    await admin.put_kv(ORDER_TOPIC_CONFIG, topic, conf)


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() == "true"


@command("updateTopic", "Update or create topic",
         [Opt("b", "brokerAddr", True, "create topic to which broker", group="target"),
          Opt("c", "clusterName", True, "create topic to which cluster", group="target"),
          Opt("t", "topic", True, "topic name", required=True),
          Opt("r", "readQueueNums", True, "set read queue nums"),
          Opt("w", "writeQueueNums", True, "set write queue nums"),
          Opt("p", "perm", True, "set topic's permission(2|4|6), intro[2:W 4:R; 6:RW]"),
          Opt("o", "order", True, "set topic's order(true|false)"),
          Opt("u", "unit", True, "is unit topic (true|false)"),
          Opt("s", "hasUnitSub", True, "has unit sub (true|false)"),
          Opt("a", "attributes", True, "attribute(+a=b,+c=d,-e)")])
async def update_topic(ctx: Context, cl) -> None:  # noqa: ANN001
    topic = cl.get("t")
    read = int(cl.get("r", "8"))
    write = int(cl.get("w", "8"))
    perm = int(cl.get("p", "6"))
    sys_flag = (1 if _bool(cl.get("u")) else 0) | (2 if _bool(cl.get("s")) else 0)
    order = _bool(cl.get("o"))
    attributes = cl.get("a").strip() if cl.has("a") else None  # RocketMQ 5: +message.type=FIFO
    config = topic_config_str(topic, read, write, perm, sys_flag, order, attributes)
    admin = await ctx.admin()
    if cl.has("b"):
        addr = cl.get("b")
        await admin.create_topic(addr, topic, read, write, perm, sys_flag, order, attributes)
        if order:
            conf = f"{await admin.broker_name_of(addr)}:{write}"
            await _order_conf(admin, topic, conf, cluster_wide=False)
            ctx.printf("%s", f"set broker orderConf. isOrder=true, orderConf=[{conf}]")
        ctx.printf("create topic to %s success.%n", addr)
        ctx.printf("%s", config)
        return
    cluster = cl.get("c")
    for addr in hashmap_order(await admin.master_addrs(cluster)):
        await admin.create_topic(addr, topic, read, write, perm, sys_flag, order, attributes)
        ctx.printf("create topic to %s success.%n", addr)
    if order:
        info = await admin.cluster_info()
        names = hashmap_order(info.clusterAddrTable.get(cluster) or [])
        conf = ";".join(f"{n}:{write}" for n in names)
        await _order_conf(admin, topic, conf, cluster_wide=True)
        ctx.printf("set cluster orderConf. isOrder=%s, orderConf=[%s]", order, conf)
    ctx.printf("%s", config)


async def delete_topic_everywhere(ctx: Context, admin: AdminExt, cluster: str, topic: str) -> None:
    """DeleteTopicSubCommand.deleteTopic: masters of the cluster, then every name server."""
    for addr in hashmap_order(await admin.master_addrs(cluster)):
        await admin.delete_topic_in_broker(addr, topic)
    ctx.printf("delete topic [%s] from cluster [%s] success.%n", topic, cluster)
    await admin.delete_topic_in_namesrv(topic, cluster)
    ctx.printf("delete topic [%s] from NameServer success.%n", topic)


@command("deleteTopic", "Delete topic from broker and NameServer.",
         [Opt("t", "topic", True, "topic name", required=True),
          Opt("c", "clusterName", True, "delete topic from which cluster", required=True)])
async def delete_topic(ctx: Context, cl) -> None:  # noqa: ANN001
    await delete_topic_everywhere(ctx, await ctx.admin(), cl.get("c"), cl.get("t"))


@command("updateTopicPerm", "Update topic perm",
         [Opt("b", "brokerAddr", True, "create topic to which broker"),
          Opt("c", "clusterName", True, "create topic to which cluster"),
          Opt("t", "topic", True, "topic name", required=True),
          Opt("p", "perm", True, "set topic's permission(2|4|6), intro[2:W; 4:R; 6:RW]", required=True)])
async def update_topic_perm(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    topic = cl.get("t")
    route = await admin.topic_route(topic)
    if not route.queueDatas:
        raise AdminError(f"topic {topic} has no queue data")
    first = route.queueDatas[0]
    perm = int(cl.get("p"))
    read, write, sys_flag = first.readQueueNums, first.writeQueueNums, first.topicSysFlag
    if cl.has("b"):
        addr = cl.get("b")
        name = next((bd.brokerName for bd in route.brokerDatas if bd.brokerAddrs.get(0) == addr), None)
        if name is None:
            ctx.printf("updateTopicPerm error broker not exit or broker is not master!.%n")
            ctx.failed = True
            return
        old = next((q.perm for q in route.queueDatas if q.brokerName == name), 0)
        if old == perm:
            ctx.printf("new perm equals to the old one!%n")
            return
        await admin.create_topic(addr, topic, read, write, perm, sys_flag, False)
        ctx.printf("update topic perm from %s to %s in %s success.%n", old, perm, addr)
        ctx.printf("%s.%n", topic_config_str(topic, read, write, perm, sys_flag))
        return
    if cl.has("c"):
        for addr in hashmap_order(await admin.master_addrs(cl.get("c"))):
            await admin.create_topic(addr, topic, read, write, perm, sys_flag, False)
            ctx.printf("update topic perm from %s to %s in %s success.%n", first.perm, perm, addr)
        return
    raise AdminError("give -b <brokerAddr> or -c <clusterName>")
