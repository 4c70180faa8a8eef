"""ACL test helpers: a plain_acl.yml written into a server's home, and one-shot requests signed
with given credentials (or not), sent from a chosen loopback source address (127.0.0.x), so
white lists can be exercised on one machine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pocketmq.remoting.command import RemotingCommand, make_request
from pocketmq.remoting.transport import Connection, Dispatcher
from pocketmq.security.credentials import SessionCredentials
from pocketmq.security.signing import sign_request


def write_acl(home: Path, text: str) -> Path:
    """Write ``home/conf/plain_acl.yml`` (upstream's place under ROCKETMQ_HOME)."""
    path = home / "conf" / "plain_acl.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def signed_call(addr: str, code: int, fields: dict[str, str] | None = None, body: bytes | None = None,
                credentials: SessionCredentials | None = None, source_ip: str = "127.0.0.1",
                timeout: float = 10.0, mutate=None) -> RemotingCommand:  # noqa: ANN001
    """One request on a fresh connection from ``source_ip``; ``mutate(request)`` runs after
    signing (to tamper with a signed request)."""
    request = make_request(code, dict(fields) if fields is not None else None, body)
    if credentials is not None:
        sign_request(request, credentials)
    if mutate is not None:
        mutate(request)

    async def main() -> RemotingCommand:
        host, _, port = addr.rpartition(":")
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(lambda: Connection(Dispatcher()), host, int(port),
                                                     local_addr=(source_ip, 0))
        try:
            return await connection.invoke(request, timeout)
        finally:
            connection.close()

    return asyncio.run(main())
