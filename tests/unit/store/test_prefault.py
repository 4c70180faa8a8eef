"""The commit log's pages ahead of the write position are faulted in by the allocator's worker
thread, so the event loop's first touch of a page no longer zero-fills it (and its readahead
window) inside the page fault. Read faults: nothing extra becomes dirty or goes to disk."""

from __future__ import annotations

from pathlib import Path

from pocketmq.store import mapped_file
from pocketmq.store.commit_log import CommitLog
from pocketmq.store.mapped_file import PREFAULT_WINDOW, Allocator, MappedFile

from tests.support.smaps import mapping_bytes

from .helpers import HOST, msg, small_config

FILE_SIZE = 32 * 1024 * 1024


def settle(allocator: Allocator) -> None:
    allocator.submit(lambda: None).result(timeout=30)  # the worker runs jobs in order


def test_writes_fault_in_the_next_window_on_the_worker_readable_and_clean(tmp_path: Path) -> None:
    allocator = Allocator()
    log = CommitLog(small_config(tmp_path, mappedFileSizeCommitLog=FILE_SIZE), HOST, allocator)
    try:
        log.append_message(msg(), 1, b"")
        settle(allocator)
        [mf] = log.queue.files
        path = Path(mf.path)
        assert mf.prefaulted_to == PREFAULT_WINDOW
        assert mapping_bytes(path, "Rss") >= PREFAULT_WINDOW  # resident before anything is written there
        assert mapping_bytes(path, "Private_Dirty") + mapping_bytes(path, "Shared_Dirty") <= 4096

        while mf.prefaulted_to == PREFAULT_WINDOW and mf.wrote_position < PREFAULT_WINDOW:
            asked_at = mf.wrote_position
            log.append_message(msg(body=b"y" * 4000), 1, b"")
        assert PREFAULT_WINDOW // 2 <= asked_at < PREFAULT_WINDOW // 2 + 4200  # the writer asks halfway in
        settle(allocator)
        assert mf.prefaulted_to == PREFAULT_WINDOW + PREFAULT_WINDOW
        assert mapping_bytes(path, "Rss") >= 2 * PREFAULT_WINDOW
    finally:
        log.queue.close()
        allocator.shutdown()


def test_the_last_window_stops_at_the_end_of_the_file(tmp_path: Path) -> None:
    allocator = Allocator()
    log = CommitLog(small_config(tmp_path, mappedFileSizeCommitLog=FILE_SIZE), HOST, allocator)
    try:
        log.append_message(msg(), 1, b"")
        [mf] = log.queue.files
        mf.wrote_position = FILE_SIZE - PREFAULT_WINDOW // 4
        log.queue.prefault_ahead(mf)
        settle(allocator)
        assert mf.prefaulted_to == FILE_SIZE
        assert mf.prefault_mark > FILE_SIZE  # never asks again for this file
    finally:
        log.queue.close()
        allocator.shutdown()


def test_a_kernel_that_refuses_is_not_asked_again(tmp_path: Path, monkeypatch) -> None:
    allocator = Allocator()
    mf = MappedFile(str(tmp_path / "00000000000000000000"), FILE_SIZE)
    try:
        # an unaligned start is refused with EINVAL, as a kernel without MADV_POPULATE_READ does
        allocator.prefault(mf, 1, PREFAULT_WINDOW)
        settle(allocator)
        assert not allocator.prefault_supported
        calls: list[tuple[int, int]] = []
        monkeypatch.setattr(mapped_file.MappedFile, "prefault", lambda self, start, end: calls.append((start, end)))
        allocator.prefault(mf, 0, PREFAULT_WINDOW)
        settle(allocator)
        assert calls == []
    finally:
        mf.close()
        allocator.shutdown()


def test_a_closed_file_is_not_faulted_in_and_does_not_turn_prefaulting_off(tmp_path: Path) -> None:
    allocator = Allocator()
    mf = MappedFile(str(tmp_path / "00000000000000000000"), FILE_SIZE)
    mf.close()
    try:
        allocator.prefault(mf, 0, PREFAULT_WINDOW)
        settle(allocator)
        assert allocator.prefault_supported
    finally:
        allocator.shutdown()
