"""In-process connections: a client and a server of the same process joined by memory, not a socket.

Owns ``MemoryTransport`` (the asyncio transport of one end: what it writes is handed to the other
end's protocol on the next loop turn, in order, and closing one end closes both) and ``join``,
which makes a connected pair of two protocols. Everything above the transport is unchanged: the
same frames are encoded and decoded, so guards, signatures, observers and server-initiated
requests (a transaction check-back) behave as over TCP. The local-mode proxy reaches its own
broker this way (upstream's local mode calls the broker in process, too), without the two
syscalls, two wake-ups and the loopback round trip of every request.
"""

from __future__ import annotations

import asyncio
from typing import Any

LOCAL_ADDRESS = ("127.0.0.1", 0)


class MemoryTransport(asyncio.Transport):
    """One end of an in-memory pair. Writes are copied (a frame may hold views of mapped files)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._peer: MemoryTransport | None = None
        self._closing = False
        self._lost = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name in ("peername", "sockname"):
            return LOCAL_ADDRESS
        return default  # no "socket": nothing to set options on

    def is_closing(self) -> bool:
        return self._closing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._peer is None:
            return
        self._loop.call_soon(self._peer._deliver, bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def _deliver(self, data: bytes) -> None:
        if not self._lost:
            self._protocol.data_received(data)  # type: ignore[attr-defined]

    def close(self) -> None:
        """Close both ends after what was written before (FIFO with the deliveries)."""
        if self._closing:
            return
        self._closing = True
        self._loop.call_soon(self._connection_lost)
        if self._peer is not None:
            self._peer.close()

    def abort(self) -> None:
        self.close()

    def _connection_lost(self) -> None:
        if not self._lost:
            self._lost = True
            self._protocol.connection_lost(None)

    # asyncio.Transport's flow control: an in-memory peer is always ready
    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return not self._closing

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False


def join(client: asyncio.Protocol, server: asyncio.Protocol) -> None:
    """Connect two protocols through memory; both see ``connection_made`` now."""
    loop = asyncio.get_running_loop()
    client_end, server_end = MemoryTransport(loop, client), MemoryTransport(loop, server)
    client_end._peer, server_end._peer = server_end, client_end
    server.connection_made(server_end)
    client.connection_made(client_end)
