"""The /metrics endpoint: a small HTTP/1.1 server on the process's event loop that answers
``GET /metrics`` with ``prometheus_client``'s text exposition of one registry. Collecting runs
on the loop, so collectors read the broker's tables without locks; a bad peer gets a 400/404/405,
a slow one or one sending over 16 KB of headers is dropped, and never stops the process."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger("pocketmq.metrics")

MAX_HEADER_BYTES = 16 * 1024
READ_TIMEOUT = 10.0


def exporter_enabled(exporter_type: str) -> bool:
    """``metricsExporterType``: PROM serves /metrics; DISABLE (default) and anything else does not
    (OTLP_GRPC and LOG are upstream options PocketMQ does not have)."""
    return exporter_type.strip().upper() == "PROM"


class PromExporter:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.server: asyncio.base_events.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._serve, host or "0.0.0.0", port, reuse_address=True,
                                                 limit=MAX_HEADER_BYTES)
        log.info("Prometheus exporter listening on %s:%d", host or "0.0.0.0", self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            status, body, content_type = self._answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            writer.close()  # cut off, too long (over MAX_HEADER_BYTES) or too slow: dropped
            return
        except Exception:  # a collector failing must not kill the endpoint
            log.exception("metrics collection failed")
            status, body, content_type = "500 Internal Server Error", b"collection failed\n", "text/plain"
        try:
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _answer(self, head: bytes) -> tuple[str, bytes, str]:
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return "400 Bad Request", b"bad request line\n", "text/plain"
        method, target = parts[0], parts[1].split(b"?", 1)[0]
        if target not in (b"/metrics", b"/"):
            return "404 Not Found", b"try /metrics\n", "text/plain"
        if method != b"GET":
            return "405 Method Not Allowed", b"", "text/plain"
        return "200 OK", generate_latest(self.registry), CONTENT_TYPE_LATEST
