"""A running server collects its young generation every GC_YOUNG_THRESHOLD allocations, not
CPython's 700: requests that wait (SYNC_FLUSH, SYNC_MASTER, long polling) keep enough objects
alive across loop turns to run the collector every few requests otherwise."""

from __future__ import annotations

import gc
import subprocess
import sys

from pocketmq.process import GC_YOUNG_THRESHOLD

# A server whose start() schedules a look at the collector once the loop runs on, then stops.
PROBE = """
import asyncio, gc, os, signal
from pocketmq.process import run_server

async def start():
    print("during start", *gc.get_threshold(), flush=True)
    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: (print("serving", *gc.get_threshold(), flush=True), os.kill(os.getpid(), signal.SIGTERM)))

async def stop():
    pass

raise SystemExit(run_server(start, stop))
"""


def test_a_started_server_raises_the_young_threshold_and_keeps_the_older_ratios():
    default = gc.get_threshold()
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True,
                         timeout=60).stdout.splitlines()
    assert out == [f"during start {default[0]} {default[1]} {default[2]}",
                   f"serving {GC_YOUNG_THRESHOLD} {default[1]} {default[2]}"]
    assert GC_YOUNG_THRESHOLD > default[0]
