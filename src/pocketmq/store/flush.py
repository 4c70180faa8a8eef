"""Flush services (upstream FlushRealTimeService, GroupCommitService, FlushConsumeQueueService).

Owns: when fsync happens. ASYNC_FLUSH: every ``flushIntervalCommitLog`` ms when at least
``flushCommitLogLeastPages`` pages are dirty, everything every ``flushCommitLogThoroughInterval``.
SYNC_FLUSH: group commit -- appends queue a request with their end offset; a flusher thread
fsyncs back to back while data arrives and each fsync answers every request it covers; a
request not covered within ``syncFlushTimeout`` is answered FLUSH_DISK_TIMEOUT. Consume queues
and the index are flushed every ``flushIntervalConsumeQueue`` ms; the checkpoint's logics/index
timestamps advance on their thorough flush.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from pocketmq.aio import resolve
from pocketmq.store.results import PutMessageStatus

if TYPE_CHECKING:
    from pocketmq.store.message_store import MessageStore

log = logging.getLogger(__name__)


class GroupCommitService:
    """SYNC_FLUSH group commit. A dedicated flusher thread fdatasyncs whatever the commit log
    holds, then at once again while appends keep arriving, so one fsync follows the previous
    one without a round trip through the event loop. The loop keeps the waiters (end offsets
    in append order) and answers, per finished fsync, every waiter it covers; waiters still
    unanswered after ``syncFlushTimeout`` get FLUSH_DISK_TIMEOUT."""

    def __init__(self, store: "MessageStore") -> None:
        self.store = store
        self._waiters: collections.deque[tuple[int, float, Callable[[PutMessageStatus], None]]] = collections.deque()
        self._flushed = store.flushed_where  # as last reported to the loop
        self._wake = threading.Event()
        self._stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._expiry: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="GroupCommitService", daemon=True)
        self._thread.start()

    async def wait_flushed(self, end_offset: int) -> PutMessageStatus:
        if self._flushed >= end_offset:
            return PutMessageStatus.PUT_OK
        assert self._loop is not None, "group commit not started"
        future: asyncio.Future[PutMessageStatus] = self._loop.create_future()
        self.call_when_flushed(end_offset, functools.partial(resolve, future))
        return await future

    def call_when_flushed(self, end_offset: int, answer: Callable[[PutMessageStatus], None]) -> None:
        """Call ``answer(status)`` on the loop once ``end_offset`` is flushed (PUT_OK, at once
        when it already is) or ``syncFlushTimeout`` has passed (FLUSH_DISK_TIMEOUT). The send
        path answers its request from here, without a coroutine waiting per send."""
        if self._flushed >= end_offset:
            answer(PutMessageStatus.PUT_OK)
            return
        assert self._loop is not None, "group commit not started"
        timeout = self.store.config.syncFlushTimeout / 1000
        self._waiters.append((end_offset, self._loop.time() + timeout, answer))
        if self._expiry is None:
            self._expiry = self._loop.call_later(timeout, self._expire)
        if not self._wake.is_set():  # the flusher reads the end offset after clearing the flag
            self._wake.set()

    def wakeup(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ flusher thread
    def _run(self) -> None:
        queue = self.store.commit_log.queue
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopped:
                return
            before = queue.flushed_where
            while queue.get_max_offset() > queue.flushed_where and not self._stopped:
                try:
                    flushed = self.store.flush_commit_log_until(queue.get_max_offset())
                except OSError:
                    log.exception("commit log fsync failed")
                    self._post(self._fail_all)
                    break
                self._post(self._answer, flushed)
                if flushed < queue.get_max_offset() and flushed <= before:
                    break  # no progress (a file not flushable yet): wait for the next wake-up
                before = flushed

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    # ------------------------------------------------------------------ event loop side
    def _answer(self, flushed: int) -> None:
        if flushed > self._flushed:
            self._flushed = flushed
        self._settle(PutMessageStatus.PUT_OK, lambda end_offset, _deadline: end_offset <= flushed)

    def _fail_all(self) -> None:
        self._settle(PutMessageStatus.FLUSH_DISK_TIMEOUT, lambda _end_offset, _deadline: True)

    def _expire(self) -> None:
        assert self._loop is not None
        self._expiry = None
        now = self._loop.time()
        self._settle(PutMessageStatus.FLUSH_DISK_TIMEOUT, lambda _end_offset, deadline: deadline <= now)
        if self._waiters:
            self._expiry = self._loop.call_at(self._waiters[0][1], self._expire)

    def _settle(self, status: PutMessageStatus, covered: Callable[[int, float], bool]) -> None:
        """Answer waiters from the oldest on while ``covered(end_offset, deadline)`` holds
        (waiters are in append order, so both offsets and deadlines only grow)."""
        waiters = self._waiters
        while waiters and covered(waiters[0][0], waiters[0][1]):
            answer = waiters.popleft()[2]
            try:
                answer(status)
            except Exception:  # one waiter's failure must not leave the others unanswered
                log.exception("answering a flushed put failed")

    async def stop(self) -> None:
        """Flush what is left, answer every waiter, end the thread."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        try:
            flushed = await asyncio.to_thread(self.store.flush_commit_log_until,
                                              self.store.commit_log.get_max_offset())
        except OSError:
            log.exception("commit log fsync failed")
            self._fail_all()
            return
        self._answer(flushed)
        self._fail_all()


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
