"""Where the controller keeps its state: the store interface, and the default file store.

Owns: ``ControllerStore`` (read one broker set or all of them with their versions, and commit a
new state of one broker set only if its version is still the one read: compare-and-swap), the
errors a store raises (``StoreConflict``: someone else changed the set first; ``StoreUnavailable``:
the store cannot be reached, so nothing may change), and ``FileStore``.

FileStore is an append-only log ``<controllerStorePath>/controller.log`` of records
``[length u32][crc32 u32][JSON {"brokerName", "state"}]``: each commit is appended and fsynced
before the request is answered; on start the log is replayed (the last state of each set wins, a
null state deletes it). A crash can tear only the last record: a record that runs past the end of
the file or whose checksum fails at the tail is cut off (it was never answered); a bad record
followed by more records is corruption and stops the start-up. The log is rewritten compactly
(to a temporary file, fsynced, renamed, the directory fsynced) when it holds many more records
than sets, at start-up and while running.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from typing import Protocol

import orjson

from pocketmq.controller.replicas import BrokerSet

log = logging.getLogger("pocketmq.controller")

_HEADER = struct.Struct(">II")
MAX_RECORD = 16 * 1024 * 1024
COMPACT_MIN_RECORDS = 1000  # at start-up
COMPACT_RUNNING_RECORDS = 10_000  # while running


class StoreConflict(Exception):
    """The broker set changed since it was read: read it again and decide again."""


class StoreUnavailable(Exception):
    """The store cannot be reached or written: no state change may happen."""


class StoreCorrupt(Exception):
    """The store's data cannot be trusted (not a torn last record)."""


@dataclass(slots=True)
class Versioned:
    state: BrokerSet | None
    version: int  # 0: the set does not exist


class ControllerStore(Protocol):
    async def open(self) -> None: ...

    async def get(self, broker_name: str) -> Versioned: ...

    async def get_all(self) -> dict[str, Versioned]: ...

    async def commit(self, broker_name: str, expected_version: int, state: BrokerSet | None) -> int:
        """Write ``state`` (None deletes the set) if the set's version is ``expected_version``;
        returns the new version. Raises StoreConflict or StoreUnavailable."""
        ...

    async def close(self) -> None: ...

    def describe(self) -> str: ...


def encode_record(broker_name: str, state: BrokerSet | None) -> bytes:
    payload = orjson.dumps({"brokerName": broker_name, "state": None if state is None else state.to_json()})
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def replay(data: bytes) -> tuple[dict[str, BrokerSet], int, int]:
    """(sets, length of the good prefix, records read). Raises StoreCorrupt for damage that is
    not a torn tail."""
    sets: dict[str, BrokerSet] = {}
    pos = records = 0
    while pos < len(data):
        if len(data) - pos < _HEADER.size:
            break  # torn header
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > MAX_RECORD or end > len(data):
            if length > MAX_RECORD and end < len(data):
                raise StoreCorrupt(f"record at {pos} claims {length} bytes")
            break  # torn: runs past the end of the file
        payload = data[pos + _HEADER.size:end]
        if zlib.crc32(payload) != crc:
            if end < len(data):
                raise StoreCorrupt(f"record at {pos} fails its checksum and is not the last one")
            break  # torn last record
        try:
            record = orjson.loads(payload)
            name = str(record["brokerName"])
            state = record["state"]
            if state is None:
                sets.pop(name, None)
            else:
                sets[name] = BrokerSet.from_json(state)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreCorrupt(f"record at {pos} does not parse: {exc}") from None
        pos = end
        records += 1
    return sets, pos, records


class FileStore:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, "controller.log")
        self._sets: dict[str, Versioned] = {}
        self._records = 0
        self._file: "object | None" = None
        self._lock_file: "object | None" = None
        self._lock = asyncio.Lock()

    def describe(self) -> str:
        return f"file {self.path}"

    async def open(self) -> None:
        await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        lock_file = open(os.path.join(self.directory, "lock"), "a+b")
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.close()
            raise StoreCorrupt(f"{self.directory} is in use by another controller "
                               "(one file store per controller; share state through etcd)") from None
        self._lock_file = lock_file
        data = b""
        if os.path.exists(self.path):
            with open(self.path, "rb") as handle:
                data = handle.read()
        sets, good, records = replay(data)
        if good < len(data):
            log.warning("controller store %s: cutting a torn last record (%d bytes at offset %d)",
                        self.path, len(data) - good, good)
            with open(self.path, "r+b") as handle:
                handle.truncate(good)
                handle.flush()
                os.fsync(handle.fileno())
        self._sets = {name: Versioned(state, 1) for name, state in sets.items()}
        self._records = records
        log.info("controller store %s: %d broker set(s) from %d record(s)", self.path, len(sets), records)
        if records > max(COMPACT_MIN_RECORDS, 4 * len(sets)):
            self._compact_sync()
        self._file = open(self.path, "ab")

    def _compact_sync(self) -> None:
        tmp = self.path + ".compact"
        with open(tmp, "wb") as handle:
            for name, versioned in sorted(self._sets.items()):
                handle.write(encode_record(name, versioned.state))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._records = len(self._sets)
        log.info("controller store %s compacted to %d record(s)", self.path, self._records)

    async def get(self, broker_name: str) -> Versioned:
        return self._sets.get(broker_name) or Versioned(None, 0)

    async def get_all(self) -> dict[str, Versioned]:
        return dict(self._sets)

    async def commit(self, broker_name: str, expected_version: int, state: BrokerSet | None) -> int:
        async with self._lock:
            current = self._sets.get(broker_name)
            current_version = 0 if current is None else current.version
            if current_version != expected_version:
                raise StoreConflict(f"{broker_name}: version {current_version}, not {expected_version}")
            record = encode_record(broker_name, state)
            try:
                await asyncio.to_thread(self._append_sync, record)
            except OSError as exc:
                raise StoreUnavailable(f"cannot write {self.path}: {exc}") from exc
            if state is None:
                self._sets.pop(broker_name, None)
                new_version = 0
            else:
                self._sets[broker_name] = Versioned(state, current_version + 1)
                new_version = current_version + 1
            if self._records > max(COMPACT_RUNNING_RECORDS, 4 * len(self._sets)):
                await asyncio.to_thread(self._compact_and_reopen)
            return new_version

    def _compact_and_reopen(self) -> None:
        """Rewrite the log while running (it is already durable; a failure here loses nothing)."""
        try:
            if self._file is not None:
                self._file.close()  # type: ignore[attr-defined]
            self._compact_sync()
        except OSError:
            log.exception("cannot compact %s; going on with the long log", self.path)
        finally:
            self._file = open(self.path, "ab")

    def _append_sync(self, record: bytes) -> None:
        handle = self._file
        if handle is None:
            raise OSError("the store is closed")
        size = handle.tell()  # type: ignore[attr-defined]
        try:
            handle.write(record)  # type: ignore[attr-defined]
            handle.flush()  # type: ignore[attr-defined]
            os.fsync(handle.fileno())  # type: ignore[attr-defined]
        except OSError:
            # Leave no half record for later ones to follow (it would read as corruption).
            try:
                handle.truncate(size)  # type: ignore[attr-defined]
            except OSError:
                log.exception("cannot cut a failed write back from %s", self.path)
            raise
        self._records += 1

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()  # type: ignore[attr-defined]
            self._file = None
        if self._lock_file is not None:
            self._lock_file.close()  # type: ignore[attr-defined]  # closing releases the flock
            self._lock_file = None
