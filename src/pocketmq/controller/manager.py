"""ControllerManager: runs the replica decisions against the store, watches broker liveness,
triggers elections and tells brokers of role changes (upstream ControllerManager + the event
scheduler of DLedgerController).

Owns: the read-decide-commit loop (one broker set at a time in this process; a compare-and-swap
conflict with another controller means read again and decide again), the two scans
(heartbeats that timed out every scanNotActiveBrokerInterval; masters that are dead while a
replica lives every scanInactiveMasterInterval), the election at once when a master's connection
closes, and the oneway NOTIFY_BROKER_ROLE_CHANGED to the alive brokers of a set after a new master
is elected. A store that cannot be reached changes nothing: the request fails with SYSTEM_ERROR
and an election is not held (logged), so the current master keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.controller import replicas as r
from pocketmq.controller.config import ControllerConfig
from pocketmq.controller.heartbeat import BrokerHeartbeatManager, BrokerIdentity
from pocketmq.controller.store import ControllerStore, StoreConflict, StoreUnavailable
from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerRequestCode, ControllerResponseCode
from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import make_request
from pocketmq.remoting.header import encode_header
from pocketmq.remoting.transport import RemotingClient

log = logging.getLogger("pocketmq.controller")

MAX_CONFLICT_RETRIES = 8


class ControllerManager:
    def __init__(self, config: ControllerConfig, store: ControllerStore, *, self_address: str,
                 clock: Clock = SYSTEM_CLOCK, client: RemotingClient | None = None) -> None:
        self.config = config
        self.store = store
        self.self_address = self_address
        self.clock = clock
        self.heartbeats = BrokerHeartbeatManager(clock)
        self.client = client if client is not None else RemotingClient()
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scans: list[asyncio.Task[None]] = []
        self._notify_tasks: dict[str, tuple[int, asyncio.Task[None]]] = {}
        self.on_role_change: Callable[[str, r.Outcome], None] | None = None  # tests and metrics listen here
        self._started_at = clock.monotonic()
        self.stopping = False  # set before the server closes its connections: those are no broker deaths

    # ---------------------------------------------------------------------------- lifecycle
    async def start(self, *, run_scans: bool = True) -> None:
        self._started_at = self.clock.monotonic()
        await self.store.open()
        log.info("controller %s started, state in %s", self.self_address, self.store.describe())
        if run_scans:
            self._scans = [
                asyncio.create_task(self._every(self.config.scanNotActiveBrokerInterval, self.scan_not_active_brokers)),
                asyncio.create_task(self._every(self.config.scanInactiveMasterInterval, self.scan_inactive_masters)),
            ]

    async def shutdown(self) -> None:
        self.stopping = True
        for task in self._scans + list(self._tasks):
            task.cancel()
        for task in self._scans + list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                pass
        await self.client.close()
        await self.store.close()

    async def _every(self, interval_ms: int, job: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(interval_ms / 1000)
            try:
                await job()
            except Exception:  # noqa: BLE001 - a scan must go on after a failure
                log.exception("controller scan failed")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------- read-decide-commit
    async def run(self, broker_name: str, decide: Callable[[r.BrokerSet | None], r.Outcome]) -> r.Outcome:
        """Decide on the set's latest state and commit the change, if any, by compare-and-swap."""
        lock = self._locks.setdefault(broker_name, asyncio.Lock())
        async with lock:
            for _ in range(MAX_CONFLICT_RETRIES):
                current = await self.store.get(broker_name)
                outcome = decide(current.state)
                if not outcome.writes:
                    return outcome
                try:
                    await self.store.commit(broker_name, current.version, outcome.new_state)
                except StoreConflict as conflict:
                    log.info("lost a compare-and-swap on %s (%s); deciding again", broker_name, conflict)
                    continue
                return outcome
        raise StoreUnavailable(f"{broker_name}: lost {MAX_CONFLICT_RETRIES} compare-and-swaps in a row")

    def is_alive(self, cluster: str, broker_name: str, broker_id: int) -> bool:
        return self.heartbeats.is_alive(cluster, broker_name, broker_id)

    def _in_startup_grace(self) -> bool:
        return (self.clock.monotonic() - self._started_at) * 1000 < p.DEFAULT_BROKER_CHANNEL_EXPIRED_TIME_MS

    def _alive_for_election(self, master: int | None) -> Callable[[str, str, int], bool]:
        """Who counts as alive in an election: the living, and, during the first heartbeat
        timeout after this controller started, a master it has not heard from yet. A restarted
        controller must not depose a master that is serving but whose first heartbeat has not
        reached it (found by the nemesis suite: a slave's request elected it 0.8 s after start)."""
        def alive(cluster: str, broker_name: str, broker_id: int) -> bool:
            if self.is_alive(cluster, broker_name, broker_id):
                return True
            return (broker_id == master and self._in_startup_grace()
                    and BrokerIdentity(cluster, broker_name, broker_id) not in self.heartbeats.heard)
        return alive

    # ------------------------------------------------------------------------- the requests
    async def get_next_broker_id(self, header: p.GetNextBrokerIdRequestHeader) -> r.Outcome:
        state = (await self.store.get(header.brokerName or "")).state
        return r.get_next_broker_id(state, header)

    async def apply_broker_id(self, header: p.ApplyBrokerIdRequestHeader) -> r.Outcome:
        return await self.run(header.brokerName or "", lambda s: r.apply_broker_id(s, header))

    async def register_broker(self, header: p.RegisterBrokerToControllerRequestHeader) -> r.Outcome:
        return await self.run(header.brokerName or "", lambda s: r.register_broker(s, header, self.is_alive))

    async def alter_sync_state_set(self, header: p.AlterSyncStateSetRequestHeader,
                                   proposed: p.SyncStateSet) -> r.Outcome:
        return await self.run(header.brokerName or "",
                              lambda s: r.alter_sync_state_set(s, header, proposed, self.is_alive))

    async def elect_master(self, header: p.ElectMasterRequestHeader) -> r.Outcome:
        outcome = await self.run(header.brokerName, lambda s: r.elect_master(
            s, header, self._alive_for_election(s.masterBrokerId if s is not None else None),
            self.heartbeats.live_info, self.config.enableElectUncleanMaster))
        if outcome.code == ResponseCode.SUCCESS:
            log.info("Elect a new master in broker-set: %s done: brokerId %s at %s, masterEpoch %s",
                     header.brokerName, outcome.header.masterBrokerId, outcome.header.masterAddress,
                     outcome.header.masterEpoch)
            if self.config.notifyBrokerRoleChanged:
                self.notify_role_changed(outcome)
            if self.on_role_change is not None:
                self.on_role_change(header.brokerName, outcome)
        return outcome

    async def get_replica_info(self, header: p.GetReplicaInfoRequestHeader) -> r.Outcome:
        state = (await self.store.get(header.brokerName or "")).state
        return r.get_replica_info(state, header)

    async def get_sync_state_data(self, broker_names: list[str]) -> p.BrokerReplicasInfo:
        states = []
        for name in broker_names:
            state = (await self.store.get(name)).state
            if state is not None:
                states.append(state)
        return r.sync_state_data(states, self.is_alive)

    async def clean_broker_data(self, header: p.CleanControllerBrokerDataRequestHeader) -> r.Outcome:
        return await self.run(header.brokerName, lambda s: r.clean_broker_data(s, header, self.is_alive))

    def metadata(self) -> p.GetMetaDataResponseHeader:
        peers = "".join(f"{peer_id}:{address};" for peer_id, address in self.config.peers().items())
        return p.GetMetaDataResponseHeader(self.config.controllerDLegerGroup or None,
                                           self.config.controllerDLegerSelfId or None, self.self_address, True,
                                           peers or f"{self.config.controllerDLegerSelfId}:{self.self_address};")

    # --------------------------------------------------------------------- broker liveness
    def on_heartbeat(self, header: p.BrokerHeartbeatRequestHeader, channel: Any) -> None:
        assert header.brokerId is not None
        self.heartbeats.on_heartbeat(header.clusterName, header.brokerName, header.brokerAddr, header.brokerId,
                                     header.heartbeatTimeoutMills, channel, header.epoch, header.maxOffset,
                                     header.confirmOffset, header.electionPriority)

    def on_connection_closed(self, channel: Any) -> None:
        if self.stopping:
            return
        for identity in self.heartbeats.on_connection_closed(channel):
            self._spawn(self.on_broker_inactive(identity))

    async def scan_not_active_brokers(self) -> None:
        for identity in self.heartbeats.scan():
            channel = self.heartbeats.take_channel(identity)
            if channel is not None and channel.is_open:
                channel.close()
            self._spawn(self.on_broker_inactive(identity))

    async def scan_inactive_masters(self) -> None:
        if self._in_startup_grace():
            return  # just started: a living master may not have sent its first heartbeat to us yet
        try:
            sets = await self.store.get_all()
        except StoreUnavailable as exc:
            log.error("cannot scan for dead masters: %s; no election until the store is back", exc)
            return
        for name, versioned in sets.items():
            if versioned.state is not None and r.needs_reelect(versioned.state, self.is_alive):
                log.warning("broker-set %s: master %s is not alive while a replica is; electing", name,
                            versioned.state.masterBrokerId)
                await self.trigger_elect(name)

    async def on_broker_inactive(self, identity: BrokerIdentity) -> None:
        log.info("broker inactive: cluster %s, broker-set %s, brokerId %d", *identity)
        try:
            state = (await self.store.get(identity.brokerName)).state
        except StoreUnavailable as exc:
            log.error("broker-set %s lost brokerId %d but the store is unreachable (%s): no election; "
                      "the current master keeps serving", identity.brokerName, identity.brokerId, exc)
            return
        if state is None or state.masterBrokerId != identity.brokerId:
            return
        await self.trigger_elect(identity.brokerName)

    async def trigger_elect(self, broker_name: str) -> bool:
        header = p.ElectMasterRequestHeader("", broker_name, -1, False, self.clock.now_ms())
        for attempt in range(max(1, self.config.electMasterMaxRetryCount)):
            try:
                outcome = await self.elect_master(header)
            except StoreUnavailable as exc:
                log.error("no election for broker-set %s (try %d): the store is unreachable (%s); "
                          "the current master keeps serving", broker_name, attempt + 1, exc)
                continue
            except Exception:  # noqa: BLE001 - e.g. an epoch at the Java int limit: log, never crash
                log.exception("no election for broker-set %s (try %d)", broker_name, attempt + 1)
                return False
            if outcome.code == ResponseCode.SUCCESS:
                return True
            log.warning("election for broker-set %s gave %d: %s", broker_name, outcome.code, outcome.remark)
            if outcome.code in (ControllerResponseCode.CONTROLLER_MASTER_STILL_EXIST,
                                ControllerResponseCode.CONTROLLER_MASTER_NOT_AVAILABLE):
                return False
        return False

    # ----------------------------------------------------------------------- notifications
    def notify_role_changed(self, outcome: r.Outcome) -> None:
        header: p.ElectMasterResponseHeader = outcome.header
        body = p.ElectMasterResponseBody.decode(outcome.body)
        group = body.brokerMemberGroup
        if group is None or header.masterBrokerId is None:
            return
        request_header = p.NotifyBrokerRoleChangedRequestHeader(header.masterAddress, header.masterEpoch,
                                                                header.syncStateSetEpoch, header.masterBrokerId)
        sync_state_set = p.SyncStateSet(body.syncStateSet, header.syncStateSetEpoch or 0)
        for broker_id, address in sorted(group.brokerAddrs.items()):
            if self.is_alive(group.cluster or "", group.brokerName or "", broker_id):
                self._notify(address, header.masterEpoch or 0, request_header, sync_state_set)

    def _notify(self, address: str, master_epoch: int, header: p.NotifyBrokerRoleChangedRequestHeader,
                body: p.SyncStateSet) -> None:
        previous = self._notify_tasks.get(address)
        if previous is not None and master_epoch > previous[0] and not previous[1].done():
            previous[1].cancel()
        task = asyncio.get_running_loop().create_task(self._send_notify(address, header, body))
        self._notify_tasks[address] = (master_epoch, task)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_notify(self, address: str, header: p.NotifyBrokerRoleChangedRequestHeader,
                           body: p.SyncStateSet) -> None:
        request = make_request(ControllerRequestCode.NOTIFY_BROKER_ROLE_CHANGED, encode_header(header), body.encode(),
                               oneway=True)
        log.info("Try notify broker %s that role changed: master %s (%s), masterEpoch %s", address,
                 header.masterBrokerId, header.masterAddress, header.masterEpoch)
        try:
            await self.client.invoke_oneway(address, request)
        except Exception as exc:  # noqa: BLE001 - the broker learns it at its next heartbeat/register
            log.error("Failed to notify broker %s that role changed: %s", address, exc)
