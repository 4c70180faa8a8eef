"""Result types of the store API (upstream PutMessageStatus, AppendMessageResult,
PutMessageResult, GetMessageStatus, GetMessageResult, QueryMessageResult)."""

from __future__ import annotations

import enum


class PutMessageStatus(enum.Enum):
    PUT_OK = "PUT_OK"
    FLUSH_DISK_TIMEOUT = "FLUSH_DISK_TIMEOUT"
    FLUSH_SLAVE_TIMEOUT = "FLUSH_SLAVE_TIMEOUT"
    SLAVE_NOT_AVAILABLE = "SLAVE_NOT_AVAILABLE"
    SERVICE_NOT_AVAILABLE = "SERVICE_NOT_AVAILABLE"
    CREATE_MAPEDFILE_FAILED = "CREATE_MAPEDFILE_FAILED"
    MESSAGE_ILLEGAL = "MESSAGE_ILLEGAL"
    PROPERTIES_SIZE_EXCEEDED = "PROPERTIES_SIZE_EXCEEDED"
    OS_PAGECACHE_BUSY = "OS_PAGECACHE_BUSY"
    IN_SYNC_REPLICAS_NOT_ENOUGH = "IN_SYNC_REPLICAS_NOT_ENOUGH"
    WHEEL_TIMER_NOT_ENABLE = "WHEEL_TIMER_NOT_ENABLE"
    WHEEL_TIMER_MSG_ILLEGAL = "WHEEL_TIMER_MSG_ILLEGAL"
    UNKNOWN_ERROR = "UNKNOWN_ERROR"


class AppendMessageStatus(enum.Enum):
    PUT_OK = "PUT_OK"
    END_OF_FILE = "END_OF_FILE"
    MESSAGE_SIZE_EXCEEDED = "MESSAGE_SIZE_EXCEEDED"
    PROPERTIES_SIZE_EXCEEDED = "PROPERTIES_SIZE_EXCEEDED"
    UNKNOWN_ERROR = "UNKNOWN_ERROR"


class AppendMessageResult:
    """Where an append landed. ``msg_id`` is the offset id (comma-joined for a batch);
    ``logics_offset`` is the first queue offset."""

    __slots__ = ("status", "wrote_offset", "wrote_bytes", "msg_id", "store_timestamp",
                 "logics_offset", "msg_num", "pagecache_rt")

    def __init__(self, status: AppendMessageStatus, wrote_offset: int = 0, wrote_bytes: int = 0,
                 msg_id: str = "", store_timestamp: int = 0, logics_offset: int = 0,
                 msg_num: int = 1) -> None:
        self.status = status
        self.wrote_offset = wrote_offset
        self.wrote_bytes = wrote_bytes
        self.msg_id = msg_id
        self.store_timestamp = store_timestamp
        self.logics_offset = logics_offset
        self.msg_num = msg_num
        self.pagecache_rt = 0

    def is_ok(self) -> bool:
        return self.status is AppendMessageStatus.PUT_OK

    def __repr__(self) -> str:
        return (f"AppendMessageResult({self.status.name}, wrote_offset={self.wrote_offset}, "
                f"wrote_bytes={self.wrote_bytes}, msg_id={self.msg_id!r}, "
                f"logics_offset={self.logics_offset}, msg_num={self.msg_num})")


class PutMessageResult:
    """Status of a put plus its append result; ``remark`` explains a refusal."""

    __slots__ = ("status", "append_result", "remark")

    def __init__(self, status: PutMessageStatus, append_result: AppendMessageResult | None = None,
                 remark: str = "") -> None:
        self.status = status
        self.append_result = append_result
        self.remark = remark

    def is_ok(self) -> bool:
        return self.append_result is not None and self.append_result.is_ok()

    def __repr__(self) -> str:
        return f"PutMessageResult({self.status.name}, {self.append_result!r}, remark={self.remark!r})"


class GetMessageStatus(enum.Enum):
    FOUND = "FOUND"
    NO_MATCHED_MESSAGE = "NO_MATCHED_MESSAGE"
    MESSAGE_WAS_REMOVING = "MESSAGE_WAS_REMOVING"
    OFFSET_FOUND_NULL = "OFFSET_FOUND_NULL"
    OFFSET_OVERFLOW_BADLY = "OFFSET_OVERFLOW_BADLY"
    OFFSET_OVERFLOW_ONE = "OFFSET_OVERFLOW_ONE"
    OFFSET_TOO_SMALL = "OFFSET_TOO_SMALL"
    NO_MATCHED_LOGIC_QUEUE = "NO_MATCHED_LOGIC_QUEUE"
    NO_MESSAGE_IN_QUEUE = "NO_MESSAGE_IN_QUEUE"


class GetMessageResult:
    """Messages found by a pull: ``buffers`` are views into mapped files (no copies)."""

    __slots__ = ("status", "next_begin_offset", "min_offset", "max_offset", "buffers",
                 "message_queue_offsets", "buffer_total_size", "suggest_pulling_from_slave")

    def __init__(self) -> None:
        self.status = GetMessageStatus.NO_MESSAGE_IN_QUEUE
        self.next_begin_offset = 0
        self.min_offset = 0
        self.max_offset = 0
        self.buffers: list[memoryview] = []
        self.message_queue_offsets: list[int] = []
        self.buffer_total_size = 0
        self.suggest_pulling_from_slave = False

    @property
    def message_count(self) -> int:
        return len(self.buffers)

    def add_message(self, view: memoryview, queue_offset: int) -> None:
        self.buffers.append(view)
        self.message_queue_offsets.append(queue_offset)
        self.buffer_total_size += len(view)

    def release(self) -> None:
        """Drop the views (lets deleted files be unmapped promptly)."""
        for view in self.buffers:
            view.release()
        self.buffers = []

    def __repr__(self) -> str:
        return (f"GetMessageResult({self.status.name}, count={self.message_count}, "
                f"next={self.next_begin_offset}, min={self.min_offset}, max={self.max_offset})")


class QueryMessageResult:
    """Messages found by key: raw entries plus the index's last update point."""

    __slots__ = ("buffers", "index_last_update_timestamp", "index_last_update_phyoffset", "buffer_total_size")

    def __init__(self) -> None:
        self.buffers: list[memoryview] = []
        self.index_last_update_timestamp = 0
        self.index_last_update_phyoffset = 0
        self.buffer_total_size = 0

    def add_message(self, view: memoryview) -> None:
        self.buffers.append(view)
        self.buffer_total_size += len(view)
