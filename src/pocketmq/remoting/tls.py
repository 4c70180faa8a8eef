"""TLS for remoting connections, sans IO: one ``TlsSession`` per connection wraps the standard
library's ``ssl.SSLObject`` over two ``MemoryBIO``s (no hand-written crypto). The transport feeds
it the bytes it receives and gets back the plaintext; what TLS needs to send (handshake records,
encrypted frames) waits in ``outgoing()``.

Server modes, as upstream's ``tls.server.mode``: ``disabled`` (plaintext only), ``permissive``
(the first byte of a connection decides: 0x16, a TLS handshake record, means TLS, anything else
plaintext, on the same port) and ``enforcing`` (TLS only: a plaintext connection is closed).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

DISABLED = "disabled"
PERMISSIVE = "permissive"
ENFORCING = "enforcing"
MODES = (DISABLED, PERMISSIVE, ENFORCING)
HANDSHAKE_RECORD = 0x16


class TlsError(Exception):
    """The peer's TLS bytes are not acceptable (bad handshake, bad record, plaintext where TLS
    is enforced): the connection is to be closed."""


@dataclass(frozen=True)
class ServerTls:
    """What a remoting server does with a new connection's first byte."""

    mode: str
    context: ssl.SSLContext | None

    def wants_tls(self, first_byte: int) -> bool:
        """True: start a TLS session; False: plaintext. Raises TlsError when plaintext is refused."""
        if first_byte == HANDSHAKE_RECORD and self.context is not None and self.mode != DISABLED:
            return True
        if self.mode == ENFORCING:
            raise TlsError("plaintext connection refused: tls.server.mode=enforcing")
        return False


class TlsSession:
    """One TLS connection's state; ``server_side`` as ``ssl.SSLContext.wrap_bio``."""

    def __init__(self, context: ssl.SSLContext, server_side: bool) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side)
        self._pending_plaintext: list[bytes] = []
        self.handshake_done = False

    def receive(self, data: bytes) -> bytes:
        """Feed received bytes; returns the plaintext they carried (possibly empty)."""
        self._incoming.write(data)
        if not self.handshake_done and not self._handshake():
            return b""
        chunks = []
        while True:
            try:
                chunk = self._obj.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # the peer's close_notify: it closes the socket next
                break
            except (ssl.SSLError, ValueError) as exc:
                raise TlsError(f"TLS error: {exc}") from None
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _handshake(self) -> bool:
        try:
            self._obj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except (ssl.SSLError, ValueError) as exc:
            raise TlsError(f"TLS handshake failed: {exc}") from None
        self.handshake_done = True
        pending, self._pending_plaintext = self._pending_plaintext, []
        for chunk in pending:
            self.send(chunk)
        return True

    def send(self, plaintext: bytes) -> None:
        """Encrypt ``plaintext`` (held back until the handshake is done)."""
        if not self.handshake_done:
            self._pending_plaintext.append(plaintext)
            return
        try:
            self._obj.write(plaintext)
        except ssl.SSLError as exc:
            raise TlsError(f"TLS error: {exc}") from None

    def outgoing(self) -> bytes:
        """The bytes TLS wants sent now (handshake or encrypted records)."""
        return self._outgoing.read()
