"""Election rules, epochs and broker-id assignment of the controller, on a ManualClock and a
real file store (upstream ReplicasInfoManager/DefaultElectPolicy behaviour)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

from pocketmq.clock import ManualClock
from pocketmq.controller.config import ControllerConfig
from pocketmq.controller.manager import ControllerManager
from pocketmq.controller.store import FileStore
from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerResponseCode as Code

SUCCESS = 0
CLUSTER, SET = "DefaultCluster", "broker-a"


class FakeChannel:
    is_open = True

    def close(self) -> None:
        self.is_open = False


def run(test: Callable[[ControllerManager, ManualClock], Awaitable[None]], tmp_path: Path,
        **config: Any) -> None:
    async def main() -> None:
        clock = ManualClock(1_700_000_000_000)
        manager = ControllerManager(ControllerConfig(notifyBrokerRoleChanged=False, **config),
                                    FileStore(str(tmp_path / "store")), self_address="127.0.0.1:9878", clock=clock)
        await manager.start(run_scans=False)
        try:
            await test(manager, clock)
        finally:
            await manager.shutdown()
    asyncio.run(main())


async def join(manager: ControllerManager, broker_id: int, *, epoch: int = 0, max_offset: int = 0,
               priority: int | None = None, channel: Any = None) -> FakeChannel:
    """A broker's start-up as upstream's ReplicasManager does it: next id, apply, register, heartbeat."""
    addr = f"127.0.0.1:{30900 + broker_id * 10}"
    nxt = await manager.get_next_broker_id(p.GetNextBrokerIdRequestHeader(CLUSTER, SET))
    assert nxt.header.nextBrokerId == broker_id
    applied = await manager.apply_broker_id(p.ApplyBrokerIdRequestHeader(CLUSTER, SET, broker_id, f"{addr};1"))
    assert applied.code == SUCCESS, applied.remark
    channel = channel or FakeChannel()
    heartbeat(manager, broker_id, epoch=epoch, max_offset=max_offset, priority=priority, channel=channel)
    registered = await manager.register_broker(p.RegisterBrokerToControllerRequestHeader(CLUSTER, SET, broker_id, addr))
    assert registered.code == SUCCESS, registered.remark
    return channel


def heartbeat(manager: ControllerManager, broker_id: int, *, epoch: int = 0, max_offset: int = 0,
              priority: int | None = None, channel: Any = None, timeout_ms: int = 10_000) -> None:
    manager.on_heartbeat(p.BrokerHeartbeatRequestHeader(CLUSTER, f"127.0.0.1:{30900 + broker_id * 10}", SET,
                                                        broker_id, epoch, max_offset, None, timeout_ms, priority),
                         channel)


async def elect(manager: ControllerManager, broker_id: int = -1, designate: bool = False):  # type: ignore[no-untyped-def]
    return await manager.elect_master(p.ElectMasterRequestHeader(CLUSTER, SET, broker_id, designate))


async def replica(manager: ControllerManager) -> p.GetReplicaInfoResponseHeader:
    info = await manager.get_replica_info(p.GetReplicaInfoRequestHeader(SET))
    assert info.code == SUCCESS
    return info.header


async def master_1_with_slave_2(manager: ControllerManager, clock: ManualClock) -> None:
    """A set whose master is brokerId 1 with brokerId 2 in its SyncStateSet (before a restart)."""
    await join(manager, 1)
    await join(manager, 2)
    await elect(manager, 1)
    await manager.alter_sync_state_set(p.AlterSyncStateSetRequestHeader(SET, 1, 1), p.SyncStateSet({1, 2}, 1))


def test_first_election_takes_the_requester_and_ids_are_handed_out_in_order(tmp_path: Path) -> None:
    async def test(manager: ControllerManager, clock: ManualClock) -> None:
        await join(manager, 1)
        await join(manager, 2)
        first = await elect(manager, 2)
        assert first.code == SUCCESS
        assert (first.header.masterBrokerId, first.header.masterEpoch, first.header.syncStateSetEpoch) == (2, 1, 1)
        body = p.ElectMasterResponseBody.decode(first.body)
        assert body.syncStateSet == {2}
        assert body.brokerMemberGroup.brokerAddrs == {1: "127.0.0.1:30910", 2: "127.0.0.1:30920"}
        again = await elect(manager, 1)
        assert again.code == Code.CONTROLLER_MASTER_STILL_EXIST
        assert (await replica(manager)).masterEpoch == 1
    run(test, tmp_path)


def test_unknown_set_and_unregistered_broker_are_refused(tmp_path: Path) -> None:
    async def test(manager: ControllerManager, clock: ManualClock) -> None:
        unknown = await manager.elect_master(p.ElectMasterRequestHeader(CLUSTER, "no-such-set", 1, False))
        assert unknown.code == Code.CONTROLLER_BROKER_NEED_TO_BE_REGISTERED
        info = await manager.get_replica_info(p.GetReplicaInfoRequestHeader("no-such-set"))
        assert info.code == Code.CONTROLLER_BROKER_METADATA_NOT_EXIST
        wrong_first = await manager.apply_broker_id(p.ApplyBrokerIdRequestHeader(CLUSTER, SET, 5, "a:1;1"))
        assert wrong_first.code == Code.CONTROLLER_BROKER_ID_INVALID
        await join(manager, 1)
        taken = await manager.apply_broker_id(p.ApplyBrokerIdRequestHeader(CLUSTER, SET, 1, "other:1;2"))
        assert taken.code == Code.CONTROLLER_BROKER_ID_INVALID
        same = await manager.apply_broker_id(p.ApplyBrokerIdRequestHeader(CLUSTER, SET, 1, "127.0.0.1:30910;1"))
        assert same.code == SUCCESS
        stranger = await manager.register_broker(p.RegisterBrokerToControllerRequestHeader(CLUSTER, SET, 9, "x:1"))
        assert stranger.code == Code.CONTROLLER_BROKER_NEED_TO_BE_REGISTERED
    run(test, tmp_path)


def test_alter_sync_state_set_refuses_stale_epochs_and_dead_or_unknown_replicas(tmp_path: Path) -> None:
    async def test(manager: ControllerManager, clock: ManualClock) -> None:
        for broker_id in (1, 2, 3):
            await join(manager, broker_id)
        await elect(manager, 1)

        async def alter(master: int, master_epoch: int, members: set[int], sss_epoch: int):  # type: ignore[no-untyped-def]
            return await manager.alter_sync_state_set(p.AlterSyncStateSetRequestHeader(SET, master, master_epoch),
                                                      p.SyncStateSet(members, sss_epoch))

        assert (await alter(1, 0, {1, 2}, 1)).code == Code.CONTROLLER_FENCED_MASTER_EPOCH
        assert (await alter(1, 1, {1, 2}, 0)).code == Code.CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH
        assert (await alter(2, 1, {1, 2}, 1)).code == Code.CONTROLLER_INVALID_MASTER
        assert (await alter(1, 1, {1, 7}, 1)).code == Code.CONTROLLER_INVALID_REPLICAS
        assert (await alter(1, 1, {2, 3}, 1)).code == Code.CONTROLLER_ALTER_SYNC_STATE_SET_FAILED
        ok = await alter(1, 1, {1, 2, 3}, 1)
        assert ok.code == SUCCESS and ok.header.newSyncStateSetEpoch == 2
        assert p.SyncStateSet.decode(ok.body) == p.SyncStateSet({1, 2, 3}, 2)
        assert (await alter(1, 1, {1, 2}, 1)).code == Code.CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH
        clock.advance(11_000)
        heartbeat(manager, 1)
        heartbeat(manager, 2)
        assert (await alter(1, 1, {1, 3}, 2)).code == Code.CONTROLLER_BROKER_NOT_ALIVE
    run(test, tmp_path)


def test_new_master_is_the_best_alive_in_sync_replica(tmp_path: Path) -> None:
    async def test(manager: ControllerManager, clock: ManualClock) -> None:
        master = await join(manager, 1, epoch=1, max_offset=500)
        await join(manager, 2, epoch=1, max_offset=300)
        await join(manager, 3, epoch=1, max_offset=400, priority=1)
        await join(manager, 4, epoch=1, max_offset=400, priority=0)
        await join(manager, 5, epoch=1, max_offset=900)  # not in the SyncStateSet
        await elect(manager, 1)
        changed = await manager.alter_sync_state_set(p.AlterSyncStateSetRequestHeader(SET, 1, 1),
                                                     p.SyncStateSet({1, 2, 3, 4}, 1))
        assert changed.code == SUCCESS
        manager.on_connection_closed(master)  # the master's connection closes: election at once
        await asyncio.sleep(0.05)
        info = await replica(manager)
        # ranked by epoch, then max offset, then the lower electionPriority: 4 beats 3 and 2
        assert (info.masterBrokerId, info.masterEpoch) == (4, 2)
        state = (await manager.store.get(SET)).state
        assert state.syncStateSet == {4} and state.syncStateSetEpoch == 3
    run(test, tmp_path)


def test_heartbeat_timeout_elects_and_no_candidate_means_no_master(tmp_path: Path) -> None:
    async def test(manager: ControllerManager, clock: ManualClock) -> None:
        await join(manager, 1)
        await join(manager, 2)
        await elect(manager, 1)
        # 2 is alive but not in the SyncStateSet {1}: with enableElectUncleanMaster=false it
        # cannot become master; the master is dropped and masterEpoch still grows.
        clock.advance(6_000)
        heartbeat(manager, 2)
        clock.advance(5_000)
        await manager.scan_not_active_brokers()
        await asyncio.sleep(0.05)
        info = await replica(manager)
        assert (info.masterBrokerId, info.masterEpoch) == (None, 2)
        failed = await elect(manager, 2)
        assert failed.code == Code.CONTROLLER_ELECT_MASTER_FAILED
    run(test, tmp_path)


def test_unclean_election_when_enabled(tmp_path: Path) -> None:
    async def test(manager: ControllerManager, clock: ManualClock) -> None:
        master = await join(manager, 1)
        await join(manager, 2)
        await elect(manager, 1)
        manager.on_connection_closed(master)
        await asyncio.sleep(0.05)
        info = await replica(manager)
        assert (info.masterBrokerId, info.masterEpoch) == (2, 2)
    run(test, tmp_path, enableElectUncleanMaster=True)


def test_designated_election_and_the_scan_for_dead_masters(tmp_path: Path) -> None:
    async def test(manager: ControllerManager, clock: ManualClock) -> None:
        await join(manager, 1)
        await join(manager, 2)
        await join(manager, 3)
        await elect(manager, 1)
        await manager.alter_sync_state_set(p.AlterSyncStateSetRequestHeader(SET, 1, 1), p.SyncStateSet({1, 2, 3}, 1))
        chosen = await elect(manager, 3, designate=True)
        assert chosen.code == SUCCESS and chosen.header.masterBrokerId == 3
        assert (chosen.header.masterEpoch, chosen.header.syncStateSetEpoch) == (2, 3)
        widened = await manager.alter_sync_state_set(p.AlterSyncStateSetRequestHeader(SET, 3, 2),
                                                     p.SyncStateSet({1, 2, 3}, 3))
        assert widened.code == SUCCESS
        # the master's heartbeats stop but nobody closed its connection yet: the scan for dead
        # masters finds it, once the timeout has passed
        clock.advance(6_000)
        heartbeat(manager, 1)
        heartbeat(manager, 2)
        clock.advance(5_000)
        await manager.scan_inactive_masters()
        info = await replica(manager)
        assert info.masterBrokerId == 1 and info.masterEpoch == 3  # equal ranks: the lower brokerId
    run(test, tmp_path)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    async def first(manager: ControllerManager, clock: ManualClock) -> None:
        await join(manager, 1)
        await join(manager, 2)
        await elect(manager, 2)

    async def second(manager: ControllerManager, clock: ManualClock) -> None:
        info = await replica(manager)
        assert (info.masterBrokerId, info.masterEpoch) == (2, 1)
        nxt = await manager.get_next_broker_id(p.GetNextBrokerIdRequestHeader(CLUSTER, SET))
        assert nxt.header.nextBrokerId == 3
    run(first, tmp_path)
    run(second, tmp_path)


def test_a_just_started_controller_waits_one_heartbeat_timeout_before_replacing_masters(tmp_path: Path) -> None:
    async def restarted(manager: ControllerManager, clock: ManualClock) -> None:
        heartbeat(manager, 2)  # the slave's heartbeat arrives before the master's
        await manager.scan_inactive_masters()
        assert (await replica(manager)).masterBrokerId == 1  # too early to call the master dead
        clock.advance(10_001)
        heartbeat(manager, 2)
        await manager.scan_inactive_masters()
        assert (await replica(manager)).masterBrokerId == 2
    run(master_1_with_slave_2, tmp_path)
    run(restarted, tmp_path)


def test_a_just_started_controller_keeps_an_unheard_master_when_a_slave_asks_for_an_election(tmp_path: Path) -> None:
    """Found by the nemesis suite: a restarted controller elected the slave that asked 0.8 s
    after start, while the master was serving and its first heartbeat had not arrived yet."""
    async def restarted(manager: ControllerManager, clock: ManualClock) -> None:
        heartbeat(manager, 2)
        kept = await elect(manager, 2)
        assert kept.code == Code.CONTROLLER_MASTER_STILL_EXIST and kept.header.masterBrokerId == 1
        clock.advance(10_001)  # one heartbeat timeout later the master has had its chance
        heartbeat(manager, 2)
        moved = await elect(manager, 2)
        assert moved.code == SUCCESS and (moved.header.masterBrokerId, moved.header.masterEpoch) == (2, 2)

    async def heard_then_gone(manager: ControllerManager, clock: ManualClock) -> None:
        master = FakeChannel()
        heartbeat(manager, 1, channel=master)
        heartbeat(manager, 2)
        manager.on_connection_closed(master)  # heard since start, then gone: no grace for it
        await asyncio.sleep(0.05)
        assert (await replica(manager)).masterBrokerId == 2
    run(master_1_with_slave_2, tmp_path / "a")
    run(restarted, tmp_path / "a")
    run(master_1_with_slave_2, tmp_path / "b")
    run(heard_then_gone, tmp_path / "b")
