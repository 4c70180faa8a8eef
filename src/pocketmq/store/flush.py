"""Flush services (upstream FlushRealTimeService, GroupCommitService, FlushConsumeQueueService).

Owns: when fsync happens. ASYNC_FLUSH: every ``flushIntervalCommitLog`` ms when at least
``flushCommitLogLeastPages`` pages are dirty, everything every ``flushCommitLogThoroughInterval``.
SYNC_FLUSH: group commit -- appends queue a request with their end offset; one fsync on a worker
thread answers every request it covers; a request not covered within ``syncFlushTimeout`` is
answered FLUSH_DISK_TIMEOUT. Consume queues and the index are flushed every
``flushIntervalConsumeQueue`` ms; the checkpoint's logics/index timestamps advance on their
thorough flush.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from pocketmq.store.results import PutMessageStatus

if TYPE_CHECKING:
    from pocketmq.store.message_store import MessageStore

log = logging.getLogger(__name__)


class GroupCommitService:
    def __init__(self, store: "MessageStore") -> None:
        self.store = store
        self._requests: list[tuple[int, asyncio.Future[PutMessageStatus]]] = []
        self._event = asyncio.Event()
        self._stopped = False

    async def wait_flushed(self, end_offset: int) -> PutMessageStatus:
        future: asyncio.Future[PutMessageStatus] = asyncio.get_running_loop().create_future()
        self._requests.append((end_offset, future))
        self._event.set()
        try:
            return await asyncio.wait_for(future, self.store.config.syncFlushTimeout / 1000)
        except asyncio.TimeoutError:
            return PutMessageStatus.FLUSH_DISK_TIMEOUT

    def wakeup(self) -> None:
        self._event.set()

    async def run(self) -> None:
        while not self._stopped:
            await self._event.wait()
            self._event.clear()
            await self.commit_once()

    async def commit_once(self) -> None:
        requests, self._requests = self._requests, []
        target = max((offset for offset, _ in requests), default=self.store.commit_log.get_max_offset())
        try:
            flushed = await asyncio.to_thread(self.store.flush_commit_log_until, target)
        except OSError:
            log.exception("commit log fsync failed")
            flushed = -1
        for offset, future in requests:
            if not future.done():
                future.set_result(PutMessageStatus.PUT_OK if flushed >= offset
                                  else PutMessageStatus.FLUSH_DISK_TIMEOUT)

    async def stop(self) -> None:
        self._stopped = True
        self._event.set()
        await self.commit_once()


async def _periodic_flush(store: "MessageStore", interval_ms: int, least_pages: int, thorough_ms: int,
                          flush: Callable[[int], Awaitable[Any]], what: str) -> None:
    """Every ``interval_ms``: flush when ``least_pages`` are dirty, everything every ``thorough_ms``."""
    last_thorough = time.monotonic()
    while store.running:
        await asyncio.sleep(interval_ms / 1000)
        least = least_pages
        now = time.monotonic()
        if (now - last_thorough) * 1000 >= thorough_ms:
            least = 0
            last_thorough = now
        try:
            await flush(least)
        except OSError:
            log.exception("%s flush failed", what)


async def async_flush_loop(store: "MessageStore") -> None:
    config = store.config
    await _periodic_flush(store, config.flushIntervalCommitLog, config.flushCommitLogLeastPages,
                          config.flushCommitLogThoroughInterval,
                          lambda least: asyncio.to_thread(store.flush_commit_log, least), "commit log")


async def consume_queue_flush_loop(store: "MessageStore") -> None:
    config = store.config
    await _periodic_flush(store, config.flushIntervalConsumeQueue, config.flushConsumeQueueLeastPages,
                          config.flushConsumeQueueThoroughInterval, store.flush_logics, "consume queue")
