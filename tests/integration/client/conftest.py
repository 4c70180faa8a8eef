"""Fixtures for client tests: every test runs against a real Apache RocketMQ 4.9.7 cluster
(tests/interop/apache.py), a real Apache RocketMQ 5.3.3 cluster (tests/interop/apache5.py) and
real PocketMQ processes (tests/support/processes.py)."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "interop"))

from apache import InteropSetupMissing, apache_cluster as _apache_cluster, java_classpath  # noqa: E402
from apache5 import apache5_cluster, classpath5  # noqa: E402

from tests.support.processes import Broker, Namesrv, start_broker, start_namesrv  # noqa: E402

# A fast transaction check-back so the check-back test finishes in seconds, not minutes.
BROKER_CONFIG = {"transactionCheckInterval": 1000, "transactionTimeOut": 1000}


@dataclass
class PocketCluster:
    """The same shape as ApacheCluster, for PocketMQ's own name server and broker."""

    namesrv: Namesrv
    brokers: list[Broker]

    @property
    def namesrv_addr(self) -> str:
        return self.namesrv.addr

    @property
    def broker(self) -> Broker:
        return self.brokers[0]


@pytest.fixture(scope="module", params=["apache", "apache5", "pocketmq"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        java_classpath()
        classpath5()
    except InteropSetupMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    if request.param == "apache":
        with _apache_cluster(**BROKER_CONFIG) as apache:
            yield apache
        return
    if request.param == "apache5":
        # 5.x batches its transaction op records (transactionOpBatchInterval, 3 s): with our 1 s
        # check-back a committed half message would be checked (and committed) again before its
        # op record is written.
        with apache5_cluster(**BROKER_CONFIG, transactionOpBatchInterval=100) as apache5:
            yield apache5
        return
    home = tmp_path_factory.mktemp("pocketmq")
    namesrv = start_namesrv(home / "ns")
    broker = start_broker(home / "broker", namesrv.addr, extra=BROKER_CONFIG)
    try:
        yield PocketCluster(namesrv, [broker])
    finally:
        broker.kill()
        namesrv.kill()


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
