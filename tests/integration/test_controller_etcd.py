"""The controller on a real etcd (Debian's etcd-server): every change is one compare-and-swap
transaction, so two controllers acting at once cannot both win; etcd unreachable means no
election and a clear log line."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from pocketmq.controller.etcd_store import EtcdStore
from pocketmq.controller.replicas import BrokerSet
from pocketmq.controller.store import StoreConflict
from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerRequestCode as Req
from pocketmq.remoting.codes import ResponseCode
from tests.support.controller import ControllerBroker, replica_info, start_controller, start_etcd
from tests.support.processes import wait_until

CLUSTER = "DefaultCluster"


@pytest.fixture
def etcd(tmp_path: Path):
    server = start_etcd(tmp_path / "etcd")
    yield server
    server.kill()


def etcd_controller(home: Path, etcd_endpoint: str, *extra: str):  # type: ignore[no-untyped-def]
    return start_controller(home, extra=["--controllerStoreType=etcd", f"--etcdEndpoints={etcd_endpoint}",
                                         "--etcdTimeoutMillis=2000", *extra])


def test_two_writers_from_the_same_revision_cannot_both_win(etcd) -> None:
    async def main() -> list[object]:
        first, second = EtcdStore(etcd.endpoint), EtcdStore(etcd.endpoint)
        await first.open()
        await second.open()
        try:
            created = await first.commit("broker-a", 0, BrokerSet(CLUSTER, "broker-a"))
            read_by_first, read_by_second = await first.get("broker-a"), await second.get("broker-a")
            assert read_by_first.version == read_by_second.version == created
            one, two = BrokerSet(CLUSTER, "broker-a", masterBrokerId=1, masterEpoch=1), \
                BrokerSet(CLUSTER, "broker-a", masterBrokerId=2, masterEpoch=1)
            results = await asyncio.gather(first.commit("broker-a", created, one),
                                           second.commit("broker-a", created, two), return_exceptions=True)
            winner = (await first.get("broker-a")).state
            assert winner in (one, two)
            return results
        finally:
            await first.close()
            await second.close()

    results = asyncio.run(main())
    assert sum(isinstance(r, StoreConflict) for r in results) == 1
    assert sum(isinstance(r, int) for r in results) == 1


def elections_in(log_path: Path, broker_name: str, master_epoch: int) -> int:
    text = log_path.read_text()
    return len(re.findall(rf"Elect a new master in broker-set: {broker_name} done: .*masterEpoch {master_epoch}\b",
                          text))


def test_two_controllers_on_one_etcd_racing_an_election_one_wins(tmp_path: Path, etcd) -> None:
    c0 = etcd_controller(tmp_path / "c0", etcd.endpoint)
    c1 = etcd_controller(tmp_path / "c1", etcd.endpoint)
    brokers = [ControllerBroker(CLUSTER, "broker-r") for _ in range(3)]
    try:
        b1, b2, b3 = brokers
        for broker in brokers:
            broker.join(c0.addr)
            for controller in (c0, c1):  # brokers beat to every controller, as upstream's do
                broker.heartbeat(controller.addr, epoch=1, max_offset=100 * (broker.broker_id or 0))
            assert broker.register(c1.addr).code == 0
        assert b1.elect(c1.addr).code == 0
        assert b1.call(c0.addr, Req.CONTROLLER_ALTER_SYNC_STATE_SET, p.AlterSyncStateSetRequestHeader("broker-r", 1, 1),
                       p.SyncStateSet({1, 2, 3}, 1).encode()).code == 0
        # both controllers see the same state through etcd
        assert replica_info(b2, c0.addr)[0].masterEpoch == replica_info(b2, c1.addr)[0].masterEpoch == 1

        b1.drop_connections()  # the master dies: both controllers see its connections close at once
        wait_until(lambda: all(replica_info(b2, c.addr)[0].masterEpoch == 2 for c in (c0, c1)), timeout=30,
                   message="a new master in etcd")
        for controller in (c0, c1):
            info, sss = replica_info(b2, controller.addr)
            assert (info.masterBrokerId, info.masterEpoch) == (3, 2)  # the longest log wins
            assert sss == p.SyncStateSet({3}, 3)
        logs = [tmp_path / name / "logs" / "rocketmqlogs" / "controller.log" for name in ("c0", "c1")]
        wait_until(lambda: sum(elections_in(log, "broker-r", 2) for log in logs) == 1, timeout=10,
                   message="exactly one controller electing")
        for controller in (c0, c1):  # nobody elected a third master
            assert replica_info(b3, controller.addr)[0].masterEpoch == 2
    finally:
        for broker in brokers:
            broker.close()
        c0.kill()
        c1.kill()


def test_etcd_unreachable_means_no_election(tmp_path: Path, etcd) -> None:
    controller = etcd_controller(tmp_path / "c", etcd.endpoint, "--scanInactiveMasterInterval=1000")
    brokers = [ControllerBroker(CLUSTER, "broker-u") for _ in range(2)]
    try:
        u1, u2 = brokers
        for broker in brokers:
            broker.join(controller.addr)
            broker.heartbeat(controller.addr)
            assert broker.register(controller.addr).code == 0
        assert u1.elect(controller.addr).code == 0
        assert u1.call(controller.addr, Req.CONTROLLER_ALTER_SYNC_STATE_SET,
                       p.AlterSyncStateSetRequestHeader("broker-u", 1, 1), p.SyncStateSet({1, 2}, 1).encode()).code == 0

        etcd.kill()
        u1.drop_connections()  # the master's connection closes while etcd is down
        log_path = tmp_path / "c" / "logs" / "rocketmqlogs" / "controller.log"
        wait_until(lambda: "the store is unreachable" in log_path.read_text(), timeout=30,
                   message="the controller logging that it cannot elect")
        refused = u2.elect(controller.addr)
        assert refused.code == ResponseCode.SYSTEM_ERROR
        assert "controller store unavailable" in (refused.remark or "")

        restarted = start_etcd(tmp_path / "etcd", etcd.client_port, etcd.peer_port)
        try:
            # once etcd is back, the dead master is replaced by the scan for dead masters: one
            # election, one epoch more; nothing was decided while etcd was away
            info, sss = wait_until(lambda: _replica_or_none(u2, controller.addr, master=2), timeout=60,
                                   message="broker 2 elected once etcd is back")
            assert info.masterEpoch == 2
            assert sss == p.SyncStateSet({2}, 3)
        finally:
            restarted.kill()
    finally:
        for broker in brokers:
            broker.close()
        controller.kill()


def _replica_or_none(broker: ControllerBroker, controller: str, master: int):  # type: ignore[no-untyped-def]
    broker.heartbeat(controller)
    answer = broker.call(controller, Req.CONTROLLER_GET_REPLICA_INFO, p.GetReplicaInfoRequestHeader(broker.broker_name))
    if answer.code != 0:
        return None
    info = replica_info(broker, controller)
    return info if info[0].masterBrokerId == master else None


class _ReadTogether:
    """An EtcdStore whose reads of a broker set wait for each other: both controllers decide
    from the same revision, so their elections truly collide."""

    def __init__(self, store: EtcdStore, barrier: asyncio.Barrier) -> None:
        self.store, self.barrier = store, barrier

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.store, name)

    async def get(self, broker_name: str):  # type: ignore[no-untyped-def]
        versioned = await self.store.get(broker_name)
        try:
            await asyncio.wait_for(self.barrier.wait(), 2)
        except (asyncio.TimeoutError, asyncio.BrokenBarrierError):
            pass  # the retry after a lost compare-and-swap reads alone
        return versioned


def test_two_managers_deciding_from_the_same_revision_elect_once(etcd) -> None:
    from pocketmq.clock import ManualClock
    from pocketmq.controller.config import ControllerConfig
    from pocketmq.controller.manager import ControllerManager
    from pocketmq.protocol.controller import ControllerResponseCode as Code

    async def main() -> tuple[list[int], BrokerSet]:
        clock = ManualClock(1_700_000_000_000)
        setup = EtcdStore(etcd.endpoint)
        await setup.open()
        state = BrokerSet(CLUSTER, "broker-x")
        for broker_id in (1, 2, 3):
            state.add_broker(broker_id, f"127.0.0.1:{30900 + broker_id}", f"127.0.0.1:{30900 + broker_id};1")
        state.set_master(1)
        state.set_sync_state_set({1, 2, 3})
        await setup.commit("broker-x", 0, state)
        await setup.close()
        barrier = asyncio.Barrier(2)
        managers = [ControllerManager(ControllerConfig(notifyBrokerRoleChanged=False),
                                      _ReadTogether(EtcdStore(etcd.endpoint), barrier),  # type: ignore[arg-type]
                                      self_address=f"127.0.0.1:{9878 + i}", clock=clock) for i in range(2)]
        for manager in managers:
            await manager.start(run_scans=False)
        # Past the start-up grace, in which a master not heard from yet still counts as alive.
        clock.advance(p.DEFAULT_BROKER_CHANNEL_EXPIRED_TIME_MS + 1)
        for manager in managers:
            for broker_id, offset in ((2, 100), (3, 200)):  # broker 1 (the master) sends nothing: dead
                manager.on_heartbeat(p.BrokerHeartbeatRequestHeader(CLUSTER, f"127.0.0.1:{30900 + broker_id}",
                                                                    "broker-x", broker_id, 1, offset), None)
        try:
            header = p.ElectMasterRequestHeader("", "broker-x", -1, False)
            outcomes = await asyncio.gather(*(m.elect_master(header) for m in managers))
            final = (await managers[0].store.get("broker-x")).state
            return sorted(o.code for o in outcomes), final
        finally:
            for manager in managers:
                await manager.shutdown()

    codes, final = asyncio.run(main())
    assert codes == [0, Code.CONTROLLER_MASTER_STILL_EXIST]  # one wins; the other re-reads and sees it
    assert (final.masterBrokerId, final.masterEpoch, final.syncStateSet) == (3, 2, {3})


def test_a_stopped_etcd_is_answered_before_a_brokers_timeout(tmp_path: Path, etcd) -> None:
    """etcd SIGSTOPped (hung, not refusing): the controller answers within etcdTimeoutMillis with
    SYSTEM_ERROR instead of leaving the broker's 3 s request to time out; after SIGCONT all is well."""
    import signal
    import time

    controller = start_controller(tmp_path / "c", extra=["--controllerStoreType=etcd", f"--etcdEndpoints={etcd.endpoint}"])
    broker = ControllerBroker(CLUSTER, "broker-h")
    try:
        broker.join(controller.addr)
        etcd.proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            answer = broker.register(controller.addr)
            waited = time.monotonic() - started
            assert answer.code == ResponseCode.SYSTEM_ERROR and "controller store unavailable" in (answer.remark or "")
            assert waited < 3.0, waited
        finally:
            etcd.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: broker.register(controller.addr).code == 0, timeout=30, interval=0.5,
                   message="the controller using etcd again")
    finally:
        broker.close()
        controller.kill()
