"""Controller-mode subcommands (upstream ``tools/command/controller`` and ``ha``):
getControllerMetaData, getSyncStateSet, electMaster, getControllerConfig. They talk to the
controller given with ``-a`` (a PocketMQ or Apache RocketMQ 5 controller) and print what
upstream's mqadmin 5.3.3 prints."""

from __future__ import annotations

import asyncio

from pocketmq.config import parse_properties
from pocketmq.protocol import controller as p
from pocketmq.protocol import fastjson
from pocketmq.protocol.controller import ControllerRequestCode as Req
from pocketmq.remoting.header import decode_header, encode_header
from pocketmq.tools.command import Context, Opt, UsageError, command
from pocketmq.tools.jfmt import hashmap_order

A = Opt("a", "controllerAddress", True, "the address of controller", required=True)


def _replica(identity: p.ReplicaIdentity) -> str:
    """BrokerReplicasInfo.ReplicaIdentity.toString."""
    alive = "null" if identity.alive is None else ("true" if identity.alive else "false")
    return (f"ReplicaIdentity{{brokerName='{identity.brokerName}', brokerId={identity.brokerId}, "
            f"brokerAddress='{identity.brokerAddress}', alive={alive}}}")


@command("getControllerMetaData", "Get controller cluster's metadata.", [A])
async def get_controller_metadata(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    answer = await admin.call(cl.get("a").strip(), Req.CONTROLLER_GET_METADATA_INFO)
    meta = decode_header(p.GetMetaDataResponseHeader, answer.ext_fields)
    ctx.printf("\n#ControllerGroup\t%s", meta.group)
    ctx.printf("\n#ControllerLeaderId\t%s", meta.controllerLeaderId)
    ctx.printf("\n#ControllerLeaderAddress\t%s", meta.controllerLeaderAddress)
    for peer in (meta.peers or "").split(";"):
        if peer:
            ctx.printf("\n#Peer:\t%s", peer)
    ctx.printf("\n")


@command("getSyncStateSet", "Fetch syncStateSet for target brokers.",
         [A, Opt("c", "clusterName", True, "which cluster"), Opt("b", "brokerName", True, "which broker to fetch"),
          Opt("i", "interval", True, "the interval(second) of get info")])
async def get_sync_state_set(ctx: Context, cl) -> None:  # noqa: ANN001
    controller = cl.get("a").strip().split(";")[0]
    interval = cl.get("i")
    while True:
        await _print_sync_state_set(ctx, cl, controller)
        if not cl.has("i"):
            return
        ctx.out.flush()
        await asyncio.sleep(int(interval) if interval and interval.strip() else 3)


async def _print_sync_state_set(ctx: Context, cl, controller: str) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    if cl.has("b"):
        names = [cl.get("b").strip()]
    elif cl.has("c"):
        info = await admin.cluster_info()
        names = sorted(info.clusterAddrTable.get(cl.get("c").strip(), []))
    else:
        raise UsageError("give -b <brokerName> or -c <clusterName>")
    if not names:
        return
    answer = await admin.call(controller, Req.CONTROLLER_GET_SYNC_STATE_DATA, body=p.encode_broker_names(names))
    table = p.BrokerReplicasInfo.decode(answer.body_bytes()).replicasInfoTable if answer.body_bytes() else {}
    for name in hashmap_order(table):
        info = table[name]
        ctx.printf("\n#brokerName\t%s\n#MasterBrokerId\t%s\n#MasterAddr\t%s\n#MasterEpoch\t%d\n#SyncStateSetEpoch\t%d\n"
                   "#SyncStateSetNums\t%d\n", name, info.masterBrokerId, info.masterAddress, info.masterEpoch,
                   info.syncStateSetEpoch, len(info.inSyncReplicas))
        for member in info.inSyncReplicas:
            ctx.printf("\nInSyncReplica:\t%s\n", _replica(member))
        for member in info.notInSyncReplicas:
            ctx.printf("\nNotInSyncReplica:\t%s\n", _replica(member))


@command("electMaster", "Re-elect the specified broker as master.",
         [Opt("a", "controllerAddress", True, "The address of controller", required=True),
          Opt("b", "brokerId", True, "The id of the broker which requires to become master", required=True),
          Opt("bn", "brokerName", True, "The broker name of the replicas that require to be manipulated",
              required=True),
          Opt("c", "clusterName", True, "the clusterName of broker", required=True)])
async def elect_master(ctx: Context, cl) -> None:  # noqa: ANN001
    cluster, broker_name = cl.get("c").strip(), cl.get("bn").strip()
    header = p.ElectMasterRequestHeader(cluster, broker_name, int(cl.get("b").strip()), True)
    admin = await ctx.admin()
    # as upstream's MQClientAPIImpl.electMaster: ask the controller given for its leader, elect there
    meta = decode_header(p.GetMetaDataResponseHeader,
                         (await admin.call(cl.get("a").strip(), Req.CONTROLLER_GET_METADATA_INFO)).ext_fields)
    leader = meta.controllerLeaderAddress or cl.get("a").strip()
    answer = await admin.call(leader, Req.CONTROLLER_ELECT_MASTER, encode_header(header))
    elected = decode_header(p.ElectMasterResponseHeader, answer.ext_fields)
    ctx.printf("\n#ClusterName\t%s", cluster)
    ctx.printf("\n#BrokerName\t%s", broker_name)
    ctx.printf("\n#BrokerMasterAddr\t%s", elected.masterAddress)
    ctx.printf("\n#MasterEpoch\t%s", elected.masterEpoch)
    ctx.printf("\n#SyncStateSetEpoch\t%s\n", elected.syncStateSetEpoch)
    # Upstream reads the ElectMasterResponseBody as if it were a BrokerMemberGroup, so it finds
    # brokerAddrs only at the top level (never, from a 5.3.3 controller); print what it prints.
    body = fastjson.loads(answer.body_bytes()) if answer.body_bytes() else None
    addrs = body.get("brokerAddrs") if isinstance(body, dict) else None
    if isinstance(addrs, dict):
        members = {int(k): v for k, v in addrs.items()}
        for broker_id in hashmap_order(members, lambda k: k ^ (k >> 32)):
            ctx.printf("\t#Broker\t%d\t%s\n", broker_id, members[broker_id])


@command("getControllerConfig", "Get controller config.",
         [Opt("a", "controllerAddress", True, "Controller address list, eg: 192.168.0.1:9878;192.168.0.2:9878",
              required=True)])
async def get_controller_config(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    for addr in [a for a in cl.get("a").strip().split(";") if a]:
        answer = await admin.call(addr, Req.GET_CONTROLLER_CONFIG)
        props = parse_properties(answer.body_bytes().decode("utf-8", "replace"))
        ctx.printf("============%s============\n", addr)
        for key in hashmap_order(props):
            ctx.printf("%-50s=  %s\n", key, props[key])
