"""The epoch file (upstream EpochFileCache): which master epoch wrote which part of the commit log.

Owns: the ``<epoch, startOffset>`` entries of a broker in controller mode, kept durably in
``<storePathRootDir>/epochFile``, and the search for the last point two replicas agree on.

An entry says "from ``start_offset`` on, the commit log was written by the master of
``epoch``"; it ends where the next entry starts (the last one at the store's max offset).
Epochs strictly grow from entry to entry; start offsets never go back.

The file is append-only text, one fsynced line per entry, after a header line::

    PMQEPOCH 1
    1-0-6b3c01d2          <epoch>-<startOffset>-<crc32 of "<epoch>-<startOffset>", 8 hex digits>
    2-81920-0f3c9a11

Crash safety: a line is appended with one write and fsynced, so a kill or power loss can only
leave the *last* line torn (no newline, or a bad CRC); loading drops it, cuts the file back to
the last good line and logs it. A bad line anywhere else, a bad header, or entries out of
order cannot come from a torn write: loading raises ``EpochFileError`` naming the file, the
line and what to do. Removing entries (after a truncation) rewrites the file through a
temporary file, fsync and rename, so the old or the new list is on disk, never a mix.
Upstream keeps the whole list in one rewritten file ("size, crc, lines") plus a ``.bak``; one
append per new epoch is less to go wrong.
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass

log = logging.getLogger(__name__)

FILE_NAME = "epochFile"
HEADER = b"PMQEPOCH 1\n"
MAX_EPOCH = 2**31 - 1  # upstream's epoch is a Java int
MAX_OFFSET = 2**63 - 1


class EpochFileError(OSError):
    """The epoch file is damaged in a way a crash cannot explain (or unreadable)."""


@dataclass(frozen=True, slots=True)
class EpochEntry:
    epoch: int
    start_offset: int


def encode_entry(entry: EpochEntry) -> bytes:
    text = f"{entry.epoch}-{entry.start_offset}"
    return f"{text}-{zlib.crc32(text.encode()):08x}\n".encode()


def decode_entry(line: bytes) -> EpochEntry | None:
    """One line without its newline -> entry, or None if it is not a valid entry."""
    try:
        epoch_s, start_s, crc_s = line.decode("ascii").split("-")
        text = f"{epoch_s}-{start_s}"
        if len(crc_s) != 8 or int(crc_s, 16) != zlib.crc32(text.encode()):
            return None
        epoch, start = int(epoch_s), int(start_s)
    except (UnicodeDecodeError, ValueError):
        return None
    if not (0 <= epoch <= MAX_EPOCH and 0 <= start <= MAX_OFFSET):
        return None
    return EpochEntry(epoch, start)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_order(entries: list[EpochEntry], new: EpochEntry) -> str | None:
    if not entries:
        return None
    last = entries[-1]
    if new.epoch <= last.epoch:
        return f"epoch {new.epoch} is not above the last epoch {last.epoch}"
    if new.start_offset < last.start_offset:
        return f"start offset {new.start_offset} is below the last start offset {last.start_offset}"
    return None


class EpochFile:
    """The entries in memory, backed by the file. Call ``load`` before anything else."""

    def __init__(self, store_root: str) -> None:
        self.dir = store_root
        self.path = os.path.join(store_root, FILE_NAME)
        self.entries: list[EpochEntry] = []

    # ------------------------------------------------------------------ load
    def load(self) -> None:
        """Read the file (none yet = no entries); drop a torn last line; raise on real damage."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            self.entries = []
            return
        except OSError as exc:
            raise EpochFileError(f"cannot read epoch file {self.path}: {exc}") from exc
        if len(raw) < len(HEADER) and HEADER.startswith(raw):
            log.warning("epoch file %s holds a torn header (%d bytes): starting it again", self.path, len(raw))
            self._rewrite([])
            return
        if not raw.startswith(HEADER):
            raise EpochFileError(f"{self.path} is not a PocketMQ epoch file (its first line is not "
                                 f"{HEADER.decode().strip()!r}); move it away to start with no epochs, "
                                 f"and let this broker rejoin as a slave")
        entries, good_end = self._parse(raw)
        self.entries = entries
        if good_end < len(raw):
            log.warning("epoch file %s: dropped a torn last entry (%d bytes at byte %d)", self.path,
                        len(raw) - good_end, good_end)
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())

    def _parse(self, raw: bytes) -> tuple[list[EpochEntry], int]:
        entries: list[EpochEntry] = []
        pos = len(HEADER)
        line_no = 1
        while pos < len(raw):
            line_no += 1
            nl = raw.find(b"\n", pos)
            if nl < 0:
                return entries, pos  # torn: the last write never finished
            entry = decode_entry(raw[pos:nl])
            if entry is None:
                if nl + 1 == len(raw):
                    return entries, pos  # torn last line (bytes reached disk out of order)
                raise EpochFileError(f"{self.path} line {line_no} (byte {pos}) is corrupt and more entries follow "
                                     f"it: not a torn write. Move the file away and let this broker rejoin "
                                     f"as a slave (it will truncate to the master's history)")
            problem = _check_order(entries, entry)
            if problem is not None:
                raise EpochFileError(f"{self.path} line {line_no}: {problem}")
            entries.append(entry)
            pos = nl + 1
        return entries, pos

    # ------------------------------------------------------------------ changes
    def append(self, epoch: int, start_offset: int) -> None:
        """Record that ``epoch`` writes from ``start_offset`` on (durable when this returns)."""
        entry = EpochEntry(epoch, start_offset)
        if decode_entry(encode_entry(entry)[:-1]) != entry:
            raise ValueError(f"epoch entry out of range: {entry}")
        problem = _check_order(self.entries, entry)
        if problem is not None:
            raise ValueError(f"cannot append {entry} to {self.path}: {problem}")
        if not os.path.exists(self.path):
            self._rewrite([])
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, encode_entry(entry))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.entries.append(entry)

    def begin_epoch_as_master(self, epoch: int, max_offset: int) -> None:
        """This broker is master of ``epoch``: its writes of that epoch start at ``max_offset``,
        unless the file already starts that epoch. Only the master of an epoch records it
        first, so an entry of ``epoch`` here means this broker was its master already (it
        restarted and the controller kept it): moving the start forward would make every replica
        that holds the epoch's earlier data look divergent and drop its whole log (found by the
        nemesis suite). Entries of later epochs are dropped, as upstream's changeToMaster does."""
        last = self.last_entry()
        if last is not None and last.epoch == epoch:
            return
        if self.last_epoch() >= epoch:
            self.truncate_suffix_by_epoch(epoch)
        self.append(epoch, max_offset)

    def truncate_suffix_by_offset(self, offset: int) -> None:
        """Drop the entries starting at or after ``offset`` (the log is cut there)."""
        keep = [e for e in self.entries if e.start_offset < offset]
        if len(keep) != len(self.entries):
            self._rewrite(keep)

    def truncate_suffix_by_epoch(self, epoch: int) -> None:
        """Drop the entries of ``epoch`` and later."""
        keep = [e for e in self.entries if e.epoch < epoch]
        if len(keep) != len(self.entries):
            self._rewrite(keep)

    def _rewrite(self, entries: list[EpochEntry]) -> None:
        os.makedirs(self.dir, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(HEADER + b"".join(encode_entry(e) for e in entries))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.dir)
        self.entries = list(entries)

    # ------------------------------------------------------------------ queries
    def last_epoch(self) -> int:
        return self.entries[-1].epoch if self.entries else -1

    def last_entry(self) -> EpochEntry | None:
        return self.entries[-1] if self.entries else None

    def get(self, epoch: int) -> EpochEntry | None:
        for entry in self.entries:
            if entry.epoch == epoch:
                return entry
        return None


def entry_ends(entries: list[EpochEntry], max_offset: int) -> list[tuple[EpochEntry, int]]:
    """Each entry with its end offset (the next entry's start; the last ends at ``max_offset``)."""
    result = []
    for i, entry in enumerate(entries):
        end = entries[i + 1].start_offset if i + 1 < len(entries) else max(max_offset, entry.start_offset)
        result.append((entry, end))
    return result


def find_consistent_point(local: list[EpochEntry], local_max: int, remote: list[EpochEntry],
                          remote_max: int) -> int:
    """The offset up to which two replicas hold the same history (upstream
    findConsistentPoint): the newest epoch both have with the same start offset, up to where
    the shorter of the two ends. -1 when they share no epoch."""
    remote_ends = {entry.epoch: (entry, end) for entry, end in entry_ends(remote, remote_max)}
    for entry, end in reversed(entry_ends(local, local_max)):
        other = remote_ends.get(entry.epoch)
        if other is not None and other[0].start_offset == entry.start_offset:
            return min(end, other[1])
    return -1
