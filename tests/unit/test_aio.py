"""The small asyncio helpers: stopping tasks that swallow a cancellation, a one-waiter wakeup
with a timeout, and an idle watchdog."""

from __future__ import annotations

import asyncio

from pocketmq.aio import IdleWatchdog, Wakeup, cancel_and_wait


def test_cancel_and_wait_stops_a_task_that_swallowed_one_cancellation() -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass  # as a 3.11 wait_for may do when its inner call completes at the same moment
        await asyncio.sleep(30)

    async def main() -> bool:
        task = asyncio.create_task(stubborn())
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_and_wait([task]), 5)
        return task.done()

    assert asyncio.run(main())


def test_wakeup_wait_returns_on_set_or_timeout() -> None:
    async def main() -> tuple[bool, bool, bool]:
        wakeup = Wakeup()
        timed_out = await wakeup.wait(0.01)
        asyncio.get_running_loop().call_soon(wakeup.set)
        woken = await wakeup.wait(5)
        already = await wakeup.wait(0)  # stays set until cleared, as an Event
        return timed_out, woken, already

    assert asyncio.run(main()) == (False, True, True)


def test_idle_watchdog_fires_only_after_silence() -> None:
    async def main() -> tuple[bool, bool]:
        fired = asyncio.Event()
        watchdog = IdleWatchdog(0.2, fired.set)
        for _ in range(5):  # touched every 0.05 s: never idle for 0.2 s
            await asyncio.sleep(0.05)
            watchdog.touch()
        early = fired.is_set()
        await asyncio.wait_for(fired.wait(), 5)
        watchdog.cancel()
        return early, watchdog.fired

    assert asyncio.run(main()) == (False, True)
