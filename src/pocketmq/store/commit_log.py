"""The commit log (upstream CommitLog).

Owns: appending single messages and batches as stored entries (section 4.1) straight into the
mapped file, assigning physical offsets and per-queue logical offsets (the topic queue table),
the end-of-file blank, size limits, reading entries back as memoryview slices, raw appends for a
slave, and the recovery scan (magic, size, physical offset and CRC checks).
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from pocketmq.config import MessageStoreConfig
from pocketmq.protocol import message as m
from pocketmq.protocol.message_id import create_offset_message_id
from pocketmq.store.mapped_file import Allocator, MappedFile, MappedFileQueue
from pocketmq.store.results import AppendMessageResult, AppendMessageStatus

log = logging.getLogger(__name__)

SCHEDULE_TOPIC = "SCHEDULE_TOPIC_XXXX"

_ID_HEX = "0123456789ABCDEF"


def parse_delay_levels(text: str) -> list[int]:
    """``messageDelayLevel`` -> delay in ms per level (index 0 = level 1)."""
    units = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    return [int(item[:-1]) * units[item[-1]] for item in text.split() if item]


@dataclass(slots=True)
class DispatchRequest:
    """What the dispatcher needs of one stored entry."""

    topic: str
    queue_id: int
    commit_log_offset: int
    msg_size: int
    tags_code: int
    store_timestamp: int
    queue_offset: int
    sys_flag: int
    properties: dict[str, str]


class CommitLog:
    def __init__(self, config: MessageStoreConfig, store_host: tuple[str, int],
                 allocator: Allocator | None) -> None:
        self.config = config
        self.store_host = store_host
        self.queue = MappedFileQueue(config.commit_log_dir(), config.mappedFileSizeCommitLog, allocator)
        self.file_size = config.mappedFileSizeCommitLog
        self.topic_queue_table: dict[tuple[str, int], int] = {}
        self.delay_levels = parse_delay_levels(config.messageDelayLevel)
        self._topic_cache: dict[str, bytes] = {}
        self._store_v6 = m.is_ipv6(store_host[0])
        self._store_ip = m.pack_ip(store_host[0])
        self._id_prefix = create_offset_message_id(store_host[0], store_host[1], 0)[:-16]

    # ------------------------------------------------------------ offsets
    def get_min_offset(self) -> int:
        first = self.queue.first()
        if first is None:
            return -1
        return first.file_from_offset

    def get_max_offset(self) -> int:
        return self.queue.get_max_offset()

    def roll_next_file(self, offset: int) -> int:
        return offset + self.file_size - offset % self.file_size

    def msg_id(self, offset: int) -> str:
        return self._id_prefix + format(offset, "016X")

    def delay_tags_code(self, level: int, store_timestamp: int) -> int:
        if not self.delay_levels:
            return store_timestamp
        level = min(max(level, 1), len(self.delay_levels))
        return store_timestamp + self.delay_levels[level - 1]

    def _topic_bytes(self, topic: str) -> bytes:
        raw = self._topic_cache.get(topic)
        if raw is None:
            raw = topic.encode("utf-8")
            if len(self._topic_cache) < 100_000:
                self._topic_cache[topic] = raw
        return raw

    # ------------------------------------------------------------ append
    def _writable_file(self, length: int, store_timestamp: int) -> MappedFile:
        """The file to write ``length`` bytes into; pads the current one with a blank if needed."""
        mf = self.queue.get_last_mapped_file(0)
        pos = mf.wrote_position
        if length + m.END_FILE_MIN_BLANK_LENGTH > mf.file_size - pos:
            m.BLANK.pack_into(mf.mm, pos, mf.file_size - pos, m.BLANK_MAGIC_CODE)
            mf.wrote_position = mf.file_size
            mf.store_timestamp = store_timestamp
            mf = self.queue.get_last_mapped_file(0)
        if mf.wrote_position >= mf.prefault_mark:
            self.queue.prefault_ahead(mf)
        return mf

    def append_message(self, msg: m.MessageExtBrokerInner, store_timestamp: int,
                       properties: bytes) -> AppendMessageResult:
        """Write one entry. Caller has validated topic and properties lengths."""
        topic_b = self._topic_bytes(msg.topic)
        born_host = msg.born_host
        sys_flag = msg.sys_flag & ~m.HOST_FLAGS_MASK
        if ":" in born_host[0]:
            sys_flag |= m.BORNHOST_V6_FLAG
        if self._store_v6:
            sys_flag |= m.STOREHOSTADDRESS_V6_FLAG
        header = m.HEADER_STRUCTS[sys_flag & m.HOST_FLAGS_MASK]
        body = msg.body
        total = header.size + len(body) + 2 + m.topic_length_size(len(topic_b)) + len(topic_b) + len(properties)
        if total > self.config.maxMessageSize or total + m.END_FILE_MIN_BLANK_LENGTH > self.file_size:
            return AppendMessageResult(AppendMessageStatus.MESSAGE_SIZE_EXCEEDED)
        mf = self._writable_file(total, store_timestamp)
        pos = mf.wrote_position
        phy = mf.file_from_offset + pos
        tran = sys_flag & m.TRANSACTION_TYPE_MASK
        key = (msg.topic, msg.queue_id)
        if tran == 0 or tran == m.TRANSACTION_COMMIT_TYPE:
            queue_offset = self.topic_queue_table.get(key, 0)
        else:
            queue_offset = 0
        m.write_entry(mf.mm, pos, zlib.crc32(body) & 0x7FFFFFFF, msg.queue_id, msg.flag, queue_offset, phy,
                      sys_flag, msg.born_timestamp, m.pack_ip(born_host[0]), born_host[1], store_timestamp,
                      self._store_ip, self.store_host[1], msg.reconsume_times, msg.prepared_transaction_offset,
                      body, topic_b, properties)
        mf.wrote_position = pos + total
        mf.store_timestamp = store_timestamp
        if tran == 0 or tran == m.TRANSACTION_COMMIT_TYPE:
            self.topic_queue_table[key] = queue_offset + 1
        msg.sys_flag = sys_flag
        return AppendMessageResult(AppendMessageStatus.PUT_OK, phy, total, self.msg_id(phy),
                                   store_timestamp, queue_offset, 1)

    def append_batch(self, topic: str, queue_id: int, sys_flag: int, born_timestamp: int,
                     born_host: tuple[str, int], records: Sequence[tuple[int, bytes, bytes]],
                     store_timestamp: int, reconsume_times: int = 0,
                     ) -> tuple[AppendMessageResult, list[tuple[int, int, int]]]:
        """Write a batch of (flag, body, properties) into one file. Returns the result and
        (physical offset, size, queue offset) per message."""
        topic_b = self._topic_bytes(topic)
        sys_flag &= ~m.HOST_FLAGS_MASK
        if ":" in born_host[0]:
            sys_flag |= m.BORNHOST_V6_FLAG
        if self._store_v6:
            sys_flag |= m.STOREHOSTADDRESS_V6_FLAG
        header = m.HEADER_STRUCTS[sys_flag & m.HOST_FLAGS_MASK]
        fixed = header.size + 2 + m.topic_length_size(len(topic_b)) + len(topic_b)
        sizes = [fixed + len(body) + len(props) for _, body, props in records]
        total_all = sum(sizes)
        if any(size > self.config.maxMessageSize for size in sizes) \
                or total_all + m.END_FILE_MIN_BLANK_LENGTH > self.file_size:
            return AppendMessageResult(AppendMessageStatus.MESSAGE_SIZE_EXCEEDED), []
        mf = self._writable_file(total_all, store_timestamp)
        mm = mf.mm
        pos = mf.wrote_position
        key = (topic, queue_id)
        first_queue_offset = queue_offset = self.topic_queue_table.get(key, 0)
        born_ip = m.pack_ip(born_host[0])
        store_ip = self._store_ip
        placed: list[tuple[int, int, int]] = []
        ids: list[str] = []
        for (flag, body, props), total in zip(records, sizes):
            phy = mf.file_from_offset + pos
            m.write_entry(mm, pos, zlib.crc32(body) & 0x7FFFFFFF, queue_id, flag, queue_offset, phy, sys_flag,
                          born_timestamp, born_ip, born_host[1], store_timestamp, store_ip, self.store_host[1],
                          reconsume_times, 0, body, topic_b, props)
            placed.append((phy, total, queue_offset))
            ids.append(self.msg_id(phy))
            pos += total
            queue_offset += 1
        wrote_offset = mf.file_from_offset + mf.wrote_position
        mf.wrote_position = pos
        mf.store_timestamp = store_timestamp
        self.topic_queue_table[key] = queue_offset
        result = AppendMessageResult(AppendMessageStatus.PUT_OK, wrote_offset, total_all, ",".join(ids),
                                     store_timestamp, first_queue_offset, len(records))
        return result, placed

    # ------------------------------------------------------------ reads
    def get_message(self, offset: int, size: int) -> memoryview | None:
        mf = self.queue.find_mapped_file_by_offset(offset)
        if mf is None or not mf.available:
            return None
        return mf.select(offset - mf.file_from_offset, size)

    def get_data(self, offset: int) -> memoryview | None:
        """From ``offset`` to the write position of the file holding it (HA transfer)."""
        mf = self.queue.find_mapped_file_by_offset(offset, offset == 0)
        if mf is None or not mf.available:
            return None
        pos = offset - mf.file_from_offset
        if pos < 0 or pos > mf.wrote_position:
            return None
        return mf.select(pos)

    def look_entry(self, offset: int) -> memoryview | None:
        """The whole entry at ``offset`` (its size read from TOTALSIZE)."""
        mf = self.queue.find_mapped_file_by_offset(offset)
        if mf is None or not mf.available:
            return None
        pos = offset - mf.file_from_offset
        if pos + 4 > mf.wrote_position:
            return None
        size = m.INT.unpack_from(mf.mm, pos)[0]
        if size <= 0:
            return None
        return mf.select(pos, size)

    def pickup_store_timestamp(self, offset: int, size: int) -> int:
        view = self.get_message(offset, size)
        if view is None or len(view) < 91:
            return -1
        sys_flag = m.INT.unpack_from(view, m.SYSFLAG_POS)[0]
        return m.LONG.unpack_from(view, m.store_timestamp_position(sys_flag))[0]

    # ------------------------------------------------------------ slave append
    def append_data(self, start_offset: int, data: bytes | memoryview) -> bool:
        """Write raw commit-log bytes at exactly ``start_offset`` (slave side)."""
        mf = self.queue.get_last_mapped_file(start_offset)
        if mf is None:
            return False
        pos = start_offset - mf.file_from_offset
        if pos != mf.wrote_position or pos + len(data) > mf.file_size:
            return False
        if pos >= mf.prefault_mark:
            self.queue.prefault_ahead(mf)
        mf.mm[pos : pos + len(data)] = data
        mf.wrote_position = pos + len(data)
        return True

    # ------------------------------------------------------------ recovery
    def check_entry(self, view: memoryview, pos: int, file_offset: int, check_crc: bool
                    ) -> tuple[int, DispatchRequest | None]:
        """Validate the entry at ``view[pos:]``. Returns (size, request): size > 0 with a request
        for a valid message, (0, None) for a blank or the end of data, (-1, None) if invalid."""
        remain = len(view) - pos
        if remain < 8:
            return 0, None
        total, magic = m.BLANK.unpack_from(view, pos)
        if magic == m.BLANK_MAGIC_CODE:
            return (0, None) if total == remain else (-1, None)
        if magic != m.MESSAGE_MAGIC_CODE and magic != m.MESSAGE_MAGIC_CODE_V2:
            return (0, None) if total == 0 and magic == 0 else (-1, None)
        if total < 91 or total > remain:
            return -1, None
        try:
            sys_flag = m.INT.unpack_from(view, pos + m.SYSFLAG_POS)[0]
            header = m.header_struct(sys_flag)
            fields = header.unpack_from(view, pos)
            crc, queue_id, queue_offset, phy, store_ts, body_len = (
                fields[2], fields[3], fields[5], fields[6], fields[11], fields[16])
            p = pos + header.size
            if body_len < 0 or p + body_len + 3 > pos + total or phy != file_offset + pos:
                return -1, None
            if check_crc and zlib.crc32(view[p : p + body_len]) & 0x7FFFFFFF != crc:
                return -1, None
            start, p = m.topic_span(view, p + body_len, magic)
            if p < start or p + 2 > pos + total:
                return -1, None
            topic = bytes(view[start:p]).decode("utf-8")
            props_len = m.SHORT.unpack_from(view, p)[0]
            p += 2
            if props_len < 0 or p + props_len - pos != total:
                return -1, None
            props = m.string_to_properties(bytes(view[p : p + props_len]).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, IndexError, KeyError):
            return -1, None
        tags_code = m.tags_string_to_tags_code(props.get(m.PROPERTY_TAGS))
        if topic == SCHEDULE_TOPIC and m.PROPERTY_DELAY_TIME_LEVEL in props:
            try:
                tags_code = self.delay_tags_code(int(props[m.PROPERTY_DELAY_TIME_LEVEL]), store_ts)
            except ValueError:
                pass
        return total, DispatchRequest(topic, queue_id, phy, total, tags_code, store_ts, queue_offset,
                                      sys_flag, props)

    def scan(self, start_index: int, check_crc: bool,
             on_entry: Callable[[DispatchRequest], None] | None) -> tuple[int, bool]:
        """Walk entries from file ``start_index``. Returns (offset of the end of valid data,
        True if the scan stopped on an invalid entry rather than a clean end)."""
        files = self.queue.files
        if not files:
            return 0, False
        index = max(0, start_index)
        mf = files[index]
        pos = 0
        while True:
            size, request = self.check_entry(mf.view, pos, mf.file_from_offset, check_crc)
            if size > 0:
                if on_entry is not None and request is not None:
                    on_entry(request)
                pos += size
                continue
            if size == 0:
                clean_end = pos >= mf.file_size or m.BLANK.unpack_from(mf.view, pos)[1] == m.BLANK_MAGIC_CODE
                if clean_end and index + 1 < len(files):
                    index += 1
                    mf = files[index]
                    pos = 0
                    continue
                if clean_end:
                    return mf.file_from_offset + mf.file_size, False
                return mf.file_from_offset + pos, False
            log.warning("commit log: invalid entry at %d, truncating there", mf.file_from_offset + pos)
            return mf.file_from_offset + pos, True

    def entries_between(self, start: int, end: int) -> Iterator[DispatchRequest]:
        """The entries from ``start`` (an entry's offset) up to ``end``, rolling over file-end
        blanks; stops at the first invalid entry."""
        offset = start
        while offset < end:
            mf = self.queue.find_mapped_file_by_offset(offset)
            if mf is None:
                return
            pos = offset - mf.file_from_offset
            view = mf.view[: mf.wrote_position]
            try:
                size, req = self.check_entry(view, pos, mf.file_from_offset, False)
            finally:
                view.release()
            if size > 0 and req is not None:
                yield req
                offset += size
            elif size == 0 and mf.wrote_position == mf.file_size and pos < mf.file_size:
                offset = self.roll_next_file(offset)
            else:
                return

    def first_store_timestamp(self, mf: MappedFile) -> int:
        """Store time of a file's first message; 0 if it does not start with a message."""
        total, magic = m.BLANK.unpack_from(mf.view, 0)
        if (magic != m.MESSAGE_MAGIC_CODE and magic != m.MESSAGE_MAGIC_CODE_V2) or total < 91:
            return 0
        sys_flag = m.INT.unpack_from(mf.view, m.SYSFLAG_POS)[0]
        return m.LONG.unpack_from(mf.view, m.store_timestamp_position(sys_flag))[0]

    def zero_tail(self, offset: int) -> None:
        """Zero the stale bytes after ``offset`` in its file so they can never look valid."""
        mf = self.queue.find_mapped_file_by_offset(offset)
        if mf is None:
            return
        pos = offset - mf.file_from_offset
        chunk = 1 << 20
        zeros = bytes(chunk)
        while pos < mf.file_size:
            end = min(pos + chunk, mf.file_size)
            if mf.view[pos:end] != zeros[: end - pos]:
                mf.mm[pos:end] = zeros[: end - pos]
            pos = end

    def file_paths(self) -> list[str]:
        return [os.path.join(self.queue.store_path, mf.file_name) for mf in self.queue.files]
