"""Plain ACL on a remoting server: the guard that checks every request before its handler
(upstream's ACL RPC hook) and the poll that reloads plain_acl.yml when it changes.

    acl = ServerAcl.for_home(config.rocketmqHome)
    acl.install(dispatcher, fast_dispatcher)
    task = loop.create_task(acl.watch())
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from typing import Awaitable, Callable

from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import RemotingCommand
from pocketmq.remoting.transport import Connection, Dispatcher, RequestDenied
from pocketmq.security import permission
from pocketmq.security.credentials import SessionCredentials, default_home
from pocketmq.security.plain_acl import AclDenied, PlainAcl, acl_file_path, no_resources
from pocketmq.security.signing import sign_request

log = logging.getLogger("pocketmq.security")

# Upstream's AclFileWatchService looks every 5 s; once a second makes a change apply sooner.
WATCH_INTERVAL_SECONDS = 1.0


def request_signer(access_key: str, secret_key: str) -> Callable[[RemotingCommand], None] | None:
    """What a server process signs its own outgoing requests with (a broker's registrations,
    a slave's sync); None when no account is configured."""
    if not access_key or not secret_key:
        return None
    return functools.partial(sign_request, credentials=SessionCredentials(access_key, secret_key))


class ServerAcl:
    def __init__(self, acl: PlainAcl) -> None:
        self.acl = acl

    @classmethod
    def for_home(cls, rocketmq_home: str) -> "ServerAcl":
        """A broker's ACL (upstream's): rules from ${rocketmqHome}/conf/plain_acl.yml."""
        path = acl_file_path(default_home(rocketmq_home))
        log.info("plain ACL enabled, rules from %s", path)
        return cls(PlainAcl(os.path.abspath(path), admin_codes=permission.BROKER_ADMIN_CODES))

    @classmethod
    def for_namesrv(cls, rocketmq_home: str) -> "ServerAcl":
        """A name server's ACL (PocketMQ's addition): the same file and signatures; changing
        requests need an admin account, queries a valid signature."""
        path = acl_file_path(default_home(rocketmq_home))
        log.info("name server ACL enabled, rules from %s", path)
        return cls(PlainAcl(os.path.abspath(path), no_resources, permission.NAMESRV_ADMIN_CODES))

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
