"""Small asyncio helpers every room may use."""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable

log = logging.getLogger("pocketmq")


async def cancel_and_wait(tasks: Iterable["asyncio.Task[object]"]) -> None:
    """Cancel every task, then wait until each has finished (its cancellation is not an error).

    A task is cancelled again while it lives: on Python 3.11 ``asyncio.wait_for`` can swallow a
    cancellation that lands as its inner call completes, and a periodic loop would then go on
    forever and hang the shutdown."""
    every = [task for task in tasks if task is not None]
    pending = {task for task in every if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
    for task in every:
        if not task.cancelled() and task.exception() is not None:
            log.warning("task %s ended with %r while stopping", task.get_name(), task.exception())


# asyncio.wait_for wraps what it waits on in a Task and arms a timer for every call; on paths
# that wait once per message (replication acks, HA reads) that was a large share of the work.

class Wakeup:
    """An ``asyncio.Event`` for one waiter whose ``wait`` takes a timeout without a Task."""

    def __init__(self) -> None:
        self._flag = False
        self._waiter: asyncio.Future[bool] | None = None

    def set(self) -> None:
        self._flag = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def clear(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    async def wait(self, timeout: float | None = None) -> bool:
        """True once set, False when ``timeout`` seconds passed first."""
        if self._flag:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, resolve, waiter, False)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def resolve(future: "asyncio.Future[object]", value: object) -> None:
    """Set ``future``'s result unless it is already done (a timer callback)."""
    if not future.done():
        future.set_result(value)


class IdleWatchdog:
    """Calls ``on_idle`` once ``touch`` has not been called for ``timeout`` seconds. Touching is
    one clock read; the single timer re-arms itself only when it fires early."""

    def __init__(self, timeout: float, on_idle: Callable[[], object]) -> None:
        self.timeout = timeout
        self.on_idle = on_idle
        self.fired = False
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        self._timer = self._loop.call_later(timeout, self._check)

    def touch(self) -> None:
        self._last = self._loop.time()

    def _check(self) -> None:
        deadline = self._last + self.timeout
        if self._loop.time() >= deadline:
            self.fired = True
            self.on_idle()
        else:
            self._timer = self._loop.call_at(deadline, self._check)

    def cancel(self) -> None:
        self._timer.cancel()
