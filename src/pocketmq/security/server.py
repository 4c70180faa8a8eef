"""Plain ACL on a remoting server: the guard that checks every request before its handler
(upstream's ACL RPC hook) and the poll that reloads plain_acl.yml when it changes.

    acl = ServerAcl.for_home(config.rocketmqHome)
    acl.install(dispatcher, fast_dispatcher)
    task = loop.create_task(acl.watch())
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Awaitable, Callable

from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import RemotingCommand
from pocketmq.remoting.transport import Connection, Dispatcher, RequestDenied
from pocketmq.security.credentials import default_home
from pocketmq.security.plain_acl import AclDenied, PlainAcl, acl_file_path

log = logging.getLogger("pocketmq.security")

# Upstream's AclFileWatchService looks every 5 s; once a second makes a change apply sooner.
WATCH_INTERVAL_SECONDS = 1.0


class ServerAcl:
    def __init__(self, acl: PlainAcl) -> None:
        self.acl = acl

    @classmethod
    def for_home(cls, rocketmq_home: str) -> "ServerAcl":
        path = acl_file_path(default_home(rocketmq_home))
        log.info("plain ACL enabled, rules from %s", path)
        return cls(PlainAcl(os.path.abspath(path)))

    def install(self, *dispatchers: Dispatcher) -> None:
        for dispatcher in dispatchers:
            dispatcher.guards.append(self.guard)

    def guard(self, request: RemotingCommand, connection: Connection) -> None:
        try:
            self.acl.check(request, connection.remote_address)
        except AclDenied as denied:
            log.info("ACL refused request code %s from %s: %s", request.code, connection.remote_address,
                     denied.message)
            raise RequestDenied(ResponseCode.SYSTEM_ERROR, denied.remark) from None

    async def watch(self, interval: float = WATCH_INTERVAL_SECONDS,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Reload the file whenever its content changes (``sleep`` is injectable for tests)."""
        while True:
            await sleep(interval)
            try:
                self.acl.reload_if_changed()
            except Exception:  # never let the watch die: the old rules stay in force
                log.exception("ACL reload failed")
