"""Small JSON state files written safely, as upstream's ConfigManager and MixAll.string2File do:
new content to ``<file>.tmp`` (fsynced), the previous content kept as ``<file>.bak``, then an
atomic rename. Loading falls back to the .bak file when the main one is missing or unreadable.
``BackgroundFile`` does those writes on a thread of their own, so an fsync never holds up the
event loop, and tells a caller that must wait when its content is on disk."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import shutil
from typing import Any, Callable

log = logging.getLogger("pocketmq.persist")


def write_file_safely(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if os.path.exists(path):
        shutil.copyfile(path, path + ".bak")
    os.replace(tmp, path)


def load_json_file(path: str, parse: Callable[[bytes], Any]) -> Any | None:
    """Parse ``path`` (or its .bak when the main file is missing or corrupt); None when neither is usable."""
    for candidate in (path, path + ".bak"):
        try:
            with open(candidate, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            continue
        if not data.strip():
            continue
        try:
            return parse(data)
        except ValueError as exc:
            log.warning("cannot parse %s: %s", candidate, exc)
    return None


_WRITER: concurrent.futures.ThreadPoolExecutor | None = None


def _writer() -> concurrent.futures.ThreadPoolExecutor:
    """One thread per process for state-file writes: they are rare, and one at a time keeps a
    file's versions in order."""
    global _WRITER
    if _WRITER is None:
        _WRITER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="StateFileWriter")
    return _WRITER


class BackgroundFile:
    """A state file written safely off the event loop (upstream writes these from its own
    threads, not its network threads). ``write`` takes the new content and returns a future
    that is done once a write of that content, or of newer content, reached the disk: the
    caller that must not answer before then awaits it. While a write is running, later
    contents wait and only the newest is written. Without a running loop the write is done
    at once, as before."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._pending: bytes | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._running: concurrent.futures.Future[None] | None = None
        self._latest: asyncio.Future[None] | None = None

    def write(self, data: bytes) -> asyncio.Future[None] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            write_file_safely(self.path, data)
            return None
        self._pending = data
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._latest = waiter
        if self._running is None:
            self._start(loop)
        return waiter

    @property
    def pending(self) -> asyncio.Future[None] | None:
        """The future of the newest content, while it is not on disk yet; else None."""
        latest = self._latest
        return latest if latest is not None and not latest.done() else None

    def flush(self) -> None:
        """Block until the running write ended, then write what is pending (shutdown)."""
        running, self._running = self._running, None
        if running is not None:
            try:
                running.result()
            except OSError:
                pass  # reported to its waiters by its own done callback
        data, waiters = self._pending, self._waiters
        self._pending, self._waiters = None, []
        if data is not None:
            write_file_safely(self.path, data)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        data, waiters = self._pending, self._waiters
        self._pending, self._waiters = None, []
        assert data is not None
        running = _writer().submit(write_file_safely, self.path, data)
        self._running = running

        def ended(_: concurrent.futures.Future[None]) -> None:
            try:
                loop.call_soon_threadsafe(self._ended, running, waiters, loop)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

        running.add_done_callback(ended)

    def _ended(self, running: concurrent.futures.Future[None], waiters: list[asyncio.Future[None]],
               loop: asyncio.AbstractEventLoop) -> None:
        failure = running.exception()
        if failure is not None:
            log.error("cannot write %s: %s", self.path, failure)
        for waiter in waiters:
            if waiter.done():
                continue
            if failure is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(failure)
                waiter.exception()  # logged above; a waiter that awaits it still gets it
        if self._running is running:
            self._running = None
            if self._pending is not None:
                self._start(loop)
