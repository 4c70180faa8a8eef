"""A broker in controller mode (upstream ReplicasManager, RocketMQ 5 RIP-44).

Owns this broker's conversation with the controllers (``controllerAddr``, ``;``-separated):
finding the leader (CONTROLLER_GET_METADATA_INFO), getting and keeping a brokerId
(CONTROLLER_GET_NEXT_BROKER_ID, CONTROLLER_APPLY_BROKER_ID, the ``brokerIdentity`` file in the
store root, ``<cluster>#<brokerName>#<brokerId>`` as upstream, written with a ``-temp`` file
first), registering (CONTROLLER_REGISTER_BROKER), heartbeats (BROKER_HEARTBEAT every
``brokerHeartbeatInterval``), electing itself when the set has no master (CONTROLLER_ELECT_MASTER),
polling CONTROLLER_GET_REPLICA_INFO every ``syncBrokerMetadataPeriod``, the controller's
NOTIFY_BROKER_ROLE_CHANGED, and, as master, reporting SyncStateSet changes
(CONTROLLER_ALTER_SYNC_STATE_SET: a slave that caught up joins at once, the check every
``checkSyncStateSetPeriod`` drops slaves behind for more than ``haMaxTimeSlaveNotCatchup``).

Role changes happen only for a masterEpoch above the one this broker knows:

- to master: the epoch file gets ``<masterEpoch, maxPhyOffset>``, the store takes writes as a
  SYNC_MASTER, the broker registers with the name servers as brokerId 0;
- to slave: the store refuses writes at once (fenced), the broker registers under its own
  brokerId, and the HA client follows the new master (its epoch handshake truncates what the
  new master does not have).

Time comes from the broker's clock (an injected ``Clock``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from typing import TYPE_CHECKING

from pocketmq.persist import write_file_safely
from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerRequestCode as Req, ControllerResponseCode as Code
from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_request
from pocketmq.remoting.header import decode_header, encode_header
from pocketmq.remoting.transport import Connection

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker.controller_mode")

MASTER_ID = 0
RETRY_SECONDS = 1.0
RPC_TIMEOUT = 3.0


class ControllerError(Exception):
    def __init__(self, code: int, remark: str | None) -> None:
        super().__init__(f"controller answered {code}: {remark}")
        self.code = code


def controller_addresses(text: str) -> list[str]:
    return [a.strip() for a in text.replace(",", ";").split(";") if a.strip()]


class BrokerIdentityFile:
    """``brokerIdentity`` (and ``brokerIdentity-temp`` while an id is being applied for)."""

    def __init__(self, store_root: str) -> None:
        self.path = os.path.join(store_root, "brokerIdentity")
        self.temp_path = self.path + "-temp"

    @staticmethod
    def _read(path: str) -> list[str] | None:
        try:
            with open(path, encoding="utf-8") as f:
                parts = f.read().strip().split("#")
        except FileNotFoundError:
            return None
        return parts

    def load(self, cluster: str, broker_name: str) -> int | None:
        parts = self._read(self.path)
        if parts is None:
            return None
        if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
            raise ValueError(f"{self.path} is not <cluster>#<brokerName>#<brokerId>: {'#'.join(parts)!r}")
        if parts[0] != cluster or parts[1] != broker_name:
            raise ValueError(f"{self.path} belongs to {parts[0]}/{parts[1]}, not {cluster}/{broker_name}: "
                             f"this store is another broker's")
        return int(parts[2])

    def load_temp(self) -> tuple[int, str] | None:
        parts = self._read(self.temp_path)
        if parts is None or len(parts) != 4 or not parts[2].isdigit():
            return None
        return int(parts[2]), parts[3]

    def save_temp(self, cluster: str, broker_name: str, broker_id: int, check_code: str) -> None:
        write_file_safely(self.temp_path, f"{cluster}#{broker_name}#{broker_id}#{check_code}".encode())

    def save(self, cluster: str, broker_name: str, broker_id: int) -> None:
        write_file_safely(self.path, f"{cluster}#{broker_name}#{broker_id}".encode())
        try:
            os.unlink(self.temp_path)
        except FileNotFoundError:
            pass


class ReplicasManager:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker
        self.config = broker.config
        self.clock = broker.clock
        self.addresses = controller_addresses(broker.config.controllerAddr)
        self.leader: str | None = None
        self.broker_controller_id: int | None = None  # the id the controller knows this broker by
        self.master_broker_id: int | None = None
        self.master_address: str | None = None
        self.master_epoch = 0
        self.sync_state_set_epoch = 0
        self.sync_state_set: set[int] = set()
        self.identity = BrokerIdentityFile(broker.store_config.storePathRootDir)
        self._tasks: list[asyncio.Task[None]] = []
        self._role_lock = asyncio.Lock()
        self._alter_pending = False
        self._reports_started = 0  # ALTER_SYNC_STATE_SET requests sent so far
        self._expand_not_before = 0.0  # monotonic: a refused expansion is not asked again at once
        self._reports_in_flight = 0
        self.registered = asyncio.Event()

    @property
    def broker_address(self) -> str:
        return self.config.broker_addr()

    @property
    def is_master(self) -> bool:
        return self.broker_controller_id is not None and self.master_broker_id == self.broker_controller_id

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if not self.addresses:
            raise ValueError("enableControllerMode=true needs controllerAddr")
        ha = self.broker.ha_service
        assert ha is not None
        ha.on_slave_caught_up = self._slave_caught_up
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._run()))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self) -> None:
        while True:
            try:
                if await self._start_basic_service():
                    break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("controller mode: start-up step failed (%s); retrying", exc)
            await asyncio.sleep(RETRY_SECONDS + random.random() * RETRY_SECONDS)
        self.registered.set()
        loop = asyncio.get_running_loop()
        self._tasks += [
            loop.create_task(self._every(self.config.brokerHeartbeatInterval, self.send_heartbeat)),
            loop.create_task(self._every(self.config.syncBrokerMetadataPeriod, self.sync_broker_metadata)),
            loop.create_task(self._every(self.config.checkSyncStateSetPeriod, self.check_sync_state_set)),
            loop.create_task(self._every(self.config.syncControllerMetadataPeriod, self.update_leader)),
        ]

    async def _every(self, period_ms: int, action) -> None:  # type: ignore[no-untyped-def]
        while True:
            await asyncio.sleep(max(0.05, period_ms / 1000))
            try:
                await action()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("controller mode: %s failed: %s", getattr(action, "__name__", action), exc)

    async def _start_basic_service(self) -> bool:
        await self.update_leader()
        await self._register()
        await self.send_heartbeat()
        if self.master_broker_id is None:
            return await self._elect_self()
        return True

    # ------------------------------------------------------------------------ requests
    async def _invoke(self, code: int, header: object | None, body: bytes | None = None,
                      addr: str | None = None) -> RemotingCommand:
        target = addr or self.leader
        if target is None:
            raise ControllerError(Code.CONTROLLER_NOT_LEADER, "no controller leader known")
        request = make_request(code, encode_header(header) if header is not None else None, body, language="JAVA")
        return await self.broker.remoting_client.invoke(target, request, RPC_TIMEOUT)

    async def _call(self, code: int, header: object | None, body: bytes | None = None) -> RemotingCommand:
        response = await self._invoke(code, header, body)
        if response.code == Code.CONTROLLER_NOT_LEADER:
            await self.update_leader()
            response = await self._invoke(code, header, body)
        if response.code != ResponseCode.SUCCESS:
            raise ControllerError(response.code, response.remark)
        return response

    async def update_leader(self) -> None:
        for addr in self.addresses:
            try:
                response = await self._invoke(Req.CONTROLLER_GET_METADATA_INFO, None, addr=addr)
            except Exception as exc:
                log.info("controller %s unreachable: %s", addr, exc)
                continue
            if response.code != ResponseCode.SUCCESS:
                continue
            header = decode_header(p.GetMetaDataResponseHeader, response.ext_fields)
            if header.controllerLeaderAddress:
                if header.controllerLeaderAddress != self.leader:
                    log.info("controller leader is %s", header.controllerLeaderAddress)
                self.leader = header.controllerLeaderAddress
                return
        raise ControllerError(Code.CONTROLLER_NOT_LEADER, f"no controller leader among {self.addresses}")

    # ------------------------------------------------------------------------ registration
    async def _register(self) -> None:
        cluster, name = self.config.brokerClusterName, self.config.brokerName
        broker_id = self.identity.load(cluster, name)
        if broker_id is None:
            temp = self.identity.load_temp()
            if temp is None:
                response = await self._call(Req.CONTROLLER_GET_NEXT_BROKER_ID,
                                            p.GetNextBrokerIdRequestHeader(cluster, name))
                next_id = decode_header(p.GetNextBrokerIdResponseHeader, response.ext_fields).nextBrokerId
                if next_id is None:
                    raise ControllerError(ResponseCode.SYSTEM_ERROR, "no nextBrokerId in the answer")
                temp = (next_id, p.register_check_code(self.broker_address, self.clock.now_ms()))
                self.identity.save_temp(cluster, name, temp[0], temp[1])
            try:
                await self._call(Req.CONTROLLER_APPLY_BROKER_ID,
                                 p.ApplyBrokerIdRequestHeader(cluster, name, temp[0], temp[1]))
            except ControllerError:
                os.unlink(self.identity.temp_path)  # the id went to another broker: ask again
                raise
            self.identity.save(cluster, name, temp[0])
            broker_id = temp[0]
            log.info("controller mode: this broker is brokerId %d of %s", broker_id, name)
        self.broker_controller_id = broker_id
        ha = self.broker.ha_service
        assert ha is not None
        ha.local_broker_id = broker_id
        response = await self._call(Req.CONTROLLER_REGISTER_BROKER, p.RegisterBrokerToControllerRequestHeader(
            cluster, name, broker_id, self.broker_address, self.clock.now_ms()))
        header = decode_header(p.RegisterBrokerToControllerResponseHeader, response.ext_fields)
        members = p.SyncStateSet.decode(response.body).syncStateSet if response.body else set()
        if header.masterBrokerId is not None and header.masterAddress:
            await self.change_broker_role(header.masterBrokerId, header.masterAddress, header.masterEpoch or 0,
                                          header.syncStateSetEpoch or 0, members)

    async def _elect_self(self) -> bool:
        try:
            response = await self._call(Req.CONTROLLER_ELECT_MASTER, p.ElectMasterRequestHeader(
                self.config.brokerClusterName, self.config.brokerName, self.broker_controller_id or 0, False,
                self.clock.now_ms()))
        except ControllerError as exc:
            log.info("controller mode: no master in %s yet (%s)", self.config.brokerName, exc)
            return False
        header = decode_header(p.ElectMasterResponseHeader, response.ext_fields)
        members = p.ElectMasterResponseBody.decode(response.body).syncStateSet if response.body else set()
        if header.masterBrokerId is None or not header.masterAddress:
            return False
        await self.change_broker_role(header.masterBrokerId, header.masterAddress, header.masterEpoch or 0,
                                      header.syncStateSetEpoch or 0, members)
        return True

    async def send_heartbeat(self) -> None:
        store = self.broker.store
        header = p.BrokerHeartbeatRequestHeader(
            self.config.brokerClusterName, self.broker_address, self.config.brokerName, self.broker_controller_id,
            store.epoch_file.last_epoch(), store.get_max_phy_offset(), store.get_max_phy_offset(),
            self.config.controllerHeartBeatTimeoutMills, self.config.brokerElectionPriority)
        for addr in self.addresses:
            try:
                await self._invoke(Req.BROKER_HEARTBEAT, header, addr=addr)
            except Exception as exc:
                log.debug("heartbeat to controller %s failed: %s", addr, exc)

    async def sync_broker_metadata(self) -> None:
        """Poll the set's master and SyncStateSet (upstream schedulingSyncBrokerMetadata)."""
        started, quiet = self._reports_started, self._reports_in_flight == 0
        try:
            response = await self._call(Req.CONTROLLER_GET_REPLICA_INFO,
                                        p.GetReplicaInfoRequestHeader(self.config.brokerName))
        except ControllerError as exc:
            if exc.code == Code.CONTROLLER_BROKER_METADATA_NOT_EXIST:
                await self._register()
                return
            raise
        header = decode_header(p.GetReplicaInfoResponseHeader, response.ext_fields)
        sss = p.SyncStateSet.decode(response.body) if response.body else p.SyncStateSet()
        epoch = header.masterEpoch or 0
        if (epoch == self.master_epoch and self.is_master and quiet and self._reports_started == started
                and sss.syncStateSetEpoch == self.sync_state_set_epoch and self.broker.ha_service is not None):
            # Read after every ALTER_SYNC_STATE_SET was answered (or failed) and none was sent
            # since: the controller took none of them, the proposal is void.
            self.broker.ha_service.clear_proposal()
        if epoch > self.master_epoch:
            if header.masterAddress and header.masterBrokerId is not None:
                await self.change_broker_role(header.masterBrokerId, header.masterAddress, epoch,
                                              sss.syncStateSetEpoch, sss.syncStateSet)
            else:
                await self._elect_self()
        elif epoch == self.master_epoch and self.is_master:
            self._change_sync_state_set(sss.syncStateSet, sss.syncStateSetEpoch)
        elif self.master_broker_id is None:
            await self._elect_self()

    async def on_role_changed(self, request: RemotingCommand, _channel: Connection) -> RemotingCommand | None:
        """NOTIFY_BROKER_ROLE_CHANGED from the controller (oneway)."""
        try:
            header = decode_header(p.NotifyBrokerRoleChangedRequestHeader, request.ext_fields)
            sss = p.SyncStateSet.decode(request.body) if request.body else p.SyncStateSet()
        except ValueError as exc:
            log.warning("bad NOTIFY_BROKER_ROLE_CHANGED: %s", exc)
            return None
        if header.masterBrokerId is not None and header.masterAddress:
            await self.change_broker_role(header.masterBrokerId, header.masterAddress, header.masterEpoch or 0,
                                          sss.syncStateSetEpoch, sss.syncStateSet)
        return None

    # ------------------------------------------------------------------------ role changes
    async def change_broker_role(self, master_id: int, master_address: str, master_epoch: int,
                                 sync_state_set_epoch: int, members: set[int]) -> None:
        async with self._role_lock:
            if master_epoch <= self.master_epoch:
                return
            if master_id == self.broker_controller_id:
                await self._change_to_master(master_epoch, sync_state_set_epoch, members)
            else:
                await self._change_to_slave(master_id, master_address, master_epoch)

    async def _change_to_master(self, epoch: int, sss_epoch: int, members: set[int]) -> None:
        broker = self.broker
        store = broker.store
        ha = broker.ha_service
        assert ha is not None
        log.warning("controller mode: %s becomes MASTER of %s, masterEpoch %d", self.broker_address,
                     self.config.brokerName, epoch)
        self.master_epoch = epoch
        self._change_sync_state_set(members, sss_epoch)
        # The old master's data stops here, before the new epoch's start offset is taken (as
        # upstream): what the HA client copied later would lie in the new epoch's range.
        await ha.stop_following()
        store.epoch_file.begin_epoch_as_master(epoch, store.get_max_phy_offset())
        await ha.change_to_master()
        store.set_role("SYNC_MASTER")
        self.master_broker_id = self.broker_controller_id
        self.master_address = self.broker_address
        await broker.on_role_change(master=True, master_addr=self.broker_address, ha_addr=None)
        asyncio.get_running_loop().create_task(self.check_sync_state_set())

    async def _change_to_slave(self, master_id: int, master_address: str, epoch: int) -> None:
        broker = self.broker
        ha = broker.ha_service
        assert ha is not None
        log.warning("controller mode: %s follows brokerId %d at %s, masterEpoch %d", self.broker_address, master_id,
                    master_address, epoch)
        broker.store.set_role("SLAVE")  # fenced first: no write lands after this line
        self.master_epoch = epoch
        self.master_broker_id = master_id
        self.master_address = master_address
        host, _, port = master_address.rpartition(":")
        await broker.on_role_change(master=False, master_addr=master_address, ha_addr=f"{host}:{int(port) + 1}")
        await ha.change_to_slave()

    # ------------------------------------------------------------------------ SyncStateSet
    def _change_sync_state_set(self, members: set[int], epoch: int) -> None:
        if epoch > self.sync_state_set_epoch or not self.sync_state_set:
            self.sync_state_set_epoch = epoch
            self.sync_state_set = set(members)
            ha = self.broker.ha_service
            if ha is not None:
                ha.set_sync_state_set(self.sync_state_set)
            log.info("SyncStateSet of %s is now %s (epoch %d)", self.config.brokerName, sorted(members), epoch)

    def _slave_caught_up(self, broker_id: int) -> None:
        if not self.is_master or broker_id in self.sync_state_set or self._alter_pending:
            return
        if self.clock.monotonic() < self._expand_not_before:
            return
        self._alter_pending = True
        members = self.sync_state_set | {broker_id}
        ha = self.broker.ha_service
        if ha is not None:
            ha.mark_synchronizing(members)  # before the request leaves: its answer may be lost
        task = asyncio.get_running_loop().create_task(self._report(members))
        task.add_done_callback(lambda _t: setattr(self, "_alter_pending", False))

    async def check_sync_state_set(self) -> None:
        if not self.is_master:
            return
        ha = self.broker.ha_service
        assert ha is not None
        shrunk = ha.shrunk_sync_state_set()
        # Only the unanswered proposal differs: the metadata poll settles it (reporting here
        # again and again would keep the poll from ever seeing the controller quiet).
        if shrunk != self.sync_state_set and shrunk != ha.ack_set():
            await self._report(shrunk)

    async def _report(self, members: set[int]) -> None:
        if not self.is_master:
            return
        self._reports_started += 1
        self._reports_in_flight += 1
        try:
            await self._alter(members)
        finally:
            self._reports_in_flight -= 1

    async def _alter(self, members: set[int]) -> None:
        header = p.AlterSyncStateSetRequestHeader(self.config.brokerName, self.broker_controller_id, self.master_epoch,
                                                  self.clock.now_ms())
        body = p.SyncStateSet(set(members), self.sync_state_set_epoch).encode()
        try:
            response = await self._call(Req.CONTROLLER_ALTER_SYNC_STATE_SET, header, body)
        except Exception as exc:
            log.warning("ALTER_SYNC_STATE_SET %s -> %s refused: %s", sorted(self.sync_state_set), sorted(members), exc)
            # Caught-up checks run on every ack: without a pause a refusal is asked again at once,
            # hundreds of times a second under load.
            self._expand_not_before = self.clock.monotonic() + 1.0
            return
        result = p.SyncStateSet.decode(response.body) if response.body else p.SyncStateSet(
            set(members), decode_header(p.AlterSyncStateSetResponseHeader, response.ext_fields).newSyncStateSetEpoch)
        self._change_sync_state_set(result.syncStateSet, result.syncStateSetEpoch)

    def runtime_info(self) -> dict[str, str]:
        return {"controllerMode": "true", "brokerControllerId": str(self.broker_controller_id),
                "masterEpoch": str(self.master_epoch), "syncStateSet": ",".join(map(str, sorted(self.sync_state_set))),
                "syncStateSetEpoch": str(self.sync_state_set_epoch),
                "masterBrokerId": "" if self.master_broker_id is None else str(self.master_broker_id),
                "masterAddress": self.master_address or ""}
