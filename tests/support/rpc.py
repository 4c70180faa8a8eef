"""Synchronous one-shot remoting calls for tests (each call opens and closes a connection)."""

from __future__ import annotations

import asyncio

from pocketmq.remoting.command import RemotingCommand, make_request
from pocketmq.remoting.transport import RemotingClient


def call(addr: str, code: int, fields: dict[str, str] | None = None, body: bytes | None = None,
         timeout: float = 5.0) -> RemotingCommand:
    async def main() -> RemotingCommand:
        client = RemotingClient()
        try:
            return await client.invoke(addr, make_request(code, fields, body), timeout)
        finally:
            await client.close()

    return asyncio.run(main())


class RpcSession:
    """Persistent connections (as a real broker keeps to its name servers), driven from sync
    test code through an event loop running in a background thread."""

    def __init__(self) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.client = self._run(self._make_client())

    @staticmethod
    async def _make_client() -> RemotingClient:
        return RemotingClient()

    def _run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, addr: str, code: int, fields: dict[str, str] | None = None, body: bytes | None = None,
             timeout: float = 5.0) -> RemotingCommand:
        return self._run(self.client.invoke(addr, make_request(code, fields, body), timeout))

    def close(self) -> None:
        self._run(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def __enter__(self) -> "RpcSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
