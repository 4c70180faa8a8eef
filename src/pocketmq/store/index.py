"""The message index (upstream IndexFile, IndexHeader, IndexService).

Owns: index files under ``index/`` named by creation time ``yyyyMMddHHmmssSSS``; layout:
a 40-byte header (beginTimestamp, endTimestamp, beginPhyOffset, endPhyOffset, hashSlotCount,
indexCount), ``maxHashSlotNum`` int32 slots (newest entry number per slot), then ``maxIndexNum``
20-byte entries (keyHash, commit-log offset, time diff in seconds, previous entry number).
Keys are ``topic#UNIQ_KEY`` and ``topic#key`` for each space-separated KEYS value.

Time: a file is named by the local time of its first store timestamp (never earlier than the
previous file's end, so a clock stepped back does not go back in names); files are ordered by
their header's offsets, not by name, because local names repeat an hour when DST ends. An
entry's time is whole seconds after the file's begin timestamp as an int32, clamped to
[0, 2^31 - 1] as upstream: 68 years per file, and a message stored "before" the file began (the
clock stepped back) reads as the file's begin.
"""

from __future__ import annotations

import datetime
import logging
import mmap
import os
import struct

from pocketmq.clock import local_datetime
from pocketmq.protocol import message as m
from pocketmq.store.mapped_file import RANDOM_ACCESS, MappedFile

log = logging.getLogger(__name__)

INDEX_HEADER_SIZE = 40
HASH_SLOT_SIZE = 4
INDEX_SIZE = 20
INVALID_INDEX = 0
HEADER = struct.Struct(">qqqqii")
ENTRY = struct.Struct(">iqii")
SLOT = struct.Struct(">i")


def index_key_hash(key: str) -> int:
    value = abs(m.java_string_hash(key))
    return 0 if value > 0x7FFFFFFF else value


def index_put_py(mm: bytearray | mmap.mmap, hash_slot_num: int, index_count: int, key: str, phy_offset: int,
                 store_timestamp: int) -> bool:
    """Write entry number ``index_count`` for ``key`` into an index file's buffer and update its
    header and the key's hash slot; True when that slot was empty. The header in the buffer is
    the truth read here (``IndexFile`` keeps the same values as attributes)."""
    key_hash = index_key_hash(key)
    abs_slot = INDEX_HEADER_SIZE + (key_hash % hash_slot_num) * HASH_SLOT_SIZE
    begin_timestamp, _, begin_phy_offset, _, hash_slot_count, _ = HEADER.unpack_from(mm, 0)
    slot_value = SLOT.unpack_from(mm, abs_slot)[0]
    slot_was_empty = slot_value <= INVALID_INDEX or slot_value > index_count
    if slot_was_empty:
        slot_value = INVALID_INDEX
        hash_slot_count += 1
    diff = 0 if begin_timestamp <= 0 else (store_timestamp - begin_timestamp) // 1000
    diff = min(max(diff, 0), 0x7FFFFFFF)
    abs_index = INDEX_HEADER_SIZE + hash_slot_num * HASH_SLOT_SIZE + index_count * INDEX_SIZE
    if index_count <= 1:
        begin_timestamp, begin_phy_offset = store_timestamp, phy_offset
    # Entry, then header, then slot: a process killed between any two leaves every slot
    # pointing below the header's count, so no chain ever runs through an entry a later
    # put overwrites (at worst this key is unreachable, and recovery indexes it again).
    ENTRY.pack_into(mm, abs_index, key_hash, phy_offset, diff, slot_value)
    HEADER.pack_into(mm, 0, begin_timestamp, store_timestamp, begin_phy_offset, phy_offset, hash_slot_count,
                     index_count + 1)
    SLOT.pack_into(mm, abs_slot, index_count)
    return slot_was_empty


try:  # compiled (pocketmq/_speedups.c): the same bytes in one call
    from pocketmq._speedups import index_put as index_put
except ImportError:  # pragma: no cover - the extension is optional at install
    index_put = index_put_py


