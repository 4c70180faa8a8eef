"""The slave side of replication (upstream HAService.HAClient).

Connects to the master's HA address (``haMasterAddress`` if configured, else the one the name
server returned at registration), reports the slave's max commit-log offset right after
connecting, after every append that moved it, and every ``haSendHeartbeatInterval``; appends
each received block at exactly its offset (``store.append_to_commit_log`` also dispatches to
the consume queues and index). A block whose offset is not the slave's max offset (once the
slave holds data), a failed append, or ``haHousekeepingInterval`` without a byte from the
master closes the connection; the client reconnects at once, then every 5 s (after 1 s when
the master closed the connection before sending a byte).

Upstream waits one heartbeat interval before its first report; reporting at once makes a new
or returning slave count for SYNC_MASTER immediately and changes nothing on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import TYPE_CHECKING, Callable

from pocketmq.aio import IdleWatchdog
from pocketmq.config import MessageStoreConfig
from pocketmq.store.epoch_file import EpochEntry, find_consistent_point
from pocketmq.store.ha.protocol import (
    CHALLENGE_SIZE, MASTER_EPOCHS_HEAD, BlockReader, ProtocolError, auth_proof, decode_master_epochs_head,
    decode_master_epochs_tail, encode_offset, encode_slave_hello, master_epochs_tail_size,
)

if TYPE_CHECKING:
    from pocketmq.store.message_store import MessageStore

log = logging.getLogger("pocketmq.store.ha")

RETRY_SECONDS = 5.0
HANDSHAKE_RETRY_SECONDS = 1.0
CONNECT_TIMEOUT = 3.0
READ_SIZE = 256 * 1024


class SlaveError(Exception):
    """The stream from the master cannot be applied; the connection is dropped."""


class HAClient:
    def __init__(self, store: "MessageStore", config: MessageStoreConfig,
                 master_addr: Callable[[], str | None], ssl_context: ssl.SSLContext | None = None,
                 local_broker_id: Callable[[], int] | None = None,
                 on_confirm: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.on_confirm = on_confirm  # controller mode: the master's confirm offset, as it comes
        # Controller mode: exchange epochs with the master and truncate before streaming.
        self.local_broker_id = local_broker_id
        self.master_epochs: list[EpochEntry] = []
        self.ssl_context = ssl_context  # TLS to the master's HA port (tls.enable)
        self.config = config
        self._master_addr = master_addr
        self.connected_to: str | None = None
        self.reported_offset = 0
        self.last_read = 0.0
        self._task: asyncio.Task[None] | None = None
        self._retry = asyncio.Event()
        self._closed = False
        self._streaming = False  # this session has had bytes from the master after the handshakes

    def master_address(self) -> str | None:
        return self.config.haMasterAddress or self._master_addr() or None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def shutdown(self) -> None:
        """Stop for good. Python 3.11's asyncio.wait_for drops a cancellation that arrives as
        the awaited read ends (the connection reset by a master that is switching role, say):
        the task would then carry on, reconnecting forever, and a broker becoming master would
        wait here for ever holding its role lock. So the loop also checks a flag, and the
        cancellation is repeated until the task has ended."""
        self._closed = True
        task = self._task
        if task is None:
            return
        while not task.done():
            task.cancel()
            self._retry.set()
            await asyncio.wait({task}, timeout=0.5)
        await asyncio.gather(task, return_exceptions=True)
        self._task = None

    def wakeup(self) -> None:
        """Retry now (e.g. the master address just became known)."""
        self._retry.set()

    async def _run(self) -> None:
        delay = 0.0
        while not self._closed:
            if delay:
                self._retry.clear()
                try:
                    await asyncio.wait_for(self._retry.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            addr = self.master_address()
            if self._closed:
                return
            if not addr:
                delay = 1.0
                continue
            try:
                delay = await self._session(addr)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("HA client session with %s failed", addr)
                delay = RETRY_SECONDS
            finally:
                self.connected_to = None

    async def _session(self, addr: str) -> float:
        """One connection to the master; returns how long to wait before the next. As upstream:
        at once after losing an established stream, 5 s after a failed connect. A master that
        closes us before sending a byte (it is not the master yet, or refuses our secret) is
        tried again after a second, not hammered hundreds of times a second."""
        host, _, port = addr.rpartition(":")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port), ssl=self.ssl_context,
                                        server_hostname=host if self.ssl_context else None), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            log.info("HA client: cannot connect to master %s: %s", addr, exc)
            return RETRY_SECONDS
        log.info("HA client: connected to master %s, slave max offset %d", addr, self.store.get_max_phy_offset())
        self.connected_to = addr
        if self.on_confirm is not None:  # a new connection (maybe a new master): forget the old word
            self.on_confirm(-1)
        self.last_read = time.monotonic()
        heartbeat_task = asyncio.get_running_loop().create_task(self._heartbeat(writer, addr))
        self._streaming = False
        try:
            if self.config.haSharedSecret:
                challenge = await asyncio.wait_for(reader.readexactly(CHALLENGE_SIZE), CONNECT_TIMEOUT)
                writer.write(auth_proof(self.config.haSharedSecret, challenge))
            if self.local_broker_id is not None:
                await self._epoch_handshake(reader, writer)
            self.reported_offset = self.store.get_max_phy_offset()
            writer.write(encode_offset(self.reported_offset))
            await writer.drain()
            await self._read_loop(reader, writer)
        except (OSError, ProtocolError, SlaveError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            log.warning("HA client: connection to master %s closed: %s", addr, exc)
        finally:
            heartbeat_task.cancel()
            await asyncio.gather(heartbeat_task, return_exceptions=True)
            writer.close()
        return 0.0 if self._streaming else HANDSHAKE_RETRY_SECONDS

    async def _epoch_handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Controller mode: learn the master's epochs, cut the local log back to the last point
        both histories share (crash-safely, see store.truncation), then stream from there."""
        assert self.local_broker_id is not None
        writer.write(encode_slave_hello(self.local_broker_id()))
        await writer.drain()
        count = decode_master_epochs_head(await asyncio.wait_for(reader.readexactly(MASTER_EPOCHS_HEAD),
                                                                 CONNECT_TIMEOUT))
        tail = await asyncio.wait_for(reader.readexactly(master_epochs_tail_size(count)), CONNECT_TIMEOUT)
        entries, master_max = decode_master_epochs_tail(tail, count)
        self.master_epochs = [EpochEntry(epoch, start) for epoch, start in entries]
        store = self.store
        local = list(store.epoch_file.entries)
        local_max = store.get_max_phy_offset()
        point = find_consistent_point(local, local_max, self.master_epochs, master_max)
        if point < 0:
            if local_max > 0:
                log.error("HA client: no epoch in common with the master (local %s, master %s): dropping the "
                          "local commit log", local, self.master_epochs)
            point = 0
        point = min(point, local_max)
        if point < local_max:
            log.warning("HA client: local log diverges from the master's after offset %d (local max %d): "
                        "truncating", point, local_max)
            await store.truncate_files(point)
        else:
            store.epoch_file.truncate_suffix_by_offset(point)
        self._adopt_epochs(point)
        log.info("HA client: epochs agreed with the master up to offset %d (master max %d, epoch %d)", point,
                 master_max, self.master_epochs[-1].epoch if self.master_epochs else -1)

    def _adopt_epochs(self, upto: int) -> None:
        """Record the master's epochs that start at or before ``upto`` (data now held)."""
        epoch_file = self.store.epoch_file
        for entry in self.master_epochs:
            if entry.epoch > epoch_file.last_epoch() and entry.start_offset <= upto:
                epoch_file.append(entry.epoch, entry.start_offset)

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        blocks = BlockReader(with_confirm=self.local_broker_id is not None)
        watchdog = IdleWatchdog(self.config.haHousekeepingInterval / 1000, writer.transport.abort)
        try:
            await self._apply_blocks(reader, writer, blocks, watchdog)
        finally:
            watchdog.cancel()

    async def _apply_blocks(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, blocks: BlockReader,
                            watchdog: IdleWatchdog) -> None:
        store = self.store
        while True:
            data = await reader.read(READ_SIZE)
            if self._closed:  # a cancellation lost on the way (see shutdown): append nothing more
                raise SlaveError("HA client stopped")
            if not data:
                if watchdog.fired:
                    raise SlaveError(f"master silent for {self.config.haHousekeepingInterval} ms")
                raise SlaveError("master closed the connection")
            watchdog.touch()
            self.last_read = time.monotonic()
            self._streaming = True
            for offset, body in blocks.feed(data):
                slave_max = store.get_max_phy_offset()
                if slave_max != 0 and slave_max != offset:
                    raise SlaveError(f"master pushed offset {offset} but the slave's max offset is {slave_max}")
                if body and self.master_epochs:
                    self._adopt_epochs(offset + len(body))
                if body and not store.append_to_commit_log(offset, body):
                    raise SlaveError(f"cannot append {len(body)} bytes at {offset}")
            if blocks.confirm_offset >= 0 and self.on_confirm is not None:
                self.on_confirm(min(blocks.confirm_offset, store.get_max_phy_offset()))
            current = store.get_max_phy_offset()
            if current > self.reported_offset:
                self.reported_offset = current
                writer.write(encode_offset(current))
                await writer.drain()

    async def _heartbeat(self, writer: asyncio.StreamWriter, addr: str) -> None:
        interval = self.config.haSendHeartbeatInterval / 1000
        while True:
            await asyncio.sleep(interval)
            new_addr = self.master_address()
            if new_addr and new_addr != addr:
                log.info("HA client: master address changed %s -> %s", addr, new_addr)
                writer.close()
                return
            writer.write(encode_offset(self.reported_offset))
            await writer.drain()

    def runtime_info(self) -> dict[str, str]:
        return {"haMasterAddress": self.connected_to or "",
                "haSlaveReportedOffset": str(self.reported_offset)}
