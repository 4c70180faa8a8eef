"""Whether a connection's answers are written by the writer thread (``_socket_writer.c``) or by
the event loop, and the handle for one that is.

The compiled extension is optional at install: without it, or with the thread turned off
(``enable(False)``, the broker's ``remotingWriterThread=false``), every connection writes through
its asyncio transport as before. Only plaintext TCP connections use the thread: TLS records are
made by the transport's session, and in-process connections have no socket."""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)


class SocketWriter(Protocol):
    """What the compiled SocketWriter offers (see _socket_writer.c)."""

    pending: int
    error: int
    closed: bool

    def write(self, buffers: list[Any]) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


try:
    from pocketmq.remoting._socket_writer import SocketWriter as _CompiledWriter
except ImportError:  # the extension was not built: the event loop writes
    _CompiledWriter = None

AVAILABLE = _CompiledWriter is not None
_enabled = AVAILABLE


def enable(on: bool) -> None:
    """Turns the writer thread on or off for connections whose first flush comes after this."""
    global _enabled
    _enabled = on and AVAILABLE


def enabled() -> bool:
    return _enabled


def writer_for(transport: Any) -> SocketWriter | None:
    if not _enabled or transport.get_extra_info("sslcontext") is not None \
            or transport.get_extra_info("ssl_object") is not None:
        return None
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (2, 10):  # AF_INET, AF_INET6
        return None
    try:
        return _CompiledWriter(sock.fileno())  # type: ignore[misc]
    except OSError as exc:
        log.warning("writing through the event loop, the writer thread refused the socket: %s", exc)
        return None
