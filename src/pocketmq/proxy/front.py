"""Plaintext and TLS on one gRPC port, as upstream's proxy (ProxyAndTlsProtocolNegotiator).

grpcio's server cannot look at a connection's first bytes, so when the endpoint has a TLS
certificate the public port belongs to this front instead: per connection it waits for the first
byte — 0x16, a TLS handshake record, starts a server-side TLS session (the standard library's
``ssl`` over memory BIOs, ``remoting.tls.TlsSession``, ALPN ``h2``); anything else (the HTTP/2
preface ``PRI * HTTP/2.0``) is plaintext, refused when ``tls.server.mode=enforcing`` — and then
relays the HTTP/2 bytes to the gRPC server listening on a loopback port only this process uses.

Before that first byte, as upstream, a PROXY protocol header (HAProxy v1 or v2, ``haproxy``) is
taken off and the client it names is the one messages are born at (white lists keep checking the
TCP peer: anyone may send such a header). The gRPC server then sees every client as 127.0.0.1 on
the relay's own port; ``PeerTable`` maps that port back to the client.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pocketmq.proxy import haproxy
from pocketmq.remoting.tls import ServerTls, TlsError, TlsSession

log = logging.getLogger("pocketmq.proxy")

# A connection that has not sent its first byte, or finished its TLS handshake, by then is closed
# (grpcio's own handshake timeout is of the same order).
HANDSHAKE_TIMEOUT_SECONDS = 30.0


class PeerTable:
    """Relay port on loopback -> the client ``host:port``: as a PROXY protocol header declares it
    (``real``: born hosts), and as connected (``connected``: the TCP peer, what white lists check,
    since anyone may send a PROXY header)."""

    def __init__(self) -> None:
        self._by_port: dict[int, tuple[str, str]] = {}

    def add(self, relay_port: int, client: str, connected: str | None = None) -> None:
        self._by_port[relay_port] = (client, connected or client)

    def remove(self, relay_port: int) -> None:
        self._by_port.pop(relay_port, None)

    def _entry(self, grpc_peer: str) -> tuple[str, str] | None:
        kind, _, rest = grpc_peer.partition(":")
        if kind != "ipv4" or not rest.startswith("127.0.0.1:"):
            return None
        port = rest.rpartition(":")[2]
        return self._by_port.get(int(port)) if port.isdigit() else None

    def real(self, grpc_peer: str) -> str | None:
        """The client behind a gRPC peer string (``ipv4:127.0.0.1:PORT``), if it came through us."""
        entry = self._entry(grpc_peer)
        return entry[0] if entry else None

    def connected(self, grpc_peer: str) -> str | None:
        """The TCP peer of the connection behind a gRPC peer string, if it came through us."""
        entry = self._entry(grpc_peer)
        return entry[1] if entry else None


def _host_port(peername: Any) -> str:
    if isinstance(peername, tuple) and len(peername) >= 2:
        host = peername[0]
        return f"[{host}]:{peername[1]}" if ":" in host else f"{host}:{peername[1]}"
    return ""


class _Upstream(asyncio.Protocol):
    """The relay's connection to the gRPC server: what it answers goes back to the client."""

    def __init__(self, client: "_ClientSide") -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.client.to_client(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()

    def pause_writing(self) -> None:
        self.client.pause_reading()

    def resume_writing(self) -> None:
        self.client.resume_reading()


class _ClientSide(asyncio.Protocol):
    """One client connection: sniffs the first byte, then relays (through TLS or not)."""

    def __init__(self, front: "GrpcFront") -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.tls: TlsSession | None = None
        self.decided = False
        self.upstream: _Upstream | None = None
        self.pending: list[bytes] = []  # plaintext for the gRPC server, until its connection is up
        self.relay_port = 0
        self.closed = False
        self.deadline: asyncio.TimerHandle | None = None
        self.sniffing: bytes | None = b""  # first bytes, until a PROXY protocol header is ruled out
        self.client = ""  # the real client: the TCP peer, or what a PROXY protocol header names

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.client = _host_port(transport.get_extra_info("peername"))
        self.front.connections.add(self)
        self.deadline = asyncio.get_running_loop().call_later(self.front.handshake_timeout, self._too_slow)

    def _too_slow(self) -> None:
        log.info("gRPC connection from %s closed: no handshake within %.1f s", self.client,
                 self.front.handshake_timeout)
        self.close()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self.sniffing is not None:
            data = self._past_proxy_header(data)
            if not data:
                return
        try:
            if not self.decided:
                self.decided = True
                if self.front.tls.wants_tls(data[0]):
                    assert self.front.tls.context is not None
                    self.tls = TlsSession(self.front.tls.context, server_side=True)
                asyncio.ensure_future(self._connect())
            plaintext = data
            if self.tls is not None:
                plaintext = self.tls.receive(data)
                self._flush_tls()
        except TlsError as exc:
            log.info("gRPC connection from %s closed: %s", self.client, exc)
            self.close()
            return
        if plaintext:
            if self.deadline is not None:  # plaintext flows: the handshake (if any) is done
                self.deadline.cancel()
                self.deadline = None
            self._to_server(plaintext)

    def _past_proxy_header(self, data: bytes) -> bytes:
        """The bytes after a PROXY protocol header (b"" while it is incomplete)."""
        assert self.sniffing is not None
        buffered = self.sniffing + data
        found = haproxy.detect(buffered)
        if found.state == haproxy.NEED_MORE:
            self.sniffing = buffered
            return b""
        self.sniffing = None
        if found.state == haproxy.BROKEN:
            log.info("gRPC connection from %s closed: a broken PROXY protocol header", self.client)
            self.close()
            return b""
        if found.state == haproxy.FOUND:
            self.client = found.client or self.client
            return buffered[found.length:]
        return buffered

    def _to_server(self, plaintext: bytes) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.write(plaintext)
        else:
            self.pending.append(plaintext)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.front.grpc_address
        try:
            transport, upstream = await loop.create_connection(lambda: _Upstream(self), host, port)
        except OSError as exc:
            log.warning("cannot reach the gRPC server at %s:%d: %s", host, port, exc)
            self.close()
            return
        if self.closed:
            transport.close()
            return
        self.upstream = upstream
        self.relay_port = transport.get_extra_info("sockname")[1]
        self.front.peers.add(self.relay_port, self.client, _host_port(self.transport.get_extra_info("peername")))
        pending, self.pending = self.pending, []
        for chunk in pending:
            transport.write(chunk)

    def to_client(self, data: bytes) -> None:
        if self.closed:
            return
        if self.tls is None:
            self.transport.write(data)
            return
        try:
            self.tls.send(data)
        except TlsError:
            self.close()
            return
        self._flush_tls()

    def _flush_tls(self) -> None:
        out = self.tls.outgoing() if self.tls is not None else b""
        if out:
            self.transport.write(out)

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()

    def eof_received(self) -> bool | None:
        return None  # a half-closed client is done: close both sides

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.deadline is not None:
            self.deadline.cancel()
        self.front.connections.discard(self)
        if self.relay_port:
            self.front.peers.remove(self.relay_port)
        if self.transport is not None:
            self.transport.close()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()


class GrpcFront:
    """The public listener in front of the gRPC server at ``grpc_address`` (loopback)."""

    def __init__(self, tls: ServerTls, grpc_address: tuple[str, int], host: str, port: int,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT_SECONDS) -> None:
        self.tls = tls
        self.handshake_timeout = handshake_timeout
        self.grpc_address = grpc_address
        self.host = host
        self.port = port
        self.peers = PeerTable()
        self.connections: set[_ClientSide] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _ClientSide(self), self.host, self.port,
                                                reuse_address=True)
        if not self.port:  # 0: a free port (tests)
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self.connections):
                connection.close()
            await self._server.wait_closed()
            self._server = None
