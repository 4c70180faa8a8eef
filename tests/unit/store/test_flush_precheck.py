"""MappedFileQueue.may_flush, the consume-queue flusher's cheap skip: it must never skip a queue
that flush() would have flushed, in any position of the written and flushed offsets."""

from __future__ import annotations

import pytest

from pocketmq.store.mapped_file import OS_PAGE_SIZE, MappedFileQueue

FILE_SIZE = 6 * OS_PAGE_SIZE + 1000  # not a page multiple, as a consume-queue file (6,000,000 bytes)


def queue_at(tmp_path, written: int, flushed: int) -> MappedFileQueue:
    """A queue whose files hold ``written`` bytes, flushed up to ``flushed``."""
    queue = MappedFileQueue(str(tmp_path), FILE_SIZE)
    while queue.get_max_offset() < written:
        mapped = queue.get_last_mapped_file()
        mapped.wrote_position = min(FILE_SIZE, written - mapped.file_from_offset)
    for mapped in queue.files:
        mapped.flushed_position = max(0, min(mapped.wrote_position, flushed - mapped.file_from_offset))
    queue.flushed_where = flushed
    return queue


POSITIONS = [
    (0, 0), (100, 0), (OS_PAGE_SIZE - 1, 0), (OS_PAGE_SIZE, 0), (2 * OS_PAGE_SIZE, 0),
    (2 * OS_PAGE_SIZE + 10, OS_PAGE_SIZE - 10), (3 * OS_PAGE_SIZE, OS_PAGE_SIZE + 5),
    (FILE_SIZE, FILE_SIZE - 20), (FILE_SIZE, FILE_SIZE), (FILE_SIZE + 100, FILE_SIZE - 100),
    (FILE_SIZE + 100, FILE_SIZE), (2 * FILE_SIZE + 3 * OS_PAGE_SIZE, FILE_SIZE + 50),
]


@pytest.mark.parametrize("least_pages", [0, 1, 2, 4])
@pytest.mark.parametrize("written,flushed", POSITIONS)
def test_a_skipped_queue_is_one_flush_would_not_have_flushed(tmp_path, written, flushed, least_pages):
    queue = queue_at(tmp_path, written, flushed)
    skipped = not queue.may_flush(least_pages)
    before = queue.flushed_where
    for _ in range(len(queue.files) + 1):
        if queue.flush(least_pages):
            break
    if skipped:
        assert queue.flushed_where == before
    queue.close()


def test_the_usual_idle_queue_is_skipped(tmp_path):
    queue = queue_at(tmp_path, OS_PAGE_SIZE + 200, 100)  # one page touched since the last flush
    assert not queue.may_flush(2)
    assert queue.may_flush(1) and queue.may_flush(0)
    queue.close()
    assert not MappedFileQueue(str(tmp_path / "empty"), FILE_SIZE).may_flush(0)
