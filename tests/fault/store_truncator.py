"""Truncator subprocess for tests/fault/test_truncation_crash.py: opens a store (finishing any
truncation a kill interrupted), then truncates it to TARGET. Prints ``STEP name`` after every
step of the truncation; when the step counter reaches KILL_AT it SIGKILLs itself right there
(-1: never). Steps are counted across the start-up redo and the new truncation alike.

usage: store_truncator.py ROOT TARGET KILL_AT
"""

import asyncio
import os
import signal
import sys

from pocketmq.store.message_store import MessageStore

sys.path.insert(0, os.path.dirname(__file__))
from store_writer import config  # noqa: E402


async def main() -> None:
    root, target, kill_at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    steps = 0

    def hook(name: str) -> None:
        nonlocal steps
        sys.stdout.write(f"STEP {steps} {name}\n")
        sys.stdout.flush()
        if steps == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        steps += 1

    store = MessageStore(config(root, "ASYNC_FLUSH"), ("127.0.0.1", 10911))
    store.truncation_hook = hook
    await store.start()
    await store.truncate_files(target)
    sys.stdout.write(f"DONE {store.get_max_phy_offset()}\n")
    sys.stdout.flush()
    await store.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
