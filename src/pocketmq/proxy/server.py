"""The gRPC server of the endpoint: grpcio's asyncio server on the running event loop, serving
MessagingService on ``grpcServerPort`` (all interfaces, as upstream).

Without a TLS certificate (or with ``tls.server.mode=disabled``) grpcio listens on that port
itself, plaintext. With one, plaintext and TLS share the port as upstream: ``front.GrpcFront``
takes the port, sniffs each connection's first byte and relays to grpcio on a loopback port.
Every call first passes ``guard.RequestGuard`` (namespaces, and the ``authorization`` header
when ACL is on)."""

from __future__ import annotations

import logging

import grpc

from pocketmq.proxy.front import GrpcFront, PeerTable
from pocketmq.proxy.guard import RequestGuard
from pocketmq.proxy.service import MessagingService
from pocketmq.proxy.stubs import pb_grpc
from pocketmq.remoting.tls import DISABLED, ENFORCING, ServerTls

log = logging.getLogger("pocketmq.proxy")

# Upstream's gRPC server accepts messages up to 130 MB by default (grpcMaxInboundMessageSize);
# bodies are checked against maxMessageSize by the service itself, with an upstream status.
MAX_INBOUND_MESSAGE_SIZE = 130 * 1024 * 1024


def needs_front(tls: ServerTls | None) -> bool:
    """A front is needed when TLS can be spoken (or plaintext must be refused)."""
    if tls is None or tls.mode == DISABLED:
        return False
    return tls.context is not None or tls.mode == ENFORCING


class GrpcEndpoint:
    def __init__(self, service: MessagingService, port: int, host: str = "0.0.0.0",
                 tls: ServerTls | None = None, guard: RequestGuard | None = None) -> None:
        self.service = service
        self.host = host
        self.port = port
        self.tls = tls
        self.guard = guard or RequestGuard()
        self.front: GrpcFront | None = None
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        peers = PeerTable() if needs_front(self.tls) else None
        self.guard.peers = peers
        self.service.peers = peers
        server = grpc.aio.server(interceptors=[self.guard], options=[
            ("grpc.max_receive_message_length", MAX_INBOUND_MESSAGE_SIZE),
            ("grpc.so_reuseport", 0),
        ])
        pb_grpc.add_MessagingServiceServicer_to_server(self.service, server)
        address = f"{self.host}:{self.port}" if peers is None else "127.0.0.1:0"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as exc:  # grpcio raises RuntimeError when it cannot bind
            raise OSError(f"cannot bind gRPC port {address}: {exc}") from None
        if bound == 0:
            raise OSError(f"cannot bind gRPC port {address}")
        await server.start()
        self._server = server
        if peers is not None:
            assert self.tls is not None
            self.front = GrpcFront(self.tls, ("127.0.0.1", bound), self.host, self.port)
            self.front.peers = peers
            await self.front.start()
            log.info("gRPC endpoint listening on %s:%d, plaintext and TLS (tls.server.mode=%s)",
                     self.host, self.port, self.tls.mode)
        else:
            log.info("gRPC endpoint listening on %s, plaintext", address)

    async def stop(self, grace: float = 1.0) -> None:
        if self.front is not None:
            await self.front.stop()
            self.front = None
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
