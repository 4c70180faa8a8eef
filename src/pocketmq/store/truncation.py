"""Crash-safe truncation of a store to an offset (upstream DefaultMessageStore.truncateFiles,
made safe against a kill at any point: upstream's is not, apache/rocketmq#10666).

Owns: the truncation intent record and the order of the truncation steps. A slave that
rejoins a new master cuts its commit log, consume queues, index and epoch file back to the
last offset it shares with the master, then follows the master from there.

The protocol:

1. ``truncateIntent`` (in the store root) is written through a temporary file, fsync and
   rename: from then on the truncation *will* happen, even if the process dies.
2. The epoch file drops the entries starting at or after the target.
3. The commit log drops its files beyond the target, newest first (never a hole), and zeroes
   the rest of the file holding the target, then fsyncs it.
4. Each consume queue drops the units pointing at or beyond the target, and is fsynced.
5. The index drops its files with an entry at or beyond the target, newest first, and
   re-indexes the commit log from the last surviving indexed offset up to the target.
6. The checkpoint's logics offset is capped at the target; the intent file is deleted.

Every step is idempotent. A store that starts with an intent file on disk recovers
abnormally (the commit log first cut at the target, so recovery never dispatches beyond it)
and then runs steps 2-6 again before it serves anything. A kill before step 1 leaves the old
store (the caller truncates again on its next try).

``on_step(name)`` is called after each step and sub-step: the fault tests stop the process
there and kill it.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from pocketmq.store.consume_queue import ConsumeQueue

if TYPE_CHECKING:
    from pocketmq.store.message_store import MessageStore

log = logging.getLogger(__name__)

INTENT_FILE = "truncateIntent"
_INTENT = struct.Struct(">4sqI")
_MAGIC = b"PMQT"

StepHook = Callable[[str], None]


class TruncationError(OSError):
    """The intent record is unreadable: the store cannot know where it was being cut."""


@dataclass(frozen=True, slots=True)
class TruncateIntent:
    target: int


def intent_path(root: str) -> str:
    return os.path.join(root, INTENT_FILE)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_intent(root: str, intent: TruncateIntent) -> None:
    body = _MAGIC + struct.pack(">q", intent.target)
    raw = _INTENT.pack(_MAGIC, intent.target, zlib.crc32(body))
    tmp = intent_path(root) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, intent_path(root))
    _fsync_dir(root)


def read_intent(root: str) -> TruncateIntent | None:
    try:
        with open(intent_path(root), "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    if len(raw) != _INTENT.size:
        raise TruncationError(f"{intent_path(root)} has {len(raw)} bytes, not {_INTENT.size}")
    magic, target, crc = _INTENT.unpack(raw)
    if magic != _MAGIC or crc != zlib.crc32(raw[:12]) or target < 0:
        raise TruncationError(f"{intent_path(root)} is corrupt (it is only ever replaced by rename, "
                              f"so something else wrote it)")
    return TruncateIntent(target)


def clear_intent(root: str) -> None:
    try:
        os.unlink(intent_path(root))
    except FileNotFoundError:
        return
    _fsync_dir(root)


def _no_step(_name: str) -> None:
    pass


def pause_once_at(prefix: str, millis: int, sleep: Callable[[float], None] = time.sleep) -> StepHook:
    """The test-only hook of ``truncationTestPauseAtStep``: the first step whose name starts
    with ``prefix`` blocks the process (the event loop included, as the truncation does) for
    ``millis``, after a log line the fault tests wait for."""
    paused = False

    def hook(name: str) -> None:
        nonlocal paused
        if paused or not name.startswith(prefix):
            return
        paused = True
        log.warning("truncation paused after step %s for %d ms (truncationTestPauseAtStep)", name, millis)
        sleep(millis / 1000)
        log.warning("truncation resumed after step %s", name)

    return hook


# ---------------------------------------------------------------------------- the steps
def truncate_commit_log(store: "MessageStore", target: int, on_step: StepHook = _no_step) -> None:
    """Drop commit-log bytes at and beyond ``target``: later files newest first, then zero and
    fsync the tail of the file holding it."""
    queue = store.commit_log.queue
    files = queue.files
    while files and (files[-1].file_from_offset > target
                     or (files[-1].file_from_offset == target and (target == 0 or len(files) > 1))):
        name = files[-1].file_name
        with queue.io_lock:
            queue.delete_last_mapped_file()
        files = queue.files
        on_step(f"commitlog-delete-{name}")
    if not files:
        queue.flushed_where = 0
        return
    last = files[-1]
    pos = target - last.file_from_offset
    if pos < last.file_size:
        store.commit_log.zero_tail(target)
    last.wrote_position = pos
    last.flushed_position = min(last.flushed_position, pos)
    with queue.io_lock:
        last.sync()
    queue.flushed_where = min(queue.flushed_where, target)
    on_step("commitlog-tail")


def truncate_consume_queue(cq: ConsumeQueue, target: int) -> None:
    cq.truncate_dirty_logic_files(target)
    last = cq.queue.last()
    if last is not None:
        with cq.queue.io_lock:
            last.sync()


def run(store: "MessageStore", intent: TruncateIntent, on_step: StepHook = _no_step) -> None:
    """Steps 2-6 (idempotent); the intent record is on disk already."""
    target = intent.target
    store.epoch_file.truncate_suffix_by_offset(target)
    on_step("epoch")
    truncate_commit_log(store, target, on_step)
    for cq in store.all_consume_queues():
        truncate_consume_queue(cq, target)
        on_step(f"cq-{cq.topic}-{cq.queue_id}")
    store.reindex_after_truncation(target, on_step)
    on_step("index")
    store.after_truncation(target)
    on_step("checkpoint")
    clear_intent(store.root)
    on_step("cleared")


def truncate(store: "MessageStore", target: int, on_step: StepHook = _no_step) -> None:
    """The whole protocol: intent, steps, clear (the store must take no writes meanwhile)."""
    on_step("begin")
    write_intent(store.root, TruncateIntent(target))
    on_step("intent")
    log.warning("truncating store %s from %d to %d", store.root, store.get_max_phy_offset(), target)
    run(store, TruncateIntent(target), on_step)
