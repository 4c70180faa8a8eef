"""Small asyncio helpers every room may use."""

from __future__ import annotations

import asyncio
from typing import Iterable


async def cancel_and_wait(tasks: Iterable["asyncio.Task[object]"]) -> None:
    """Cancel every task, then wait until each has finished (its cancellation is not an error)."""
    pending = [task for task in tasks if task is not None]
    for task in pending:
        task.cancel()
    for task in pending:
        try:
            await task
        except asyncio.CancelledError:
            pass