class IndexFile:
    def __init__(self, path: str, hash_slot_num: int, index_num: int,
                 end_phy_offset: int = 0, end_timestamp: int = 0) -> None:
        self.hash_slot_num = hash_slot_num
        self.index_num = index_num
        size = INDEX_HEADER_SIZE + hash_slot_num * HASH_SLOT_SIZE + index_num * INDEX_SIZE
        self.file = _RawMappedFile(path, size)
        self.mm = self.file.mm
        self.file_name = os.path.basename(path)
        self._read_header()
        if self.index_count <= 0:
            self.index_count = 1
            self.begin_phy_offset = self.end_phy_offset = end_phy_offset
            self.begin_timestamp = self.end_timestamp = end_timestamp
            self._write_header()

    def _read_header(self) -> None:
        (self.begin_timestamp, self.end_timestamp, self.begin_phy_offset, self.end_phy_offset,
         self.hash_slot_count, self.index_count) = HEADER.unpack_from(self.mm, 0)

    def _write_header(self) -> None:
        HEADER.pack_into(self.mm, 0, self.begin_timestamp, self.end_timestamp, self.begin_phy_offset,
                         self.end_phy_offset, self.hash_slot_count, self.index_count)

    def is_full(self) -> bool:
        return self.index_count >= self.index_num

    def put_key(self, key: str, phy_offset: int, store_timestamp: int) -> bool:
        if self.index_count >= self.index_num:
            return False
        index_put(self.mm, self.hash_slot_num, self.index_count, key, phy_offset, store_timestamp)
        self._read_header()  # the writer keeps the header; the attributes follow it
        return True

    def is_time_matched(self, begin: int, end: int) -> bool:
        return (self.begin_timestamp <= begin <= self.end_timestamp
                or self.begin_timestamp <= end <= self.end_timestamp
                or (begin <= self.begin_timestamp and end >= self.end_timestamp))

    def select_phy_offsets(self, result: list[int], key: str, max_num: int, begin: int, end: int) -> None:
        key_hash = index_key_hash(key)
        abs_slot = INDEX_HEADER_SIZE + (key_hash % self.hash_slot_num) * HASH_SLOT_SIZE
        slot_value = SLOT.unpack_from(self.mm, abs_slot)[0]
        if slot_value <= INVALID_INDEX or slot_value > self.index_count or self.index_count <= 1:
            return
        next_index = slot_value
        for _ in range(self.index_num):
            if len(result) >= max_num:
                return
            abs_index = INDEX_HEADER_SIZE + self.hash_slot_num * HASH_SLOT_SIZE + next_index * INDEX_SIZE
            hash_read, phy_read, diff_read, prev = ENTRY.unpack_from(self.mm, abs_index)
            if diff_read < 0:
                return
            time_read = self.begin_timestamp + diff_read * 1000
            if hash_read == key_hash and begin <= time_read <= end:
                result.append(phy_read)
            if prev <= INVALID_INDEX or prev > self.index_count or prev == next_index or time_read < begin:
                return
            next_index = prev

    def flush(self) -> None:
        self.file.sync()

    def destroy(self) -> None:
        self.file.destroy()


class _RawMappedFile(MappedFile):
    """A mapped file whose name is not an offset."""

    def __init__(self, path: str, size: int) -> None:  # noqa: D401 - same fields as MappedFile
        self.path = path
        self.file_name = os.path.basename(path)
        self.file_size = size
        self.file_from_offset = 0
        self._map(RANDOM_ACCESS)  # hash slots are written and read all over the file
        self.wrote_position = self.flushed_position = size
        self.store_timestamp = 0
        self.first_create_in_queue = False
        self.available = True


