"""Fixtures for interop tests: a real Apache RocketMQ 4.9 cluster (one per test module) and
unique topic/group names. The official clients are run through ``clients.py``.

    def test_x(apache_cluster, unique):
        topic = unique("T")
        run_java_driver(["admin", "create-topic", "--topic", topic], namesrv=apache_cluster.namesrv_addr)
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apache import ApacheCluster, InteropSetupMissing, apache_cluster as _apache_cluster, java_classpath  # noqa: E402
from clients import go_driver_path  # noqa: E402


@pytest.fixture(scope="session")
def interop_ready() -> None:
    """Fails (does not skip) when tests/interop/setup.sh has not been run."""
    try:
        java_classpath()
        go_driver_path()
    except InteropSetupMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def apache_cluster(interop_ready: None) -> Iterator[ApacheCluster]:
    """A real Apache RocketMQ name server + master broker (DefaultCluster/broker-a) shared by
    the tests of one module; the JVMs are killed when the module is done."""
    with _apache_cluster() as cluster:
        yield cluster


_counter = itertools.count()


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """unique("T") -> "T_<test name>_<pid>_<n>": topic/group names no other test shares."""
    base = "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]

    def make(prefix: str) -> str:
        return f"{prefix}_{base}_{os.getpid()}_{next(_counter)}_{int(time.time()) % 100000}"

    return make
