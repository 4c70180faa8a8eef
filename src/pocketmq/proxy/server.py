"""The gRPC server of the endpoint: grpcio's asyncio server on the running event loop, serving
MessagingService on ``grpcServerPort`` (all interfaces, as upstream), plaintext."""

from __future__ import annotations

import logging

import grpc

from pocketmq.proxy.service import MessagingService
from pocketmq.proxy.stubs import pb_grpc

log = logging.getLogger("pocketmq.proxy")

# Upstream's gRPC server accepts messages up to 130 MB by default (grpcMaxInboundMessageSize);
# bodies are checked against maxMessageSize by the service itself, with an upstream status.
MAX_INBOUND_MESSAGE_SIZE = 130 * 1024 * 1024


class GrpcEndpoint:
    def __init__(self, service: MessagingService, port: int, host: str = "0.0.0.0") -> None:
        self.service = service
        self.host = host
        self.port = port
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", MAX_INBOUND_MESSAGE_SIZE),
            ("grpc.so_reuseport", 0),
        ])
        pb_grpc.add_MessagingServiceServicer_to_server(self.service, server)
        address = f"{self.host}:{self.port}"
        try:
            bound = server.add_insecure_port(address)
        except RuntimeError as exc:  # grpcio raises RuntimeError when it cannot bind
            raise OSError(f"cannot bind gRPC port {address}: {exc}") from None
        if bound == 0:
            raise OSError(f"cannot bind gRPC port {address}")
        await server.start()
        self._server = server
        log.info("gRPC endpoint listening on %s", address)

    async def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