class IndexService:
    def __init__(self, store_root: str, hash_slot_num: int, index_num: int) -> None:
        self.dir = os.path.join(store_root, "index")
        self.hash_slot_num = hash_slot_num
        self.index_num = index_num
        self.files: list[IndexFile] = []
        # After an abnormal exit: the lowest commit-log offset whose keys load() dropped.
        self.rebuild_from_offset: int | None = None

    def load(self, last_exit_ok: bool, checkpoint_index_timestamp: int) -> None:
        if not os.path.isdir(self.dir):
            return
        for name in sorted(os.listdir(self.dir)):
            path = os.path.join(self.dir, name)
            expected = INDEX_HEADER_SIZE + self.hash_slot_num * HASH_SLOT_SIZE + self.index_num * INDEX_SIZE
            if os.path.getsize(path) != expected:
                log.warning("index file %s has the wrong size; removed", path)
                os.unlink(path)
                continue
            f = IndexFile(path, self.hash_slot_num, self.index_num)
            if not last_exit_ok and f.end_timestamp > checkpoint_index_timestamp:
                # Not known to be whole: dropped, and recovery must index again everything it
                # held, from its first offset on (not only what came after the checkpoint).
                begin = f.begin_phy_offset
                self.rebuild_from_offset = begin if self.rebuild_from_offset is None \
                    else min(self.rebuild_from_offset, begin)
                f.destroy()
                continue
            self.files.append(f)
        # Names are local times: an hour that DST repeats (or a clock stepped back) can make a
        # newer file's name sort first. The header's offsets give the true order.
        self.files.sort(key=lambda f: (f.end_phy_offset, not f.is_full(), f.file_name))

    def _last_file(self, timestamp_ms: int) -> IndexFile:
        if self.files and not self.files[-1].is_full():
            return self.files[-1]
        end_phy, end_ts = 0, 0
        if self.files:
            end_phy, end_ts = self.files[-1].end_phy_offset, self.files[-1].end_timestamp
        os.makedirs(self.dir, exist_ok=True)
        when = local_datetime(max(timestamp_ms, end_ts))
        while True:
            name = when.strftime("%Y%m%d%H%M%S") + f"{when.microsecond // 1000:03d}"
            path = os.path.join(self.dir, name)
            if not os.path.exists(path):
                break
            when += datetime.timedelta(milliseconds=1)
        f = IndexFile(path, self.hash_slot_num, self.index_num, end_phy, end_ts)
        self.files.append(f)
        return f

    def build_index(self, topic: str, keys: str | None, uniq_key: str | None, phy_offset: int,
                    store_timestamp: int, sys_flag: int) -> None:
        if sys_flag & m.TRANSACTION_TYPE_MASK == m.TRANSACTION_ROLLBACK_TYPE:
            return
        f = self._last_file(store_timestamp)
        if phy_offset < f.end_phy_offset:
            return  # indexed before a crash; re-dispatch in recovery must not index it twice
        # The message the index ended at may have been cut short by a crash: its keys are put
        # again (a key already there is answered once: queries drop repeated offsets).
        if uniq_key:
            f = self._put(f, topic + "#" + uniq_key, phy_offset, store_timestamp)
        if keys:
            for key in keys.split(m.KEY_SEPARATOR):
                if key:
                    f = self._put(f, topic + "#" + key, phy_offset, store_timestamp)

    def _put(self, f: IndexFile, key: str, phy_offset: int, store_timestamp: int) -> IndexFile:
        if not f.put_key(key, phy_offset, store_timestamp):
            f = self._last_file(store_timestamp)
            f.put_key(key, phy_offset, store_timestamp)
        return f

    def query_offsets(self, topic: str, key: str, max_num: int, begin: int, end: int
                      ) -> tuple[list[int], int, int]:
        """Physical offsets (newest file first), plus last update timestamp and phy offset."""
        result: list[int] = []
        last_ts, last_phy = 0, 0
        full_key = topic + "#" + key
        for i, f in enumerate(reversed(self.files)):
            if i == 0:
                last_ts, last_phy = f.end_timestamp, f.end_phy_offset
            if f.is_time_matched(begin, end):
                f.select_phy_offsets(result, full_key, max_num, begin, end)
                result = list(dict.fromkeys(result))  # a key put again after a crash: once
            if f.begin_timestamp < begin or len(result) >= max_num:
                break
        return result, last_ts, last_phy

    def delete_expired(self, min_phy_offset: int) -> list[IndexFile]:
        """Index files (never the last) whose entries all point below ``min_phy_offset``."""
        victims = [f for f in self.files[:-1] if f.end_phy_offset < min_phy_offset]
        self.files = [f for f in self.files if f not in victims]
        return victims

    def last_update(self) -> tuple[int, int]:
        if not self.files:
            return 0, 0
        return self.files[-1].end_timestamp, self.files[-1].end_phy_offset

    def flush_last(self) -> int:
        """fsync the newest files (a just-filled one too); returns its end timestamp (worker thread)."""
        if not self.files:
            return 0
        files = self.files[-2:]
        ts = files[-1].end_timestamp
        for f in files:
            f.flush()
        return ts

    def destroy(self) -> None:
        for f in self.files:
            f.destroy()
        self.files = []

    def close(self) -> None:
        for f in self.files:
            f.file.close()
