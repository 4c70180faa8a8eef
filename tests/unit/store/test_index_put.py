"""An index entry has two writers: the compiled one (pocketmq._speedups.index_put), used on every
put, and its pure-Python twin. From the same file they write the same bytes (entry, header, hash
slot) and say the same about the slot, across slot collisions, a clock stepped back, time
differences past 2^31 seconds and hashes at Java's Integer.MIN_VALUE; and the keys they wrote are
found again by the reader."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pocketmq import _speedups  # built by `make venv`; the product falls back without it, the tests do not
from pocketmq.protocol import message as m
from pocketmq.store import index
from pocketmq.store.index import HEADER, IndexFile, index_put_py

WRITERS = [pytest.param(index_put_py, id="python"), pytest.param(_speedups.index_put, id="compiled")]
SLOTS, ENTRIES = 7, 64
BEGIN = 1_764_547_200_000  # 2025-12-01T00:00:00Z


def fresh_buffer(begin: int) -> bytearray:
    buffer = bytearray(index.INDEX_HEADER_SIZE + SLOTS * index.HASH_SLOT_SIZE + ENTRIES * index.INDEX_SIZE)
    HEADER.pack_into(buffer, 0, begin, begin, 0, 0, 0, 1)  # as IndexFile makes a new file
    return buffer


def test_the_compiled_writer_is_in_use() -> None:
    assert index.index_put is _speedups.index_put


@pytest.mark.parametrize("begin", [0, BEGIN])
def test_compiled_and_python_write_the_same_bytes(begin: int) -> None:
    rng = random.Random(begin)
    python, compiled = fresh_buffer(begin), fresh_buffer(begin)
    # A key whose Java hash is Integer.MIN_VALUE (its abs does not fit: upstream uses 0).
    min_hash_key = "polygenelubricants"
    assert m.java_string_hash(min_hash_key) == -2**31
    keys = [f"Topic#{rng.randrange(20)}" for _ in range(ENTRIES - 2)] + [min_hash_key]
    for count, key in enumerate(keys, start=1):
        phy = rng.randrange(2**40)
        timestamp = rng.choice([BEGIN + rng.randrange(10**6), BEGIN - 5_000,  # the clock stepped back
                                BEGIN + 2**31 * 1000 + 5_000, BEGIN + 999, -1])
        answers = [writer(buffer, SLOTS, count, key, phy, timestamp)
                   for writer, buffer in ((index_put_py, python), (_speedups.index_put, compiled))]
        assert answers[0] == answers[1]
        assert python == compiled, f"entry {count} ({key!r})"


@pytest.mark.parametrize("writer", WRITERS)
def test_written_keys_are_found_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer) -> None:
    monkeypatch.setattr(index, "index_put", writer)
    f = IndexFile(str(tmp_path / "20251201000000000"), SLOTS, ENTRIES, end_phy_offset=100, end_timestamp=BEGIN)
    for i in range(40):
        assert f.put_key(f"T#k{i % 10}", 100 + i, BEGIN + i * 1000)
    assert (f.index_count, f.end_phy_offset, f.end_timestamp) == (41, 139, BEGIN + 39_000)
    assert HEADER.unpack_from(f.mm, 0) == (f.begin_timestamp, f.end_timestamp, f.begin_phy_offset,
                                           f.end_phy_offset, f.hash_slot_count, f.index_count)
    found: list[int] = []
    f.select_phy_offsets(found, "T#k3", 32, BEGIN, BEGIN + 10**6)
    assert sorted(found) == [103, 113, 123, 133]
    f.destroy()


@pytest.mark.parametrize("writer", WRITERS)
def test_a_full_file_takes_no_more_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer) -> None:
    monkeypatch.setattr(index, "index_put", writer)
    f = IndexFile(str(tmp_path / "20251201000000000"), SLOTS, 4, end_timestamp=BEGIN)
    assert [f.put_key(f"T#{i}", i, BEGIN) for i in range(4)] == [True, True, True, False]
    f.destroy()


def test_the_compiled_writer_refuses_an_entry_outside_the_buffer() -> None:
    with pytest.raises(ValueError, match="outside the buffer"):
        _speedups.index_put(fresh_buffer(BEGIN), SLOTS, ENTRIES, "T#k", 1, BEGIN)
    with pytest.raises(BufferError):
        _speedups.index_put(bytes(fresh_buffer(BEGIN)), SLOTS, 1, "T#k", 1, BEGIN)
