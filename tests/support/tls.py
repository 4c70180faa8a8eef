"""TLS test helpers: a throwaway self-signed certificate made with the openssl command line,
and the server config keys that point a PocketMQ process at it."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_cert(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem), self-signed for localhost and 127.0.0.1 (so that clients which check
    the server, as gRPC's own do, can trust it as their root), valid one day."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def tls_args(mode: str, cert: Path, key: Path) -> dict[str, str]:
    """--key=value overrides for mqnamesrv/mqbroker."""
    return {"tls.server.mode": mode, "tls.server.certPath": str(cert), "tls.server.keyPath": str(key)}


def tls_call(addr: str, code: int, fields: dict[str, str] | None = None, body: bytes | None = None,
             timeout: float = 10.0):  # noqa: ANN201
    """One request over TLS (server certificate not checked, as upstream's default client)."""
    import asyncio

    from pocketmq.remoting.command import make_request
    from pocketmq.remoting.transport import RemotingClient
    from pocketmq.security.tls import insecure_client_context

    async def main():  # noqa: ANN202
        client = RemotingClient(ssl_context=insecure_client_context())
        try:
            return await client.invoke(addr, make_request(code, fields, body), timeout)
        finally:
            await client.close()

    return asyncio.run(main())
