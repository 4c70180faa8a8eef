"""The store process's remoting workers (``serverWorkerProcesses``): it binds the main port, hands
the listening socket to that many worker processes (broker.remoting_worker) and serves their link
(broker.worker_link) on a private Unix socket; a worker that dies is started again.

The store process itself never accepts on the main port while workers serve it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import socket
import sys
from typing import Callable

from pocketmq.remoting.transport import Connection, RemotingServer
from pocketmq.broker import worker_link as link

log = logging.getLogger("pocketmq.broker")

READY_SECONDS = 30.0
STOP_SECONDS = 5.0
BIND_RETRY_SECONDS = 3.0  # workers of a store process killed just now may still hold the port


class RemotingWorkers:
    def __init__(self, count: int, link_server: RemotingServer, worker_args: Callable[[], list[str]],
                 token: str | None = None) -> None:
        self.count = count
        self.link_server = link_server
        self.worker_args = worker_args  # the worker's settings, as command-line arguments
        self.token = token or secrets.token_hex(16)
        self.listen_socket: socket.socket | None = None
        self.link_name = ""
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._ready: dict[int, Connection] = {}
        self._ready_changed = asyncio.Event()
        self._stopping = False
        self._watchers: list[asyncio.Task[None]] = []

    @property
    def port(self) -> int:
        assert self.listen_socket is not None
        return self.listen_socket.getsockname()[1]

    def worker_said_hello(self, pid: int, connection: Connection) -> None:
        """A worker's control connection is up: it serves the port from now on."""
        self._ready[pid] = connection
        self._ready_changed.set()

    async def start(self, host: str, port: int) -> None:
        self.listen_socket = await _bind(host, port)
        self.link_name = f"pocketmq-broker-{os.getpid()}-{self.port}-{secrets.token_hex(4)}"
        link_socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        link_socket.bind("\0" + self.link_name)
        link_socket.listen(1024)
        link_socket.setblocking(False)
        await self.link_server.start_on_socket(link_socket)
        for _ in range(self.count):
            await self._spawn()
        await self._wait_ready()
        log.info("%d remoting worker(s) serve port %d", self.count, self.port)

    async def _spawn(self) -> None:
        assert self.listen_socket is not None
        fd = self.listen_socket.fileno()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pocketmq.broker.remoting_worker", "--listen-fd", str(fd),
            "--link", "@" + self.link_name, *self.worker_args(), pass_fds=(fd,),
            env={**os.environ, link.TOKEN_ENV: self.token})
        self._processes[process.pid] = process
        self._watchers.append(asyncio.get_running_loop().create_task(self._watch(process)))

    async def _wait_ready(self) -> None:
        async def all_ready() -> None:
            while not all(pid in self._ready for pid in self._processes):
                self._ready_changed.clear()
                await self._ready_changed.wait()
        try:
            await asyncio.wait_for(all_ready(), READY_SECONDS)
        except asyncio.TimeoutError:
            raise OSError(f"remoting workers not ready in {READY_SECONDS:.0f} s") from None

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        self._processes.pop(process.pid, None)
        self._ready.pop(process.pid, None)
        if self._stopping:
            return
        log.error("remoting worker %d exited with %s; starting another", process.pid, code)
        await asyncio.sleep(0.5)
        if not self._stopping:
            await self._spawn()

    async def stop(self) -> None:
        """Workers first (no new clients), then the port; the link server is closed by its owner."""
        self._stopping = True
        processes = list(self._processes.values())
        for process in processes:
            if process.returncode is None:
                process.terminate()
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), STOP_SECONDS)
        except asyncio.TimeoutError:
            for process in processes:
                if process.returncode is None:
                    process.kill()
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        if self.listen_socket is not None:
            self.listen_socket.close()
            self.listen_socket = None


async def _bind(host: str, port: int) -> socket.socket:
    deadline = asyncio.get_running_loop().time() + BIND_RETRY_SECONDS
    while True:
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.create_server((host, port), family=family, backlog=1024)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.1)
