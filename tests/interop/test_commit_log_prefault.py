"""A real broker faults in its commit log's pages ahead of the writer, on a worker thread, as the
official Java client sends: the 8 MiB after the write position are resident in the broker
process before anything is written there, and stay clean (read faults write nothing to disk)."""

from __future__ import annotations

import pytest

from clients import run_java_driver, sends  # type: ignore[import-not-found]
from pocketmq.store.mapped_file import PREFAULT_WINDOW
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.smaps import mapping_bytes

pytestmark = pytest.mark.interop

FILE_SIZE = 4 * PREFAULT_WINDOW


def test_java_sends_leave_the_next_window_resident_and_clean(tmp_path, unique, interop_ready):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr, extra={"mappedFileSizeCommitLog": FILE_SIZE})
    try:
        topic = unique("T")
        results = sends(run_java_driver(["produce", "--topic", topic, "--count", "10"], namesrv=namesrv.addr))
        assert [r["status"] for r in results] == ["SEND_OK"] * 10
        commit_log = broker.store_root / "commitlog" / f"{0:020d}"
        wait_until(lambda: mapping_bytes(commit_log, "Rss", broker.proc.pid) >= PREFAULT_WINDOW,
                   timeout=30, message="the first window resident in the broker")
        dirty = (mapping_bytes(commit_log, "Shared_Dirty", broker.proc.pid)
                 + mapping_bytes(commit_log, "Private_Dirty", broker.proc.pid))
        assert dirty <= 64 * 1024  # the pages written, not the window
    finally:
        broker.kill()
        namesrv.kill()
