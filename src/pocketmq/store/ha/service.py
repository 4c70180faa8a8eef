"""The master side of replication (upstream HAService, HAConnection, GroupTransferService).

Owns: the HA port (``haListenPort``; every broker opens it, as upstream), one ``HAConnection``
per slave (a reader of the slave's offset reports and a writer streaming commit-log blocks
from where the slave stands), the highest offset any slave acknowledged, and the SYNC_MASTER
replication waiter plugged into ``store.replication_waiter``. For a slave it also runs the
``HAClient`` that pulls from the master.

    ha = HAService(store, store_config, host="0.0.0.0", master_addr=lambda: "10.0.0.1:10912")
    await ha.start(); ...; await ha.shutdown()
    await ha.wait_for_replication(end_offset) -> PutMessageStatus   # SYNC_MASTER puts

Rules (reference section 7): the first report fixes where streaming starts (0 = the start of
the master's last commit-log file); blocks carry at most ``haTransferBatchSize`` bytes; when
idle for ``haSendHeartbeatInterval`` the master sends an empty block; a connection silent for
``haHousekeepingInterval`` is closed; a report beyond the master's own max offset closes it.
A SYNC_MASTER put answers SLAVE_NOT_AVAILABLE when no slave is connected or the best slave
lags by ``haSlaveFallbehindMax`` or more, else waits up to ``slaveTimeout`` for an
acknowledgement covering it (FLUSH_SLAVE_TIMEOUT when none comes).
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
import os
import ssl
import time
from typing import TYPE_CHECKING, Callable

from pocketmq.aio import IdleWatchdog, Wakeup, resolve
from pocketmq.config import MessageStoreConfig
from pocketmq.store.ha.client import HAClient
from pocketmq.store.ha.protocol import (
    NONCE_SIZE, PROOF_SIZE, SLAVE_HELLO_SIZE, OffsetReader, ProtocolError, auth_challenge, decode_slave_hello,
    encode_ctl_header, encode_header, encode_master_epochs, proof_ok,
)
from pocketmq.store.results import PutMessageStatus

if TYPE_CHECKING:
    from pocketmq.store.message_store import MessageStore

log = logging.getLogger("pocketmq.store.ha")

AUTH_TIMEOUT_SECONDS = 5.0
IDLE_POLL_SECONDS = 0.1  # upstream's writer also re-checks every 100 ms without a wakeup


class HAConnection:
    """One slave connected to the master's HA port."""

    def __init__(self, service: "HAService", reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.service = service
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.addr = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.slave_request_offset = -1
        self.slave_ack_offset = -1
        self.next_transfer_from = -1
        self.broker_id = -1  # controller mode: the slave's brokerId from the epoch handshake
        self.last_caught_up = 0.0  # monotonic time the slave last held all the master had
        self._caught_mark: tuple[int, float] | None = None
        self.sent_confirm = -1  # controller mode: the confirm offset this slave last heard
        self.wake = Wakeup()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        tasks = [asyncio.ensure_future(self._read_loop()), asyncio.ensure_future(self._write_loop())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    exc = task.exception()
                    if isinstance(exc, (ConnectionError, OSError, ProtocolError)):
                        log.info("HA connection %s closed: %s", self.addr, exc)
                    else:
                        log.error("HA connection %s failed", self.addr, exc_info=exc)
        finally:
            # Forget the connection before awaiting anything: a cancellation arriving during the
            # gather below (a role change closing every connection) must not leave a dead
            # connection counted as an attached slave (found by the nemesis suite: three HA
            # connections for two slaves, for good).
            self.service.remove_connection(self)
            self.writer.close()
            log.info("HA connection to slave %s closed (acked %d)", self.addr, self.slave_ack_offset)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _read_loop(self) -> None:
        config = self.service.config
        offsets = OffsetReader()
        transport = self.writer.transport
        watchdog = IdleWatchdog(config.haHousekeepingInterval / 1000, transport.abort)
        try:
            await self._read_acks(offsets, watchdog)
        finally:
            watchdog.cancel()
        if watchdog.fired:
            log.warning("HA connection %s: nothing from the slave for %d ms, closing", self.addr,
                        config.haHousekeepingInterval)

    async def _read_acks(self, offsets: OffsetReader, watchdog: IdleWatchdog) -> None:
        while True:
            data = await self.reader.read(4096)
            if not data:
                return
            watchdog.touch()
            offset = offsets.feed(data)
            if offset is None:
                continue
            master_max = self.service.store.get_max_phy_offset()
            if offset > master_max:
                log.error("slave %s reports offset %d beyond the master's max %d; closing", self.addr, offset,
                          master_max)
                return
            self.slave_ack_offset = offset
            mark = self._caught_mark
            if offset >= master_max:  # it holds everything: caught up now
                self.last_caught_up = self.service.clock.monotonic()
            elif mark is not None and offset >= mark[0]:  # it held everything as of the mark
                self.last_caught_up = mark[1]
            if self.slave_request_offset < 0:
                self.slave_request_offset = offset
                log.info("slave %s requests data from offset %d", self.addr, offset)
                self.wake.set()
            self.service.notify_transfer_some(offset)

    def _header(self, size: int) -> bytes:
        if not self.service.controller_mode:
            return encode_header(self.next_transfer_from, size)
        self.sent_confirm = self.service.confirm_for_slaves()
        return encode_ctl_header(self.next_transfer_from, size, self.sent_confirm)

    def _confirm_behind(self) -> bool:
        """Controller mode: the confirm offset moved since this slave last heard it."""
        return self.service.controller_mode and self.sent_confirm != self.service.confirm_for_slaves()

    async def _write_loop(self) -> None:
        service = self.service
        store = service.store
        config = service.config
        while self.slave_request_offset < 0:
            self.wake.clear()
            await self.wake.wait()
        if self.slave_request_offset == 0:
            master_max = store.get_max_phy_offset()
            start = master_max - master_max % config.mappedFileSizeCommitLog
            self.next_transfer_from = max(0, start)
        else:
            self.next_transfer_from = self.slave_request_offset
        log.info("HA transfer to slave %s starts at offset %d", self.addr, self.next_transfer_from)
        batch = max(1, config.haTransferBatchSize)
        heartbeat = config.haSendHeartbeatInterval / 1000
        writer = self.writer
        last_write = time.monotonic()
        while True:
            data = store.get_commit_log_data(self.next_transfer_from)
            if data is not None and len(data) > 0:
                size = min(len(data), batch)
                chunk = bytes(data[:size])
                data.release()
                writer.write(self._header(size) + chunk)
                self.next_transfer_from += size
                last_write = time.monotonic()
                await writer.drain()
                continue
            if data is not None:
                data.release()
            now = service.clock.monotonic()
            if self._caught_mark is None or self._caught_mark[0] != self.next_transfer_from:
                self._caught_mark = (self.next_transfer_from, now)
            if service.controller_mode and 0 <= self.next_transfer_from <= self.slave_ack_offset:
                self.last_caught_up = now  # idle and the slave holds it all
                if self.broker_id not in service.sync_state_set:
                    service.notify_transfer_some(self.slave_ack_offset)
            if time.monotonic() - last_write > heartbeat or self._confirm_behind():
                writer.write(self._header(0))
                last_write = time.monotonic()
                await writer.drain()
            self.wake.clear()
            await self.wake.wait(IDLE_POLL_SECONDS)


class HAService:
    def __init__(self, store: "MessageStore", config: MessageStoreConfig, *, host: str = "0.0.0.0",
                 master_addr: Callable[[], str | None] | None = None, ssl_server: ssl.SSLContext | None = None,
                 ssl_client: ssl.SSLContext | None = None, controller_mode: bool = False) -> None:
        self.store = store
        self.config = config
        self.host = host
        self.ssl_server = ssl_server  # TLS on the HA port (tls.server.mode=enforcing)
        self.connections: list[HAConnection] = []
        self.push2slave_max_offset = 0
        self._server: asyncio.base_events.Server | None = None
        self._waiters: list[tuple[int, int, asyncio.Future[bool]]] = []
        self._seq = itertools.count()
        self._previous_listener = None
        self.client: HAClient | None = None
        self.clock = store.clock
        self._master_addr = master_addr or (lambda: None)
        self._ssl_client = ssl_client
        # Controller mode (set by the broker's replicas manager before start): the epoch
        # handshake, this broker's id, the SyncStateSet the controller agreed to, and a callback
        # for a slave that caught up (the manager asks the controller to let it in).
        self.controller_mode = controller_mode
        self.local_broker_id = -1
        self.sync_state_set: set[int] = set()
        # Members of an ALTER_SYNC_STATE_SET (expansion) sent to the controller and not yet
        # answered with a newer SyncStateSet: the controller may have taken it (its answer lost),
        # and may then elect one of them, so they must hold a message before it is acknowledged
        # (upstream AutoSwitchHAService isSynchronizingSyncStateSet / remoteSyncStateSet).
        self.proposed_sync_state_set: set[int] = set()
        self.on_slave_caught_up: Callable[[int], None] | None = None
        # allAckInSyncStateSet: consumers see a message only once the SyncStateSet holds it (as
        # upstream, which dispatches only up to the confirm offset); arrival notices wait too.
        self._pending_notices: collections.deque[tuple[int, tuple[object, ...]]] = collections.deque()
        self._confirm_told = -1  # the confirm offset the slaves were last woken for
        # As a slave: the confirm offset the master last sent (-1: none yet, nothing served).
        self.master_confirm_offset = -1
        if config.brokerRole == "SLAVE" and not controller_mode:  # controller mode: when told whom
            self.client = self._new_client()

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.config.haListenPort,
                                                  reuse_address=True, ssl=self.ssl_server)
        log.info("HA service listening on %s:%d", self.host, self.config.haListenPort)
        if self.config.brokerRole == "SYNC_MASTER":
            self.store.replication_waiter = self.wait_for_replication
        # Wake the writers as soon as a message lands (no 100 ms poll delay for ASYNC_MASTER).
        previous = self.store.message_arriving_listener
        self._previous_listener = previous

        def on_arriving(*args: object) -> None:
            if previous is not None:
                end = self.store.reput_from_offset  # the end of the message just stored
                if self.read_gate_active() and (self._pending_notices or self.confirmed_offset() < end):
                    self._pending_notices.append((end, args))  # told when the SyncStateSet has it
                else:
                    previous(*args)
            if self.connections:
                self.wakeup_all()

        self.store.message_arriving_listener = on_arriving
        if self.client is not None:
            self.client.start()

    def _new_client(self) -> HAClient:
        return HAClient(self.store, self.config, self._master_addr, self._ssl_client,
                        local_broker_id=(lambda: self.local_broker_id) if self.controller_mode else None,
                        on_confirm=self._on_master_confirm)

    # ---------------------------------------------------------------- role changes (controller)
    async def stop_following(self) -> None:
        """Stop copying from the master: nothing lands in the commit log from it after this."""
        if self.client is not None:
            await self.client.shutdown()
            self.client = None

    async def change_to_master(self) -> None:
        """Stop following; answer SYNC sends from the SyncStateSet's acknowledgements. Slaves
        still connected (this broker stays master in a new epoch) are dropped: they reconnect
        at once and learn the new epoch in the handshake."""
        await self.stop_following()
        for conn in list(self.connections):
            await conn.close()
        self._confirm_told = -1
        self.config.brokerRole = "SYNC_MASTER"
        self.store.replication_waiter = self.wait_for_replication

    async def change_to_slave(self) -> None:
        """Drop the slaves and pending SYNC sends; follow the master at ``master_addr()``."""
        self.master_confirm_offset = -1  # nothing served until the new master says what is confirmed
        self.config.brokerRole = "SLAVE"
        self._pending_notices.clear()
        if self.store.replication_waiter == self.wait_for_replication:
            self.store.replication_waiter = None
        for conn in list(self.connections):
            await conn.close()
        self._fail_waiters()
        if self.client is not None:
            await self.client.shutdown()
        self.client = self._new_client()
        self.client.start()

    def _fail_waiters(self) -> None:
        for _, _, future in self._waiters:
            if not future.done():
                future.set_result(False)
        self._waiters.clear()

    async def shutdown(self) -> None:
        if self.client is not None:
            await self.client.shutdown()
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            await conn.close()
        self._fail_waiters()
        if self.store.replication_waiter == self.wait_for_replication:
            self.store.replication_waiter = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.config.haSharedSecret and not await self._authenticated(reader, writer):
            writer.close()
            return
        conn = HAConnection(self, reader, writer)
        if self.controller_mode and not await self._epoch_handshake(conn, reader, writer):
            writer.close()
            return
        log.info("HA service: new slave connection from %s", conn.addr)
        self.connections.append(conn)
        conn.start()

    async def _authenticated(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Challenge a new slave to prove it knows haSharedSecret (see protocol)."""
        peer = writer.get_extra_info("peername")
        challenge = auth_challenge(os.urandom(NONCE_SIZE))
        try:
            writer.write(challenge)
            proof = await asyncio.wait_for(reader.readexactly(PROOF_SIZE), AUTH_TIMEOUT_SECONDS)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
            log.warning("HA service: slave %s did not authenticate: %s", peer, type(exc).__name__)
            return False
        if not proof_ok(self.config.haSharedSecret, challenge, proof):
            log.warning("HA service: slave %s refused: wrong haSharedSecret", peer)
            return False
        return True

    async def _epoch_handshake(self, conn: HAConnection, reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> bool:
        """Controller mode: the slave names its brokerId; the master sends its epochs."""
        if self.config.brokerRole == "SLAVE":
            log.warning("HA service: %s wants to follow this broker, which is a slave; refused", conn.addr)
            return False
        try:
            hello = await asyncio.wait_for(reader.readexactly(SLAVE_HELLO_SIZE), AUTH_TIMEOUT_SECONDS)
            conn.broker_id = decode_slave_hello(hello)
            entries = [(e.epoch, e.start_offset) for e in self.store.epoch_file.entries]
            writer.write(encode_master_epochs(entries, self.store.get_max_phy_offset()))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ProtocolError) as exc:
            log.warning("HA service: slave %s failed the epoch handshake: %s", conn.addr, exc)
            return False
        log.info("HA service: slave brokerId %d at %s joined (epoch handshake done)", conn.broker_id, conn.addr)
        return True

    def remove_connection(self, conn: HAConnection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)

    def wakeup_all(self) -> None:
        for conn in self.connections:
            conn.wake.set()

    # ---------------------------------------------------------------------- group transfer
    @property
    def connection_count(self) -> int:
        return len(self.connections)

    def is_slave_ok(self, master_put_where: int) -> bool:
        return (self.connection_count > 0
                and master_put_where - self.push2slave_max_offset < self.config.haSlaveFallbehindMax)

    def notify_transfer_some(self, offset: int) -> None:
        if self.controller_mode:
            offset = self.confirmed_offset()
            self._release_notices(offset)
            self._check_caught_up()
            if offset > self._confirm_told:  # let the slaves' read limits follow
                self._confirm_told = offset
                self.wakeup_all()
        if offset <= self.push2slave_max_offset:
            return
        self.push2slave_max_offset = offset
        waiters = self._waiters
        while waiters and waiters[0][0] <= offset:
            _, _, future = heapq.heappop(waiters)
            if not future.done():
                future.set_result(True)

    # ------------------------------------------------------------ SyncStateSet (controller)
    def ack_set(self) -> set[int]:
        """The replicas whose acks count: the SyncStateSet, and while an expansion is being
        proposed to the controller, its new members too (the union, as upstream)."""
        return self.sync_state_set | self.proposed_sync_state_set

    def mark_synchronizing(self, members: set[int]) -> None:
        """An ALTER_SYNC_STATE_SET to ``members`` is about to be sent: count them from now on."""
        self.proposed_sync_state_set |= set(members)

    def clear_proposal(self) -> None:
        """The controller's SyncStateSet, read after every proposal was answered, is still the
        one we have: no proposal was taken."""
        if self.proposed_sync_state_set:
            self.proposed_sync_state_set = set()
            self.notify_transfer_some(0)

    def _member_connections(self) -> list[HAConnection]:
        members = self.ack_set()
        return [c for c in self.connections if c.broker_id in members and c.broker_id != self.local_broker_id]

    def in_sync_replicas(self) -> int:
        """Replicas of the SyncStateSet holding data now: the master and its connected members."""
        return 1 + len({c.broker_id for c in self._member_connections()})

    def needed_acks(self) -> int:
        """Replicas (master included) that must hold a message before SEND_OK."""
        if self.config.allAckInSyncStateSet:
            return max(1, len(self.ack_set()))
        return max(1, self.config.inSyncReplicas)

    def confirmed_offset(self) -> int:
        """The offset every needed replica holds (the master's max when it needs no one)."""
        need = self.needed_acks() - 1
        if need <= 0:
            return self.store.get_max_phy_offset()
        best: dict[int, int] = {}
        for conn in self._member_connections():
            best[conn.broker_id] = max(best.get(conn.broker_id, -1), conn.slave_ack_offset)
        if self.config.allAckInSyncStateSet:
            members = self.ack_set() - {self.local_broker_id}
            return min((best.get(m, -1) for m in members), default=self.store.get_max_phy_offset())
        acks = sorted(best.values(), reverse=True)
        return acks[need - 1] if len(acks) >= need else -1

    def _check_caught_up(self) -> None:
        """A connected slave outside the SyncStateSet that holds all the master had, from the
        current epoch on, may join it (upstream maybeExpandInSyncStateSet)."""
        callback = self.on_slave_caught_up
        if callback is None or self.config.brokerRole == "SLAVE":
            return
        last = self.store.epoch_file.last_entry()
        epoch_start = last.start_offset if last is not None else 0
        now = self.clock.monotonic()
        limit = self.config.haMaxTimeSlaveNotCatchup / 1000
        for conn in self.connections:
            if conn.broker_id < 0 or conn.broker_id in self.sync_state_set:
                continue
            if conn.slave_ack_offset >= epoch_start and conn.last_caught_up and now - conn.last_caught_up <= limit:
                callback(conn.broker_id)

    def shrunk_sync_state_set(self) -> set[int]:
        """The SyncStateSet without the slaves that are gone or have not caught up for
        haMaxTimeSlaveNotCatchup (upstream maybeShrinkSyncStateSet)."""
        now = self.clock.monotonic()
        limit = self.config.haMaxTimeSlaveNotCatchup / 1000
        keep = {self.local_broker_id}
        for member in self.ack_set():
            conns = [c for c in self.connections if c.broker_id == member]
            if any(c.last_caught_up and now - c.last_caught_up <= limit for c in conns):
                keep.add(member)
        return keep

    def set_sync_state_set(self, members: set[int]) -> None:
        """The controller's answer (a newer SyncStateSet): it replaces any proposal."""
        self.sync_state_set = set(members)
        self.proposed_sync_state_set = set()
        self.notify_transfer_some(0)

    def read_gate_active(self) -> bool:
        """Reads stop at the confirm offset: a controller-mode master acknowledging sends only
        once every SyncStateSet member holds them (readUnCommitted=true turns it off)."""
        return (self._gated_mode() and self.config.brokerRole != "SLAVE" and len(self.ack_set()) > 1)

    def _gated_mode(self) -> bool:
        return self.controller_mode and self.config.allAckInSyncStateSet and not self.config.readUnCommitted

    def read_limit(self) -> int | None:
        """The commit-log offset consumers may read up to (None: no limit). A slave in gated
        mode serves only what its master said the whole SyncStateSet holds: what lies beyond
        may be cut away by the next election, and a consumer that read it would skip the
        messages later stored at those queue offsets."""
        if self._gated_mode() and self.config.brokerRole == "SLAVE":
            return self.master_confirm_offset
        return self.confirmed_offset() if self.read_gate_active() else None

    def confirm_for_slaves(self) -> int:
        """What a slave may serve: the confirm offset while reads are gated, else all we have."""
        return self.confirmed_offset() if self.read_gate_active() else self.store.get_max_phy_offset()

    def _on_master_confirm(self, confirm: int) -> None:
        self.master_confirm_offset = confirm

    def _release_notices(self, confirmed: int) -> None:
        pending = self._pending_notices
        if not pending:
            return
        if not self.read_gate_active():
            confirmed = self.store.get_max_phy_offset()
        listener = self._previous_listener
        while pending and pending[0][0] <= confirmed:
            _, args = pending.popleft()
            if listener is not None:
                try:
                    listener(*args)
                except Exception:  # a listener bug must not break replication
                    log.exception("message arriving listener failed")

    async def wait_for_replication(self, end_offset: int) -> PutMessageStatus:
        """SYNC_MASTER: PUT_OK once a slave acknowledged ``end_offset`` (controller mode: once
        the needed members of the SyncStateSet did)."""
        if self.controller_mode:
            return await self._wait_in_sync_replicas(end_offset)
        if not self.is_slave_ok(end_offset):
            return PutMessageStatus.SLAVE_NOT_AVAILABLE
        if self.push2slave_max_offset >= end_offset:
            return PutMessageStatus.PUT_OK
        return await self._wait_acked(end_offset)

    async def _wait_in_sync_replicas(self, end_offset: int) -> PutMessageStatus:
        need = self.needed_acks()
        if need <= 1:
            return PutMessageStatus.PUT_OK
        in_sync = self.in_sync_replicas()
        if in_sync < self.config.minInSyncReplicas or in_sync < need:
            return PutMessageStatus.IN_SYNC_REPLICAS_NOT_ENOUGH
        if self.confirmed_offset() >= end_offset:
            return PutMessageStatus.PUT_OK
        return await self._wait_acked(end_offset)

    async def _wait_acked(self, end_offset: int) -> PutMessageStatus:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        heapq.heappush(self._waiters, (end_offset, next(self._seq), future))
        self.wakeup_all()
        timer = loop.call_later(self.config.slaveTimeout / 1000, resolve, future, False)
        try:
            ok = await future
        finally:
            timer.cancel()
        if not ok:
            log.warning("transfer message to slave timeout, %d", end_offset)
            if len(self._waiters) > 4096:  # drop timed-out entries now and then
                self._waiters = [w for w in self._waiters if not w[2].done()]
                heapq.heapify(self._waiters)
            return PutMessageStatus.FLUSH_SLAVE_TIMEOUT
        return PutMessageStatus.PUT_OK

    # -------------------------------------------------------------------------------- info
    def runtime_info(self) -> dict[str, str]:
        info = {"haConnectionCount": str(self.connection_count),
                "haPush2SlaveMaxOffset": str(self.push2slave_max_offset)}
        for i, conn in enumerate(self.connections):
            info[f"haSlave_{i}"] = f"{conn.addr},{conn.slave_ack_offset}"
            if self.controller_mode:
                info[f"haSlave_{i}"] += f",brokerId={conn.broker_id}"
        if self.controller_mode and self.config.brokerRole != "SLAVE":
            info["inSyncReplicasNums"] = str(self.in_sync_replicas())
            info["haConfirmOffset"] = str(self.confirmed_offset())
        if self.client is not None:
            info.update(self.client.runtime_info())
        return info
