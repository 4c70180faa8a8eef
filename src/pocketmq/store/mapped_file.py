"""Mapped files and the mapped file queue (upstream MappedFile, MappedFileQueue,
AllocateMappedFileService).

Owns: fixed-size files memory-mapped read/write and named by their 20-digit start offset; their
write and flushed positions; fsync (msync of the mapping, a data sync of the file that releases
the GIL, so it runs on a worker thread; one descriptor per file, the mapping's own); a queue of
such files covering a contiguous offset range; pre-allocation of the next file, faulting in the
pages ahead of the commit log's writer, and deletion of old files on a worker thread.

Threading: positions and the file list are mutated on the event loop thread. Flush and delete run
on worker threads and take ``MappedFileQueue.lock`` to look files up.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import errno
import logging
import mmap
import os
import threading
import time

log = logging.getLogger(__name__)

OS_PAGE_SIZE = 4096
# For files written and read a few bytes at a time in many places (consume queues, the index's
# hash slots): no readahead on a page fault. Else the first write into a fresh, sparse file
# faults in the device's whole readahead window of zeros: 2.8-5.4 ms per fault with this VM's
# 8 MiB read_ahead_kb, on the event loop, once for each new consume queue (17 us with this).
RANDOM_ACCESS = mmap.MADV_RANDOM


def map_file(path: str, size: int, advice: int | None = None) -> mmap.mmap:
    """Open ``path`` (created, or resized to ``size``) and map it whole, with ``advice`` given
    to madvise. Our descriptor is closed at once: Python's mmap keeps a duplicate of its own, and
    keeping both cost two descriptors per mapped file (a broker with 2,000 topics of 8 queues ran
    out of a 20,000 limit; upstream's JVM needs one). Sync through the mapping (``sync_mapping``)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)
        mm = mmap.mmap(fd, size)
        if advice is not None:
            mm.madvise(advice)
    finally:
        os.close(fd)
    return mm


_libc = ctypes.CDLL(None, use_errno=True)
_msync = _libc.msync
_msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_msync.restype = ctypes.c_int
_MS_SYNC = 4
_madvise = _libc.madvise
_madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_madvise.restype = ctypes.c_int
_MADV_POPULATE_READ = 22  # Linux 5.14

# How far ahead of the commit log's write position a worker thread faults pages in. The first
# touch of a page of a fresh, sparse file zero-fills it (and its readahead window) inside the
# page fault, on whichever thread touches it: 8 % of the event loop's CPU at 16 MB/s of 1 KiB
# sends on this VM (bench/README.md, "Page faults off the event loop"). Faulting them in ahead,
# readable, leaves the writer a cheap write-protect fault per page and no zeroing. Read faults
# do not dirty a page, so nothing more is written to disk.
PREFAULT_WINDOW = 8 * 1024 * 1024


def mapping_address(mm: mmap.mmap) -> int:
    view = ctypes.c_char.from_buffer(mm)
    try:
        return ctypes.addressof(view)
    finally:
        del view  # let the mapping close later


def sync_mapping(address: int, size: int, path: str) -> None:
    """fdatasync of a mapped file, through its mapping: msync(MS_SYNC), which Linux implements as
    a data sync of that range. ctypes releases the GIL for the call, as os.fdatasync does. A
    mapping already closed answers ENOMEM, raised as OSError."""
    if _msync(address, size, _MS_SYNC) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)


def offset_to_file_name(offset: int) -> str:
    return f"{offset:020d}"


