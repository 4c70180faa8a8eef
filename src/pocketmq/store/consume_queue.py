"""Consume queues (upstream ConsumeQueue): per topic and queue id, 20-byte units of
(commit-log offset int64, size int32, tagsCode int64) in files of ``mappedFileSizeConsumeQueue``
bytes named by their start byte offset. Logical offset N lives at byte N*20.

Owns: writing units (skipping duplicates, padding gaps), recovery of the write position,
truncation beyond the commit log's end, min-offset correction after retention, and lookups.
"""

from __future__ import annotations

import logging
import os
import struct
from typing import Callable

from pocketmq.store.mapped_file import RANDOM_ACCESS, MappedFile, MappedFileQueue

log = logging.getLogger(__name__)

CQ_STORE_UNIT_SIZE = 20
UNIT = struct.Struct(">qiq")
_BLANK_UNIT = UNIT.pack(0, 0x7FFFFFFF, 0)


class ConsumeQueue:
    def __init__(self, topic: str, queue_id: int, root_dir: str, mapped_file_size: int) -> None:
        self.topic = topic
        self.queue_id = queue_id
        self.file_size = mapped_file_size - mapped_file_size % CQ_STORE_UNIT_SIZE
        self.queue = MappedFileQueue(os.path.join(root_dir, topic, str(queue_id)), self.file_size,
                                     advice=RANDOM_ACCESS)
        self.max_physic_offset = -1
        self.min_logic_offset = 0

    # ------------------------------------------------------------ load and recovery
    def load(self) -> None:
        self.queue.load()

    def recover(self) -> None:
        """Find the write position: units are valid while offset >= 0 and size > 0."""
        files = self.queue.files
        if not files:
            return
        index = max(0, len(files) - 3)
        process_offset = files[index].file_from_offset
        max_phy = -1
        while index < len(files):
            mf = files[index]
            pos = 0
            mm = mf.mm
            while pos + CQ_STORE_UNIT_SIZE <= self.file_size:
                offset, size, _tags = UNIT.unpack_from(mm, pos)
                if offset >= 0 and size > 0:
                    pos += CQ_STORE_UNIT_SIZE
                    if size != 0x7FFFFFFF:
                        max_phy = offset + size
                else:
                    break
            process_offset = mf.file_from_offset + pos
            if pos < self.file_size:
                break
            index += 1
        self.max_physic_offset = max_phy
        self._truncate_positions(process_offset)

    def _truncate_positions(self, logic_end: int) -> None:
        """Set positions so the queue ends at byte ``logic_end``; zero stale units after it."""
        keep: list[MappedFile] = []
        victims: list[MappedFile] = []
        for mf in self.queue.files:
            if mf.file_from_offset > logic_end or (mf.file_from_offset == logic_end and keep):
                victims.append(mf)
                continue
            pos = logic_end - mf.file_from_offset
            if pos < self.file_size:
                self._zero_after(mf, pos)
                mf.wrote_position = pos
                mf.flushed_position = min(mf.flushed_position, pos)
            keep.append(mf)
        with self.queue.lock:
            self.queue.files = keep
        for mf in reversed(victims):  # newest first: a kill never leaves a hole
            mf.destroy()
        self.queue.flushed_where = logic_end

    @staticmethod
    def _zero_after(mf: MappedFile, pos: int) -> None:
        end = pos
        while end + CQ_STORE_UNIT_SIZE <= mf.file_size and mf.view[end : end + CQ_STORE_UNIT_SIZE] != bytes(CQ_STORE_UNIT_SIZE):
            end += CQ_STORE_UNIT_SIZE
        if end > pos:
            mf.mm[pos:end] = bytes(end - pos)

    def truncate_dirty_logic_files(self, phy_offset: int) -> None:
        """Drop units pointing at or beyond ``phy_offset`` (consume queues never point past the
        commit log)."""
        max_offset = self.get_max_offset_in_queue()
        logic = max_offset
        while logic > self.get_min_offset_in_queue():
            unit = self.get_unit(logic - 1)
            if unit is None or unit[0] + unit[1] <= phy_offset or unit[1] == 0x7FFFFFFF:
                break
            logic -= 1
        if logic == max_offset:
            return
        self._truncate_positions(logic * CQ_STORE_UNIT_SIZE)
        self.max_physic_offset = -1
        if logic > 0:
            unit = self.get_unit(logic - 1)
            if unit is not None:
                self.max_physic_offset = unit[0] + unit[1]

    # ------------------------------------------------------------ write
    def writable_file(self, cq_offset: int) -> MappedFile | None:
        """The file the unit for ``cq_offset`` goes into, created when the queue has none or its
        last is full (the queue's first file blank-filled up to that unit). The store asks for it
        before it writes a message's commit-log entry, so a file that cannot be created (no
        descriptors, no space) raises OSError while nothing is written yet."""
        if self.needs_new_file():
            expect = cq_offset * CQ_STORE_UNIT_SIZE
            mf = self.queue.get_last_mapped_file(expect)
            if mf is None:
                return None
            if mf.first_create_in_queue and cq_offset != 0 and mf.wrote_position == 0:
                self.min_logic_offset = expect
                self.queue.flushed_where = expect
                self._fill_blank(mf, expect - mf.file_from_offset)
        else:
            mf = self.queue.files[-1]
        return mf

    def needs_new_file(self) -> bool:
        """Whether the next unit needs a file created first: none yet, or the last is full."""
        files = self.queue.files
        return not files or files[-1].wrote_position >= self.file_size

    def put(self, offset: int, size: int, tags_code: int, cq_offset: int) -> bool:
        """Append the unit for logical offset ``cq_offset``; a repeat is ignored."""
        if offset + size <= self.max_physic_offset:
            return True
        expect = cq_offset * CQ_STORE_UNIT_SIZE
        mf = self.writable_file(cq_offset)
        if mf is None:
            return False
        current = mf.file_from_offset + mf.wrote_position
        if expect < current:
            return True
        if expect != current:
            if expect >= mf.file_from_offset + self.file_size:
                log.error("consume queue %s-%d gap: expect %d current %d", self.topic, self.queue_id, expect, current)
                return False
            log.warning("consume queue %s-%d gap: expect %d current %d", self.topic, self.queue_id, expect, current)
            self._fill_blank(mf, expect - mf.file_from_offset)
        pos = mf.wrote_position
        UNIT.pack_into(mf.mm, pos, offset, size, tags_code)
        mf.wrote_position = pos + CQ_STORE_UNIT_SIZE
        self.max_physic_offset = offset + size
        return True

    @staticmethod
    def _fill_blank(mf: MappedFile, until: int) -> None:
        pos = mf.wrote_position
        while pos < until:
            mf.mm[pos : pos + CQ_STORE_UNIT_SIZE] = _BLANK_UNIT
            pos += CQ_STORE_UNIT_SIZE
        mf.wrote_position = max(mf.wrote_position, until)

    # ------------------------------------------------------------ reads
    def get_max_offset_in_queue(self) -> int:
        return self.queue.get_max_offset() // CQ_STORE_UNIT_SIZE

    def get_min_offset_in_queue(self) -> int:
        return self.min_logic_offset // CQ_STORE_UNIT_SIZE

    def get_index_buffer(self, start_index: int) -> memoryview | None:
        """Units from ``start_index`` to the write position of its file."""
        offset = start_index * CQ_STORE_UNIT_SIZE
        if offset < self.min_logic_offset:
            return None
        mf = self.queue.find_mapped_file_by_offset(offset)
        if mf is None or not mf.available:
            return None
        return mf.select(offset - mf.file_from_offset)

    def get_unit(self, index: int) -> tuple[int, int, int] | None:
        offset = index * CQ_STORE_UNIT_SIZE
        mf = self.queue.find_mapped_file_by_offset(offset)
        if mf is None or not mf.available:
            return None
        pos = offset - mf.file_from_offset
        if pos + CQ_STORE_UNIT_SIZE > mf.wrote_position:
            return None
        return UNIT.unpack_from(mf.mm, pos)

    def roll_next_file(self, index: int) -> int:
        per_file = self.file_size // CQ_STORE_UNIT_SIZE
        return index + per_file - index % per_file

    def get_offset_in_queue_by_time(self, timestamp: int,
                                    store_time_of: Callable[[int, int], int]) -> int:
        """The logical offset whose message store time is closest to ``timestamp`` (the first
        at or after it on an exact match), as upstream's binary search."""
        low = self.get_min_offset_in_queue()
        high = self.get_max_offset_in_queue() - 1
        if high < low:
            return 0
        first_valid = low
        while first_valid <= high:
            unit = self.get_unit(first_valid)
            if unit is not None and store_time_of(unit[0], unit[1]) >= 0:
                break
            first_valid += 1
        low = first_valid
        left, right = -1, -1
        left_value, right_value = -1, -1
        while low <= high:
            mid = (low + high) // 2
            unit = self.get_unit(mid)
            ts = store_time_of(unit[0], unit[1]) if unit is not None else -1
            if ts < 0:
                return 0
            if ts == timestamp:
                while mid > first_valid:
                    unit = self.get_unit(mid - 1)
                    if unit is None or store_time_of(unit[0], unit[1]) != timestamp:
                        break
                    mid -= 1
                return mid
            if ts > timestamp:
                high = mid - 1
                right, right_value = mid, ts
            else:
                low = mid + 1
                left, left_value = mid, ts
        if left == -1:
            return right if right != -1 else first_valid
        if right == -1:
            return left
        return right if abs(timestamp - left_value) > abs(timestamp - right_value) else left

    # ------------------------------------------------------------ retention
    def delete_expired_files(self, min_phy_offset: int) -> list[MappedFile]:
        """Files (never the last) whose last unit points below ``min_phy_offset``; removed from
        the queue and returned for destruction off the loop."""
        victims: list[MappedFile] = []
        for mf in self.queue.files[:-1]:
            pos = mf.wrote_position - CQ_STORE_UNIT_SIZE
            if pos < 0:
                break
            offset, size, _ = UNIT.unpack_from(mf.mm, pos)
            if offset + size <= min_phy_offset:
                victims.append(mf)
            else:
                break
        if victims:
            self.queue.remove_files(victims)
        return victims

    def correct_min_offset(self, min_phy_offset: int) -> None:
        mf = self.queue.first()
        if mf is None:
            return
        self.min_logic_offset = max(self.min_logic_offset, mf.file_from_offset)
        pos = self.min_logic_offset - mf.file_from_offset
        while pos + CQ_STORE_UNIT_SIZE <= mf.wrote_position:
            offset, size, _ = UNIT.unpack_from(mf.mm, pos)
            if offset >= min_phy_offset and size != 0x7FFFFFFF:
                break
            pos += CQ_STORE_UNIT_SIZE
        self.min_logic_offset = mf.file_from_offset + pos

    # ------------------------------------------------------------ flush (worker thread)
    def flush(self, least_pages: int) -> None:
        self.queue.flush(least_pages)

    def destroy(self) -> None:
        self.queue.destroy()
        self.max_physic_offset = -1
        self.min_logic_offset = 0
        try:
            os.rmdir(self.queue.store_path)
        except OSError:
            pass
