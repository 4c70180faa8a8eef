"""A controller-mode broker set of real processes for the fault tests: a name server, a
controller (ours, ``mqcontroller``, or Apache RocketMQ 5.3.3's), three PocketMQ brokers of one
set with enableControllerMode=true and allAckInSyncStateSet=true; and the waits the tests share
(the master in the route, a broker's runtime info, a restarted broker rejoining or a new
master being elected)."""

from __future__ import annotations

from pathlib import Path

import orjson

from pocketmq.remoting.codes import RequestCode
from pocketmq.store.epoch_file import EpochFile
from tests.interop.apache5 import start_controller5
from tests.support.cluster import commit_log_bytes, create_topic, runtime_info
from tests.support.controller import start_controller
from tests.support.processes import Broker, start_broker, start_namesrv, wait_until
from tests.support.rpc import call

TOPIC = "FailoverCtl"
SET = "broker-c"
CLUSTER = "CtlCluster"


def broker_extra(controller_addr: str) -> dict[str, object]:
    return {"enableControllerMode": "true", "controllerAddr": controller_addr, "allAckInSyncStateSet": "true",
            "brokerClusterName": CLUSTER, "brokerElectionPriority": 1}


def route_master(namesrv: str) -> str | None:
    response = call(namesrv, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": TOPIC})
    if response.code != 0:
        return None
    route = orjson.loads(response.body)
    for data in route["brokerDatas"]:
        if data["brokerName"] == SET:
            return data["brokerAddrs"].get("0")
    return None


def safe_info(addr: str) -> dict[str, str]:
    try:
        return runtime_info(addr, timeout=2.0)
    except Exception:  # noqa: BLE001 - a broker being killed or started
        return {}


def start_any_controller(kind: str, home: Path, extra: list[str] | None = None):
    if kind == "apache5":
        return start_controller5(home)  # Apache RocketMQ 5.3.3's, from Maven Central
    return start_controller(home, extra=extra)


def start_set(tmp_path: Path, procs: list, kind: str = "pocketmq",
              extra: dict[str, object] | None = None,
              controller_extra: list[str] | None = None) -> tuple[str, str, list[Broker], str]:
    """Name server, controller (``kind``; ``controller_extra``: --key=value overrides of ours),
    three brokers; returns once one is master with all three in its SyncStateSet and the topic
    is routed to it."""
    ns = start_namesrv(tmp_path / "ns")
    procs.append(ns)
    controller = start_any_controller(kind, tmp_path / "controller", controller_extra)
    procs.append(controller)
    brokers: list[Broker] = []
    for i in range(3):
        brokers.append(start_broker(tmp_path / f"b{i}", ns.addr, name=SET,
                                    extra={**broker_extra(controller.addr), **(extra or {})}))
        procs.append(brokers[-1])

    def in_sync_master() -> str | None:
        for b in brokers:
            info = safe_info(b.addr)
            if info.get("syncStateSet", "").count(",") == 2 and info.get("haConnectionCount") == "2":
                return b.addr
        return None

    master_addr = wait_until(in_sync_master, 60, 0.2, "a master with all three brokers in its SyncStateSet")
    for b in brokers:
        create_topic(b.addr, TOPIC)
    wait_until(lambda: route_master(ns.addr) == master_addr, 60, 0.2, "the master as brokerId 0 in the route")
    return ns.addr, controller.addr, brokers, master_addr


def rejoin(old: Broker, namesrv: str, controller: str, new_master: Broker, procs: list) -> Broker:
    """Restart a killed broker on its store; wait until it follows ``new_master`` and holds the
    same commit log, byte for byte."""
    restarted = start_broker(old.home, namesrv, name=SET, port=old.port, extra=broker_extra(controller))
    procs.append(restarted)
    ha = f":{new_master.port + 1}"
    wait_until(lambda: safe_info(restarted.addr).get("haMasterAddress", "").endswith(ha), 60, 0.2,
               "the old master to follow the new master")
    end = wait_until(lambda: (lambda m, s: m if m == s else None)(
        int(safe_info(new_master.addr).get("commitLogMaxOffset", "-1")),
        int(safe_info(restarted.addr).get("commitLogMaxOffset", "-2"))), 60, 0.2, "the old master to catch up")
    assert commit_log_bytes(restarted, end) == commit_log_bytes(new_master, end)
    # Both record the same history: the new master's epoch began where the old one's log was cut.
    epochs = [EpochFile(str(b.store_root)) for b in (restarted, new_master)]
    for f in epochs:
        f.load()
    assert epochs[0].entries == epochs[1].entries and len(epochs[1].entries) >= 2
    return restarted


def sync_state_set_size(addr: str) -> int:
    members = safe_info(addr).get("syncStateSet", "")
    return len(members.split(",")) if members else 0


def restart(old: Broker, namesrv: str, controller: str, procs: list, extra: dict[str, object] | None = None) -> Broker:
    broker = start_broker(old.home, namesrv, name=SET, port=old.port, extra={**broker_extra(controller), **(extra or {})})
    procs.append(broker)
    return broker


def restart_and_elect(others: list[Broker], old_master: str, namesrv: str, controller: str, procs: list,
                      extra: dict[str, object] | None = None) -> tuple[Broker, Broker]:
    """Restart the two brokers that are not the (dead) old master; returns (B, C) once the
    controller made B master in the route and C joined B's SyncStateSet."""
    restarted = [restart(b, namesrv, controller, procs, extra) for b in others]
    new_addr = wait_until(lambda: (lambda x: x if x and x != old_master else None)(route_master(namesrv)),
                          60, 0.1, "a new master in the route")
    b = next(x for x in restarted if x.addr == new_addr)
    c = next(x for x in restarted if x is not b)
    wait_until(lambda: sync_state_set_size(b.addr) == 2, 60, 0.2, "C in the new master's SyncStateSet")
    return b, c