class MappedFile:
    """One pre-allocated, memory-mapped file."""

    __slots__ = (
        "path", "file_name", "file_size", "file_from_offset", "address", "mm", "view",
        "wrote_position", "flushed_position", "store_timestamp", "first_create_in_queue",
        "available", "prefaulted_to", "prefault_mark",
    )

    def __init__(self, path: str, file_size: int, advice: int | None = None) -> None:
        self.path = path
        self.file_name = os.path.basename(path)
        self.file_size = file_size
        self.file_from_offset = int(self.file_name)
        self._map(advice)
        self.wrote_position = 0
        self.flushed_position = 0
        self.store_timestamp = 0
        self.first_create_in_queue = False
        self.available = True
        self.prefaulted_to = 0  # pages below this were handed to the prefaulting worker
        self.prefault_mark = 0  # the writer asks for the next window once it gets here

    def _map(self, advice: int | None) -> None:
        self.mm = map_file(self.path, self.file_size, advice)
        self.address = mapping_address(self.mm)
        self.view = memoryview(self.mm)

    def is_full(self) -> bool:
        return self.wrote_position >= self.file_size

    def able_to_flush(self, least_pages: int) -> bool:
        flushed = self.flushed_position
        wrote = self.wrote_position
        if wrote >= self.file_size and flushed < wrote:
            return True
        if least_pages > 0:
            return wrote // OS_PAGE_SIZE - flushed // OS_PAGE_SIZE >= least_pages
        return wrote > flushed

    def flush(self, least_pages: int) -> int:
        """fsync when enough is dirty; returns the flushed position. Worker-thread safe."""
        if self.able_to_flush(least_pages) and self.available:
            wrote = self.wrote_position
            self.sync()
            self.flushed_position = wrote
        return self.flushed_position

    def sync(self) -> None:
        """fdatasync of the whole file (through its mapping; worker-thread safe)."""
        if not self.available:
            raise OSError(errno.EBADF, "mapped file is closed", self.path)
        sync_mapping(self.address, self.file_size, self.path)

    def prefault(self, start: int, end: int) -> bool:
        """Fault in ``[start, end)`` readable (worker thread; ctypes releases the GIL). False
        when the kernel cannot (before 5.14, or the mapping is gone), which only costs speed."""
        if not self.available:
            return False
        return _madvise(self.address + start, end - start, _MADV_POPULATE_READ) == 0

    def last_modified_ms(self) -> float:
        try:
            return os.stat(self.path).st_mtime * 1000
        except OSError:
            return 0.0

    def touch(self) -> None:
        os.utime(self.path, None)

    def select(self, pos: int, size: int | None = None) -> memoryview | None:
        """A view of ``[pos, pos+size)`` (or to the write position) if it has been written."""
        end = self.wrote_position if size is None else pos + size
        if pos < 0 or end > self.wrote_position or pos > end:
            return None
        return self.view[pos:end]

    def close(self) -> None:
        """Unmap and close (memoryviews handed out keep the mapping alive until released)."""
        if not self.available:
            return
        self.available = False
        self.view.release()
        try:
            self.mm.close()
        except BufferError:
            pass  # a reader still holds a slice; the mapping goes away with it

    def destroy(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Allocator:
    """Creates mapped files on one worker thread, ahead of need (AllocateMappedFileService)."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="allocate")
        self._pending: dict[str, concurrent.futures.Future[MappedFile]] = {}
        self._lock = threading.Lock()
        self.prefault_supported = True

    def prefetch(self, path: str, size: int) -> None:
        with self._lock:
            if path not in self._pending:
                self._pending[path] = self._executor.submit(MappedFile, path, size)

    def take(self, path: str, size: int) -> MappedFile:
        with self._lock:
            future = self._pending.pop(path, None)
        if future is not None:
            try:
                return future.result()
            except OSError:
                log.exception("pre-allocation of %s failed, retrying inline", path)
        return MappedFile(path, size)

    def prefault(self, mf: "MappedFile", start: int, end: int) -> None:
        """Fault in ``mf``'s pages ``[start, end)`` on the worker thread; stops asking once the
        kernel has said no."""
        if self.prefault_supported:
            try:
                self._executor.submit(self._prefault, mf, start, end)
            except RuntimeError:  # shut down: the store is closing
                pass

    def _prefault(self, mf: "MappedFile", start: int, end: int) -> None:
        if mf.prefault(start, end) or not mf.available:  # done, or the file closed meanwhile
            return
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS):
            self.prefault_supported = False
            log.info("no MADV_POPULATE_READ on this kernel (%s): commit log pages fault in as written",
                     os.strerror(code))

    def submit(self, fn, *args) -> concurrent.futures.Future:
        return self._executor.submit(fn, *args)

    def shutdown(self) -> None:
        with self._lock:
            pending = list(self._pending.items())
            self._pending.clear()
        for path, future in pending:
            try:
                future.result().destroy()
            except OSError:
                pass
            log.debug("discarded pre-allocated %s", path)
        self._executor.shutdown(wait=True)


class MappedFileQueue:
    """Files of one size covering a contiguous range of offsets."""

    def __init__(self, store_path: str, mapped_file_size: int, allocator: Allocator | None = None,
                 advice: int | None = None) -> None:
        self.store_path = store_path
        self.mapped_file_size = mapped_file_size
        self.allocator = allocator
        self.advice = advice  # madvise() of every mapping (see RANDOM_ACCESS)
        self.files: list[MappedFile] = []
        self.flushed_where = 0
        self.store_timestamp = 0
        self.lock = threading.RLock()
        self.io_lock = threading.Lock()  # flush vs destroy, both on worker threads

    # ------------------------------------------------------------ loading
    def load(self) -> None:
        """Map every existing file; each is marked full until recovery sets real positions."""
        if not os.path.isdir(self.store_path):
            return
        names = sorted(n for n in os.listdir(self.store_path) if n.isdigit() and len(n) == 20)
        for name in names:
            mf = MappedFile(os.path.join(self.store_path, name), self.mapped_file_size, self.advice)
            mf.wrote_position = mf.flushed_position = self.mapped_file_size
            self.files.append(mf)

    # ------------------------------------------------------------ lookups
    def last(self) -> MappedFile | None:
        files = self.files
        return files[-1] if files else None

    def first(self) -> MappedFile | None:
        files = self.files
        return files[0] if files else None

    def get_last_mapped_file(self, start_offset: int = 0, need_create: bool = True) -> MappedFile | None:
        """The file being written; a new one when the last is full (or none exists yet)."""
        files = self.files
        last = files[-1] if files else None
        if last is not None and not last.is_full():
            return last
        if not need_create:
            return last
        if last is None:
            create_offset = start_offset - start_offset % self.mapped_file_size
        else:
            create_offset = last.file_from_offset + self.mapped_file_size
        return self._create(create_offset, first=last is None)

    def prefault_ahead(self, mf: MappedFile) -> None:
        """The writer of ``mf`` reached its ``prefault_mark``: have the allocator's worker fault
        in the next ``PREFAULT_WINDOW`` ahead of the write position, and ask again halfway."""
        if self.allocator is None:
            mf.prefault_mark = mf.file_size + 1
            return
        start = max(mf.prefaulted_to, mf.wrote_position - mf.wrote_position % OS_PAGE_SIZE)
        end = min(start + PREFAULT_WINDOW, mf.file_size)
        mf.prefaulted_to = end
        mf.prefault_mark = end - PREFAULT_WINDOW // 2 if end < mf.file_size else mf.file_size + 1
        if end > start:
            self.allocator.prefault(mf, start, end)

    def _create(self, create_offset: int, first: bool) -> MappedFile:
        mf = self.make_file(create_offset)
        self.adopt(mf, first)
        return mf

    def make_file(self, create_offset: int) -> MappedFile:
        """This queue's file at ``create_offset``, its folder made first, not yet in ``files``.
        Safe on a worker thread for a queue without an allocator (a consume queue)."""
        os.makedirs(self.store_path, exist_ok=True)
        path = os.path.join(self.store_path, offset_to_file_name(create_offset))
        if self.allocator is None:
            return MappedFile(path, self.mapped_file_size, self.advice)
        mf = self.allocator.take(path, self.mapped_file_size)
        next_path = os.path.join(self.store_path, offset_to_file_name(create_offset + self.mapped_file_size))
        self.allocator.prefetch(next_path, self.mapped_file_size)
        return mf

    def adopt(self, mf: MappedFile, first: bool) -> None:
        """Append ``mf`` (made by ``make_file``) as the queue's last file."""
        mf.first_create_in_queue = first
        with self.lock:
            self.files.append(mf)

    def find_mapped_file_by_offset(self, offset: int, return_first_on_not_found: bool = False) -> MappedFile | None:
        files = self.files
        if not files:
            return None
        first = files[0]
        index = offset // self.mapped_file_size - first.file_from_offset // self.mapped_file_size
        if 0 <= index < len(files):
            mf = files[index]
            if mf.file_from_offset <= offset < mf.file_from_offset + self.mapped_file_size:
                return mf
        for mf in files:
            if mf.file_from_offset <= offset < mf.file_from_offset + self.mapped_file_size:
                return mf
        return files[0] if return_first_on_not_found else None

    def get_min_offset(self) -> int:
        first = self.first()
        return first.file_from_offset if first is not None else -1

    def get_max_offset(self) -> int:
        last = self.last()
        return last.file_from_offset + last.wrote_position if last is not None else 0

    def how_much_fall_behind(self) -> int:
        return max(0, self.get_max_offset() - self.flushed_where) if self.files else 0

    # ------------------------------------------------------------ flush (worker thread)
    def may_flush(self, least_pages: int) -> bool:
        """False when ``flush(least_pages)`` would surely flush nothing: the unflushed bytes lie
        in the last file and are fewer pages than asked. Lock-free and cheap, for the consume
        queue flusher's pass over every queue (8,000 at 1,000 topics) each second."""
        files = self.files
        if not files:
            return False
        last = files[-1]
        if self.flushed_where < last.file_from_offset or last.is_full():
            return True  # an earlier file, or a full one: let flush() decide
        return last.able_to_flush(least_pages)

    def flush(self, least_pages: int) -> bool:
        """Flush the file holding ``flushed_where``. Returns True when nothing was flushed."""
        with self.lock:
            mf = self.find_mapped_file_by_offset(self.flushed_where, self.flushed_where == 0)
        if mf is None:
            return True
        timestamp = mf.store_timestamp
        with self.io_lock:
            where = mf.file_from_offset + mf.flush(least_pages)
        result = where == self.flushed_where
        if where > self.flushed_where:
            self.flushed_where = where
        if least_pages == 0 and timestamp:
            self.store_timestamp = timestamp
        return result

    def flush_until(self, target: int) -> int:
        """Flush everything up to at least ``target`` (group commit). Returns flushed_where."""
        for _ in range(len(self.files) + 1):
            if self.flushed_where >= target:
                break
            self.flush(0)
        return self.flushed_where

    # ------------------------------------------------------------ truncation and deletion
    def truncate_dirty_files(self, offset: int) -> None:
        """Drop everything at or beyond ``offset`` (recovery)."""
        keep: list[MappedFile] = []
        victims: list[MappedFile] = []
        for mf in self.files:
            tail = mf.file_from_offset + self.mapped_file_size
            if tail > offset and offset < mf.file_from_offset:
                victims.append(mf)
                continue
            if tail > offset:
                pos = offset - mf.file_from_offset
                mf.wrote_position = pos
                mf.flushed_position = min(mf.flushed_position, pos)
            keep.append(mf)
        with self.lock:
            self.files = keep
        for mf in reversed(victims):  # newest first: a kill never leaves a hole
            mf.destroy()

    def delete_last_mapped_file(self) -> None:
        with self.lock:
            mf = self.files.pop() if self.files else None
        if mf is not None:
            mf.destroy()

    def remove_files(self, victims: list[MappedFile]) -> None:
        """Take files out of the queue (loop thread); destroy them with ``destroy_files``."""
        ids = {id(v) for v in victims}
        with self.lock:
            self.files = [mf for mf in self.files if id(mf) not in ids]

    def destroy_files(self, victims: list[MappedFile]) -> None:
        """Unmap and delete removed files (worker thread)."""
        with self.io_lock:
            for mf in victims:
                mf.destroy()

    def expired_files_by_time(self, now_ms: float, expired_ms: float, clean_immediately: bool,
                              max_count: int = 10) -> list[MappedFile]:
        """Files (never the last) last modified more than ``expired_ms`` ago, oldest first."""
        result: list[MappedFile] = []
        for mf in self.files[:-1]:
            if now_ms >= mf.last_modified_ms() + expired_ms or clean_immediately:
                result.append(mf)
                if len(result) >= max_count:
                    break
            else:
                break
        return result

    def destroy(self) -> None:
        with self.lock:
            files, self.files = self.files, []
        for mf in files:
            mf.destroy()
        self.flushed_where = 0

    def close(self) -> None:
        with self.lock:
            files = list(self.files)
        for mf in files:
            mf.close()


def now_ms() -> float:
    return time.time() * 1000
