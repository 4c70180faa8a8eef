"""Subcommands that look into brokers (upstream ``tools/command/{producer,queue,broker,topic}``):
producer (GET_ALL_PRODUCER_INFO), queryCq (QUERY_CONSUME_QUEUE), cleanExpiredCQ,
deleteExpiredCommitLog and cleanUnusedTopic. Output as the 4.9.7 commands print it."""

from __future__ import annotations

from typing import Any

from pocketmq.remoting.codes import RequestCode
from pocketmq.protocol import client_bodies
from pocketmq.tools import admin_ext
from pocketmq.tools.command import Context, Opt, command
from pocketmq.tools.jfmt import fastjson_pretty, hashmap_order


def _loads(data: bytes) -> Any:
    return client_bodies.loads(data)


@command("producer", "Query producer's instances, connection, status, etc.",
         [Opt("b", "broker", True, "broker address", required=True)], json=True)
async def producer(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    response = await admin.call(cl.get("b").strip(), RequestCode.GET_ALL_PRODUCER_INFO)
    data: dict[str, list[dict[str, Any]]] = (_loads(response.body_bytes()) or {}).get("data") or {}
    if ctx.json:
        ctx.emit_json(data)
        return
    for group in hashmap_order(data):
        instances = data[group]
        if not instances:
            ctx.printf("producer group (%s) instances are empty\n", group)
            continue
        for p in instances:
            ctx.printf("producer group (%s) instance : %s\n", group,
                       f"clientId={p.get('clientId')},remoteIP={p.get('remoteIP')}, language={p.get('language')}, "
                       f"version={int(p.get('version') or 0)}, lastUpdateTimestamp={int(p.get('lastUpdateTimestamp') or 0)}")


def _unit_text(unit: dict[str, Any]) -> str:
    def text(key: str) -> str:
        value = unit.get(key)
        return "null" if value is None else str(value)

    return (f"ConsumeQueueData{{physicOffset={unit.get('physicOffset', 0)}, physicSize={unit.get('physicSize', 0)}, "
            f"tagsCode={unit.get('tagsCode', 0)}, extendDataJson='{text('extendDataJson')}', "
            f"bitMap='{text('bitMap')}', eval={'true' if unit.get('eval') else 'false'}, msg='{text('msg')}'}}")


@command("queryCq", "Query cq command.",
         [Opt("t", "topic", True, "topic name", required=True),
          Opt("q", "queue", True, "queue num, ie. 1", required=True),
          Opt("i", "index", True, "start queue index.", required=True),
          Opt("c", "count", True, "how many."),
          Opt("b", "broker", True, "broker addr."),
          Opt("g", "consumer", True, "consumer group.")], json=True)
async def query_cq(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    topic = cl.get("t").strip()
    queue_id = int(cl.get("q").strip())
    index = int(cl.get("i").strip())
    count = int((cl.get("c") or "10").strip())
    broker = (cl.get("b") or "").strip()
    group = (cl.get("g") or "").strip() or None
    if not broker:
        route = await admin.topic_route(topic)
        if not route.brokerDatas:
            raise admin_ext.AdminError("No topic route data!")
        broker = route.brokerDatas[0].brokerAddrs.get(0) or ""
    response = await admin.call(broker, RequestCode.QUERY_CONSUME_QUEUE,
                                {"topic": topic, "queueId": queue_id, "index": index, "count": count,
                                 "consumerGroup": group})
    raw = response.body_bytes()
    if not raw:  # upstream's client cannot decode an empty answer either
        raise admin_ext.AdminError(response.remark or "no consume queue data")
    body = _loads(raw)
    if ctx.json:
        ctx.emit_json(body)
        return
    if body.get("subscriptionData") is not None:
        ctx.printf("Subscription data: \n%s\n", fastjson_pretty(body["subscriptionData"]))
        ctx.write("======================================\n")
    if body.get("filterData") is not None:
        ctx.printf("Filter data: \n%s\n", body["filterData"])
        ctx.write("======================================\n")
    ctx.printf("Queue data: \nmax: %d, min: %d\n", int(body.get("maxQueueIndex", 0)), int(body.get("minQueueIndex", 0)))
    ctx.write("======================================\n")
    for i, unit in enumerate(body.get("queueData") or [], start=index):
        ctx.write(f"idx: {i}\n{_unit_text(unit)}\n======================================\n")


async def _on_broker_or_cluster(ctx: Context, cl, code: int) -> None:  # noqa: ANN001
    """Upstream's -b or -c (no -c: every cluster); every broker of the set, masters and slaves."""
    admin = await ctx.admin()
    if cl.has("b"):
        addrs = [cl.get("b").strip()]
    else:
        cluster = (cl.get("c") or "").strip()
        clusters = [cluster] if cluster else sorted((await admin.cluster_info()).clusterAddrTable)
        addrs = [a for c in clusters for a in await admin.all_addrs(c)]
    for addr in addrs:  # a refusal raises (upstream: MQClientException), so reaching the end is success
        await admin.call(addr, code)
    ctx.write("success")


@command("cleanExpiredCQ", "Clean expired ConsumeQueue on broker.",
         [Opt("b", "brokerAddr", True, "Broker address"), Opt("c", "cluster", True, "clustername")])
async def clean_expired_cq(ctx: Context, cl) -> None:  # noqa: ANN001
    await _on_broker_or_cluster(ctx, cl, RequestCode.CLEAN_EXPIRED_CONSUMEQUEUE)


@command("deleteExpiredCommitLog", "Delete expired CommitLog files",
         [Opt("b", "brokerAddr", True, "Broker address"), Opt("c", "cluster", True, "clustername")])
async def delete_expired_commit_log(ctx: Context, cl) -> None:  # noqa: ANN001
    await _on_broker_or_cluster(ctx, cl, RequestCode.DELETE_EXPIRED_COMMITLOG)


@command("cleanUnusedTopic", "Clean unused topic on broker.",
         [Opt("b", "brokerAddr", True, "Broker address"), Opt("c", "cluster", True, "cluster name")])
async def clean_unused_topic(ctx: Context, cl) -> None:  # noqa: ANN001
    await _on_broker_or_cluster(ctx, cl, RequestCode.CLEAN_UNUSED_TOPIC)
