"""The checkpoint file (upstream StoreCheckpoint): a 4 KiB file holding big-endian longs
physicMsgTimestamp @0, logicsMsgTimestamp @8, indexMsgTimestamp @16, and the abort file marker.

PocketMQ adds one long, logicsPhyOffset @48 (past the two longs RocketMQ 5 keeps @24 and @32):
the commit-log offset up to which consume queues and the index were flushed. Recovery after a
crash starts from the file holding it as well as from upstream's timestamp rule, whichever is
earlier: timestamps alone start too late when the wall clock stepped back after the checkpoint.
"""

from __future__ import annotations

import os
import struct

CHECKPOINT_SIZE = 4096
_LONGS = struct.Struct(">qqq")
_LOGICS_PHY_OFFSET = struct.Struct(">q")
_LOGICS_PHY_OFFSET_POS = 48


class StoreCheckpoint:
    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(self.fd).st_size < CHECKPOINT_SIZE:
            os.ftruncate(self.fd, CHECKPOINT_SIZE)
        raw = os.pread(self.fd, _LONGS.size, 0)
        self.physic_msg_timestamp, self.logics_msg_timestamp, self.index_msg_timestamp = _LONGS.unpack(raw)
        raw = os.pread(self.fd, _LOGICS_PHY_OFFSET.size, _LOGICS_PHY_OFFSET_POS)
        self.logics_phy_offset: int = _LOGICS_PHY_OFFSET.unpack(raw)[0]

    def min_timestamp(self) -> int:
        """min(physic, logics) - 3 s, as upstream; recovery starts from a file older than it."""
        value = min(self.physic_msg_timestamp, self.logics_msg_timestamp) - 3000
        return max(value, 0)

    def min_timestamp_index(self) -> int:
        return min(self.min_timestamp(), self.index_msg_timestamp)

    def flush(self) -> None:
        """Write and fsync (worker thread)."""
        os.pwrite(self.fd, _LONGS.pack(self.physic_msg_timestamp, self.logics_msg_timestamp,
                                       self.index_msg_timestamp), 0)
        os.pwrite(self.fd, _LOGICS_PHY_OFFSET.pack(self.logics_phy_offset), _LOGICS_PHY_OFFSET_POS)
        os.fdatasync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


def abort_file_path(store_root: str) -> str:
    return os.path.join(store_root, "abort")


def create_abort_file(store_root: str) -> None:
    path = abort_file_path(store_root)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.fsync(fd)
    os.close(fd)


def delete_abort_file(store_root: str) -> None:
    try:
        os.unlink(abort_file_path(store_root))
    except FileNotFoundError:
        pass
