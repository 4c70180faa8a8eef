"""Fixtures for client tests against a real Apache RocketMQ 4.9 cluster (tests/interop/apache.py)."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "interop"))

from apache import ApacheCluster, InteropSetupMissing, apache_cluster as _apache_cluster, java_classpath  # noqa: E402

# A fast transaction check-back so the check-back test finishes in seconds, not minutes.
BROKER_CONFIG = {"transactionCheckInterval": 1000, "transactionTimeOut": 1000}


@pytest.fixture(scope="module")
def apache(request: pytest.FixtureRequest) -> Iterator[ApacheCluster]:
    try:
        java_classpath()
    except InteropSetupMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with _apache_cluster(**BROKER_CONFIG) as cluster:
        yield cluster


_counter = itertools.count()


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> Callable[[str], str]:
    base = "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]

    def make(prefix: str) -> str:
        return f"{prefix}_{base}_{os.getpid()}_{next(_counter)}"

    return make


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 50 ms; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def run(coro: Awaitable[Any], timeout: float = 120.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())
