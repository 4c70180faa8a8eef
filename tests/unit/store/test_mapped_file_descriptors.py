"""A mapped file holds one file descriptor (the mapping's own) and is synced through its mapping:
with two per file, a broker with 2,000 topics of 8 queues ran out of a 20,000-descriptor limit."""

from __future__ import annotations

import os

import pytest

from pocketmq.store.mapped_file import MappedFile


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_mapped_files_hold_one_descriptor_each_and_none_once_closed(tmp_path):
    before = open_descriptors()
    files = [MappedFile(str(tmp_path / f"{i * 4096:020d}"), 4096) for i in range(64)]
    assert open_descriptors() - before == 64
    for mapped_file in files:
        mapped_file.close()
    assert open_descriptors() == before


def test_a_flush_syncs_what_was_written_and_a_closed_file_refuses_to_sync(tmp_path):
    path = tmp_path / f"{0:020d}"
    mapped_file = MappedFile(str(path), 4096)
    mapped_file.mm[0:5] = b"hello"
    mapped_file.wrote_position = 5
    assert mapped_file.flush(0) == 5 and mapped_file.flushed_position == 5
    assert path.read_bytes()[:5] == b"hello"
    mapped_file.close()
    with pytest.raises(OSError):
        mapped_file.sync()
