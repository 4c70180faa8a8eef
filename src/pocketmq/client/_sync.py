"""The event loop behind the synchronous facades: one daemon thread per process running one
asyncio loop (uvloop when installed), shared by every sync Producer/Consumer/Admin. Sync calls
submit a coroutine to it and wait for the result."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.new_event_loop()


def background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = _new_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="pocketmq-client-loop", daemon=True).start()
            ready.wait()
            _loop = loop
        return _loop


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    return asyncio.run_coroutine_threadsafe(coro, background_loop())


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the background loop and wait for it (must not be called from that loop)."""
    loop = background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError("a synchronous PocketMQ call was made from the client's own event loop; "
                           "use the Async* classes inside coroutines")
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)


def construct(factory: Any, *args: Any, **kwargs: Any) -> Any:
    """Build an async object on the background loop (so its asyncio primitives belong there)."""
    async def make() -> Any:
        return factory(*args, **kwargs)

    return run(make())
