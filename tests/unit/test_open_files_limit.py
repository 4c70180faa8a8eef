"""Servers lift their soft open-files limit to the hard one at start, as upstream's JVM does: a
broker maps one file per consume queue."""

from __future__ import annotations

import resource
import subprocess
import sys

PROBE = "from pocketmq.process import raise_open_files_limit; print(*raise_open_files_limit())"


def test_a_low_soft_limit_is_lifted_to_the_hard_one():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)

    def lower_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    out = subprocess.run([sys.executable, "-c", PROBE], preexec_fn=lower_soft_limit, check=True,
                         capture_output=True, text=True).stdout.split()
    expected = hard if hard != resource.RLIM_INFINITY else low
    assert [int(x) for x in out] == [expected, hard]
