"""The message store facade (upstream DefaultMessageStore): the one object the broker uses.

Owns: startup (load, normal or abnormal recovery, abort file, store lock), the put path (checks,
append, synchronous dispatch to consume queues and index, flush and replication waiting), the
get path (pull lookups with upstream statuses and transfer limits), lookups by offset, key and
time, retention and the disk guard, runtime statistics, and HA hooks.

API (all offsets are ints; ``view`` means a memoryview slice of a mapped file, not a copy)::

    store = MessageStore(config: MessageStoreConfig, store_host: tuple[str, int],
                         *, clock: Clock = SYSTEM_CLOCK,                    # pocketmq.clock
                         disk_usage: Callable[[str], float] | None = None)  # 0..1 used ratio
    await store.start(); await store.shutdown()
    await store.put_message(msg: MessageExtBrokerInner) -> PutMessageResult
    store.append_message(msg) -> PutMessageResult   # the same without the flush/replication wait
    await store.put_messages(topic, queue_id, sys_flag, born_timestamp, born_host,
                             records: Sequence[BatchRecord], *, extra_properties="",
                             reconsume_times=0) -> PutMessageResult
    store.get_message(group, topic, queue_id, offset, max_msg_nums,
                      tags_codes: set[int] | None = None, message_filter=None) -> GetMessageResult
    store.get_max_offset_in_queue(topic, qid) / get_min_offset_in_queue(topic, qid)
    store.get_offset_in_queue_by_time(topic, qid, timestamp)
    store.get_earliest_message_time(topic, qid) / get_earliest_message_time_overall()
    store.get_commit_log_offset_in_queue(topic, qid, cq_offset)
    store.get_message_store_timestamp(topic, qid, cq_offset)
    store.look_message_by_offset(phy_offset, size=None) -> view | None
    store.query_message(topic, key, max_num, begin_ts, end_ts) -> QueryMessageResult
    store.get_max_phy_offset() / get_min_phy_offset() / flushed_where / dispatch_behind_bytes()
    store.get_runtime_info() -> dict[str, str]
    store.delete_topics(topics) / clean_unused_topic(keep_topics) / topic_queue_table
    await store.run_clean_once(manual=False)      # retention + disk guard (also periodic)
    store.get_commit_log_data(offset) -> view | None            # HA master
    store.append_to_commit_log(start_offset, data) -> bool      # HA slave (then dispatches)
    store.message_arriving_listener = fn(topic, queue_id, next_logic_offset, tags_code,
                                         store_timestamp, properties) | None
    store.replication_waiter = async fn(end_offset) -> PutMessageStatus | None  # SYNC_MASTER

``topic_queue_table`` maps (topic, queue_id) to the next queue offset. A ``message_filter`` has
``is_matched_by_consume_queue(tags_code) -> bool`` and ``is_matched_by_commit_log(view) -> bool``.
Writes are refused with SERVICE_NOT_AVAILABLE (and a ``remark``) on a SLAVE, after shutdown, or
while disk use is above ``diskSpaceWarningLevelRatio``; they resume when space returns.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import shutil
import time
from typing import Any, Awaitable, Callable, Protocol, Sequence

from pocketmq.clock import SYSTEM_CLOCK, Clock, local_hour_matches
from pocketmq.config import MessageStoreConfig
from pocketmq.protocol import message as m
from pocketmq.store import flush as flush_mod
from pocketmq.store.checkpoint import StoreCheckpoint, abort_file_path, create_abort_file, delete_abort_file
from pocketmq.store import timer
from pocketmq.store.commit_log import SCHEDULE_TOPIC, CommitLog, DispatchRequest
from pocketmq.store import truncation
from pocketmq.store.consume_queue import CQ_STORE_UNIT_SIZE, UNIT, ConsumeQueue
from pocketmq.store.epoch_file import EpochFile
from pocketmq.store.index import IndexService
from pocketmq.store.mapped_file import Allocator
from pocketmq.store.results import (
    AppendMessageResult, AppendMessageStatus, GetMessageResult, GetMessageStatus, PutMessageResult,
    PutMessageStatus, QueryMessageResult,
)
from pocketmq.store.stats import StoreStatsService

log = logging.getLogger(__name__)

try:
    TOTAL_PHYSICAL_MEMORY = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
except (ValueError, OSError, AttributeError):  # pragma: no cover
    TOTAL_PHYSICAL_MEMORY = 8 << 30

_NORMAL_TRAN = (m.TRANSACTION_NOT_TYPE, m.TRANSACTION_COMMIT_TYPE)


class MessageFilter(Protocol):
    def is_matched_by_consume_queue(self, tags_code: int) -> bool: ...
    def is_matched_by_commit_log(self, raw: memoryview) -> bool: ...


ArrivingListener = Callable[[str, int, int, int, int, "dict[str, str] | None"], None]


def unsafe_topic_name(topic: str) -> bool:
    """A topic whose consume queue folder would not be a plain child of consumequeue/ (a path
    separator, NUL, "." or ".."): never stored, never looked up. Retry topics carry group names,
    which upstream does not validate, so this is the store's own guard."""
    return topic in ("", ".", "..") or "/" in topic or "\\" in topic or "\0" in topic


def disk_used_ratio(path: str) -> float:
    """Used fraction (0..1) of the partition holding ``path``; -1 if unknown."""
    try:
        while not os.path.exists(path):
            path = os.path.dirname(path) or "/"
        usage = shutil.disk_usage(path)
        return (usage.total - usage.free) / usage.total if usage.total else -1.0
    except OSError:
        return -1.0


def _human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


class MessageStore:
    def __init__(self, config: MessageStoreConfig, store_host: tuple[str, int], *,
                 clock: Clock = SYSTEM_CLOCK,
                 disk_usage: Callable[[str], float] | None = None) -> None:
        self.config = config
        self.store_host = store_host
        self.root = config.storePathRootDir
        self.clock = clock
        self.disk_usage = disk_usage or disk_used_ratio
        self.allocator = Allocator()
        self.commit_log = CommitLog(config, store_host, self.allocator)
        self.consume_queue_table: dict[str, dict[int, ConsumeQueue]] = {}
        self.index_service = IndexService(self.root, config.maxHashSlotNum, config.maxIndexNum)
        self.epoch_file = EpochFile(self.root)  # controller mode: which epoch wrote what
        self.truncation_hook: truncation.StepHook | None = None  # fault tests stop here
        # Called with the target after every truncation (and its redo at start-up), before the
        # truncation is recorded done: state kept beside the store (the timer's checkpoint)
        # follows the cut. Must be idempotent.
        self.truncation_listeners: list[Callable[[int], None]] = []
        if config.truncationTestPauseAtStep:
            self.truncation_hook = truncation.pause_once_at(config.truncationTestPauseAtStep,
                                                            config.truncationTestPauseMillis)
        self.stats = StoreStatsService(clock)
        self.checkpoint: StoreCheckpoint | None = None
        self.message_arriving_listener: ArrivingListener | None = None
        self.replication_waiter: Callable[[int], Awaitable[PutMessageStatus]] | None = None
        self.read_limit: Callable[[], int | None] | None = None  # controller mode: the confirm offset
        self.running = False
        self.disk_full = False
        self.disk_ratio = 0.0
        self.last_exit_ok = True
        self.reput_from_offset = 0
        self._last_dispatch_timestamp = 0
        self._last_physical_min_offset = 0
        self._group_commit: flush_mod.GroupCommitService | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._preparing: set[asyncio.Task[None]] = set()  # prepare_consume_queues' workers
        self._lock_fd: int | None = None
        self._index_enable = config.messageIndexEnable
        self._is_slave = config.brokerRole == "SLAVE"

    # ================================================================ lifecycle
    @property
    def topic_queue_table(self) -> dict[tuple[str, int], int]:
        return self.commit_log.topic_queue_table

    @property
    def flushed_where(self) -> int:
        return self.commit_log.queue.flushed_where

    async def start(self) -> None:
        await asyncio.to_thread(self._load_and_recover)
        create_abort_file(self.root)
        self.running = True
        self._start_services()

    def _start_services(self) -> None:
        if self.config.is_sync_flush():
            self._group_commit = flush_mod.GroupCommitService(self)
            self._group_commit.start()
        else:
            self._spawn(flush_mod.async_flush_loop(self))
        self._spawn(flush_mod.consume_queue_flush_loop(self))
        self._spawn(self._clean_loop())
        self._spawn(self._stats_loop())

    async def _stop_services(self) -> None:
        if self._group_commit is not None:
            await self._group_commit.stop()
            self._group_commit = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro))

    async def shutdown(self) -> None:
        """Flush everything, write the checkpoint, delete the abort file."""
        if not self.running:
            return
        self.running = False
        await self._stop_services()
        await asyncio.to_thread(self._final_flush_and_close)
        delete_abort_file(self.root)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _final_flush_and_close(self) -> None:
        self.flush_commit_log_until(self.commit_log.get_max_offset())
        self._flush_logics_sync(self._all_queues(), 0, self._last_dispatch_timestamp, self.reput_from_offset)
        self.allocator.shutdown()
        self.commit_log.queue.close()
        for cq in self._all_queues():
            cq.queue.close()
        self.index_service.close()
        if self.checkpoint is not None:
            self.checkpoint.close()

    # ================================================================ load and recovery
    def _acquire_lock(self) -> None:
        fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RuntimeError(f"store {self.root} is locked by another process") from None
        self._lock_fd = fd

    def _load_and_recover(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        self._acquire_lock()
        self.last_exit_ok = not os.path.exists(abort_file_path(self.root))
        self.checkpoint = StoreCheckpoint(os.path.join(self.root, "checkpoint"))
        self.epoch_file.load()
        self.commit_log.queue.load()
        intent = truncation.read_intent(self.root)
        if intent is not None:
            # Killed while truncating: cut the commit log first so recovery never dispatches
            # beyond the target, then finish every other step below.
            log.warning("store %s was being truncated to %d when it stopped: finishing that", self.root,
                        intent.target)
            truncation.truncate_commit_log(self, intent.target)
            self.last_exit_ok = False
        self._load_consume_queues()
        if self._index_enable:
            self.index_service.load(self.last_exit_ok, self.checkpoint.index_msg_timestamp)
        for cq in self._all_queues():
            cq.recover()
        max_phy_of_cq = max((cq.max_physic_offset for cq in self._all_queues()), default=-1)
        if self.last_exit_ok:
            self._recover_normally(max_phy_of_cq)
        else:
            self._recover_abnormally(max_phy_of_cq)
        self._recover_topic_queue_table()
        self.reput_from_offset = self.commit_log.get_max_offset()
        if intent is not None:
            truncation.run(self, intent, self.truncation_hook or (lambda _name: None))

    def _load_consume_queues(self) -> None:
        root = os.path.join(self.root, "consumequeue")
        if not os.path.isdir(root):
            return
        for topic in os.listdir(root):
            topic_dir = os.path.join(root, topic)
            if not os.path.isdir(topic_dir):
                continue
            for qid in os.listdir(topic_dir):
                if qid.lstrip("-").isdigit():
                    cq = self.find_consume_queue(topic, int(qid))
                    cq.load()

    def _recover_normally(self, max_phy_of_cq: int) -> None:
        files = self.commit_log.queue.files
        if not files:
            self._reset_logics()
            return
        end, invalid = self.commit_log.scan(len(files) - 3, self.config.checkCRCOnRecover, None)
        self._finish_recovery(end, invalid, max_phy_of_cq)

    def _recover_abnormally(self, max_phy_of_cq: int) -> None:
        files = self.commit_log.queue.files
        if not files:
            self._reset_logics()
            return
        assert self.checkpoint is not None
        min_ts = self.checkpoint.min_timestamp()
        if self._index_enable:
            min_ts = min(min_ts, self.checkpoint.index_msg_timestamp)
        start = 0
        for i in range(len(files) - 1, -1, -1):
            ts = self.commit_log.first_store_timestamp(files[i])
            if ts and ts <= min_ts:
                start = i
                break
        start = min(start, self._file_index_holding(self.checkpoint.logics_phy_offset))
        rebuild = self.index_service.rebuild_from_offset if self._index_enable else None
        if rebuild is not None:  # index files dropped at load: their keys are dispatched again
            start = min(start, self._file_index_holding(rebuild) if rebuild > 0 else 0)
        log.info("abnormal recovery from commit log file %s", files[start].file_name)
        end, invalid = self.commit_log.scan(start, self.config.checkCRCOnRecover, self._dispatch_request)
        self._finish_recovery(end, invalid, max_phy_of_cq)

    def _file_index_holding(self, offset: int) -> int:
        """The index of the commit-log file holding ``offset`` (the first when none does, so an
        old checkpoint without the offset keeps upstream's timestamp rule alone)."""
        files = self.commit_log.queue.files
        for i in range(len(files) - 1, -1, -1):
            if files[i].file_from_offset <= offset:
                return i if offset > 0 else len(files) - 1
        return 0

    def _finish_recovery(self, end: int, invalid: bool, max_phy_of_cq: int) -> None:
        if invalid:
            self.commit_log.zero_tail(end)
        self.commit_log.queue.flushed_where = end
        self.commit_log.queue.truncate_dirty_files(end)
        for cq in self._all_queues():
            cq.truncate_dirty_logic_files(end)

    def _reset_logics(self) -> None:
        for cq in self._all_queues():
            cq.destroy()
        self.consume_queue_table.clear()
        self.index_service.destroy()

    def _recover_topic_queue_table(self) -> None:
        table: dict[tuple[str, int], int] = {}
        min_phy = self.commit_log.get_min_offset()
        for cq in self._all_queues():
            table[(cq.topic, cq.queue_id)] = cq.get_max_offset_in_queue()
            cq.correct_min_offset(min_phy)
        self.commit_log.topic_queue_table = table

    def set_role(self, role: str) -> None:
        """Controller mode: SLAVE refuses writes from now on (fenced); a master takes them."""
        self.config.brokerRole = role
        self._is_slave = role == "SLAVE"

    # ================================================================ truncation (controller mode)
    async def truncate_files(self, target: int, on_step: truncation.StepHook | None = None) -> None:
        """Cut the store back to commit-log offset ``target`` (a slave rejoining a new master),
        crash-safely (see ``truncation``). Flushing stops meanwhile; the steps run on the event
        loop so no pull or append sees a half-cut store. The caller takes no writes meanwhile."""
        if target < 0:
            raise ValueError(f"truncation target {target} < 0")
        if target >= self.get_max_phy_offset():
            return
        await self._stop_services()
        try:
            truncation.truncate(self, target, on_step or self.truncation_hook or (lambda _name: None))
        finally:
            if self.running:
                self._start_services()

    def all_consume_queues(self) -> list[ConsumeQueue]:
        return self._all_queues()

    def reindex_after_truncation(self, target: int, on_step: truncation.StepHook) -> None:
        """Drop index files holding an entry at or beyond ``target``, newest first, then index
        the commit log again from the last surviving indexed offset up to ``target``."""
        if not self._index_enable:
            return
        service = self.index_service
        while service.files and service.files[-1].end_phy_offset >= target:
            victim = service.files.pop()
            victim.destroy()
            on_step(f"index-delete-{victim.file_name}")
        indexed = [f for f in service.files if f.index_count > 1]
        keep_end = indexed[-1].end_phy_offset if indexed else -1
        offset = max(keep_end, self.commit_log.get_min_offset())
        if offset < 0:
            return
        for count, req in enumerate(self.commit_log.entries_between(offset, target), 1):
            if req.commit_log_offset > keep_end:
                props = req.properties
                service.build_index(req.topic, props.get(m.PROPERTY_KEYS),
                                    props.get(m.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX),
                                    req.commit_log_offset, req.store_timestamp, req.sys_flag)
            if count % 300 == 0:
                on_step(f"index-rebuilt-{req.commit_log_offset}")
        for f in service.files[-2:]:
            f.flush()

    def after_truncation(self, target: int) -> None:
        """In-memory tables follow the cut store; the checkpoint never points beyond it."""
        self._recover_topic_queue_table()
        self.reput_from_offset = self.commit_log.get_max_offset()
        if self.checkpoint is not None:
            self.checkpoint.logics_phy_offset = min(self.checkpoint.logics_phy_offset, target)
            self.checkpoint.flush()
        for listener in self.truncation_listeners:
            listener(target)

    # ================================================================ dispatch
    def _all_queues(self) -> list[ConsumeQueue]:
        return [cq for queues in self.consume_queue_table.values() for cq in queues.values()]

    def _queue_ready(self, topic: str, queue_id: int) -> ConsumeQueue:
        """The consume queue a message for (topic, queue_id) goes into, with the file for its next
        unit in place: asked before the commit-log write, so that a queue file which cannot be
        created (e.g. EMFILE with thousands of queues) refuses the put with nothing written,
        instead of leaving a stored message no consume queue points to."""
        cq = self.find_consume_queue(topic, queue_id)
        if cq.needs_new_file():
            cq.writable_file(self.commit_log.topic_queue_table.get((topic, queue_id), 0))
        return cq

    def _build_index(self, topic: str, keys: str | None, uniq: str | None, phy: int, store_ts: int,
                     sys_flag: int) -> None:
        """Index a stored message's keys. The message is stored and queued already, so an index
        file that cannot be created costs only its keys' lookups (upstream logs it the same way)."""
        try:
            self.index_service.build_index(topic, keys, uniq, phy, store_ts, sys_flag)
        except OSError:
            log.exception("build index error: the keys of the message at %d are not indexed", phy)

    def find_consume_queue(self, topic: str, queue_id: int) -> ConsumeQueue:
        queues = self.consume_queue_table.get(topic)
        if queues is None:
            if unsafe_topic_name(topic):  # its folder would lie outside consumequeue/
                raise ValueError(f"topic name {topic!r} not allowed")
            queues = self.consume_queue_table[topic] = {}
        cq = queues.get(queue_id)
        if cq is None:
            cq = queues[queue_id] = ConsumeQueue(topic, queue_id, os.path.join(self.root, "consumequeue"),
                                                 self.config.mappedFileSizeConsumeQueue)
        return cq

    def prepare_consume_queues(self, topic: str, queue_ids: Sequence[int]) -> None:
        """Create the first file of each of ``topic``'s queues that has none and never held a
        message, on a worker thread (a topic just created by UPDATE_AND_CREATE_TOPIC). Otherwise
        the first put to each queue creates it on the event loop: about 14 % of the loop's time
        while 1,000 new topics of 8 queues took their first messages (bench/README.md, "New
        topics' queue files"). A put that comes first creates the file itself, as before."""
        if not self.running or unsafe_topic_name(topic):
            return
        queues = [self.find_consume_queue(topic, q) for q in queue_ids
                  if self.commit_log.topic_queue_table.get((topic, q), 0) == 0]
        fresh = [cq for cq in queues if not cq.queue.files]
        if fresh:
            task = asyncio.get_running_loop().create_task(self._prepare_consume_queues(topic, fresh))
            self._preparing.add(task)
            task.add_done_callback(self._preparing.discard)

    async def _prepare_consume_queues(self, topic: str, queues: list[ConsumeQueue]) -> None:
        try:
            made = await asyncio.to_thread(lambda: [(cq, cq.queue.make_file(0)) for cq in queues])
        except OSError as exc:  # no descriptors or no space: the first put meets it and refuses
            log.warning("preparing consume queues of %s failed: %s", topic, exc)
            return
        for cq, mf in made:
            registered = self.consume_queue_table.get(topic, {}).get(cq.queue_id) is cq
            if not registered and topic not in self.consume_queue_table:
                mf.destroy()  # the topic was deleted meanwhile
            elif (not registered or not self.running or cq.queue.files
                  or self.commit_log.topic_queue_table.get((topic, cq.queue_id), 0) != 0):
                mf.close()  # a put created the same file first: only our mapping goes
            else:
                cq.queue.adopt(mf, first=True)

    def _dispatch_request(self, req: DispatchRequest) -> None:
        if req.topic not in self.consume_queue_table and unsafe_topic_name(req.topic):
            log.error("not indexing the message at %d: topic name %r not allowed", req.commit_log_offset, req.topic)
            return
        if req.sys_flag & m.TRANSACTION_TYPE_MASK in _NORMAL_TRAN:
            self.find_consume_queue(req.topic, req.queue_id).put(
                req.commit_log_offset, req.msg_size, req.tags_code, req.queue_offset)
        if self._index_enable:
            props = req.properties
            self.index_service.build_index(req.topic, props.get(m.PROPERTY_KEYS),
                                           props.get(m.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX),
                                           req.commit_log_offset, req.store_timestamp, req.sys_flag)
        self._last_dispatch_timestamp = req.store_timestamp

    def _notify(self, topic: str, queue_id: int, next_offset: int, tags_code: int, store_ts: int,
                properties: dict[str, str] | None) -> None:
        listener = self.message_arriving_listener
        if listener is not None:
            try:
                listener(topic, queue_id, next_offset, tags_code, store_ts, properties)
            except Exception:  # a listener bug must not fail an acknowledged put
                log.exception("message arriving listener failed")

    # ================================================================ put
    def _check_store_status(self) -> PutMessageResult | None:
        if not self.running:
            return PutMessageResult(PutMessageStatus.SERVICE_NOT_AVAILABLE, remark="message store is not running")
        if self._is_slave:
            return PutMessageResult(PutMessageStatus.SERVICE_NOT_AVAILABLE,
                                    remark="message store is a SLAVE and refuses writes")
        if self.disk_full:
            return PutMessageResult(PutMessageStatus.SERVICE_NOT_AVAILABLE,
                                    remark=f"the broker's disk is full [{self.disk_ratio:.2%} used, above "
                                           f"diskSpaceWarningLevelRatio {self.config.diskSpaceWarningLevelRatio}%]")
        return None

    def _apply_delay(self, msg: m.MessageExtBrokerInner) -> None:
        """DELAY > 0 on a normal message: store it in SCHEDULE_TOPIC_XXXX as upstream."""
        level_text = msg.get_property(m.PROPERTY_DELAY_TIME_LEVEL)
        try:
            level = int(level_text) if level_text else 0
        except ValueError:
            return
        if level <= 0:
            return
        level = min(level, len(self.commit_log.delay_levels))
        msg.put_property(m.PROPERTY_DELAY_TIME_LEVEL, str(level))
        msg.put_property(m.PROPERTY_REAL_TOPIC, msg.topic)
        msg.put_property(m.PROPERTY_REAL_QUEUE_ID, str(msg.queue_id))
        msg.topic = SCHEDULE_TOPIC
        msg.queue_id = level - 1

    def _apply_timer(self, msg: m.MessageExtBrokerInner) -> PutMessageResult | None:
        """TIMER_DELIVER_MS/TIMER_DELAY_SEC/TIMER_DELAY_MS: park it in the timer topic (store/timer.py)."""
        config = self.config
        properties = msg.get_properties()
        if msg.topic == timer.TIMER_TOPIC or not timer.wants_timer(properties):
            return None
        if not config.timerWheelEnable:
            return PutMessageResult(PutMessageStatus.WHEEL_TIMER_NOT_ENABLE,
                                    remark=f"accurate timer message is not enabled, timerWheelEnable is "
                                           f"{str(config.timerWheelEnable).lower()}")
        try:
            timer.apply_timer(msg, self.clock.now_ms(), config.timerPrecisionMs, config.timerMaxDelaySec)
        except timer.TimerMessageIllegal as exc:
            log.debug("timer message refused (%s): %s", exc, msg.topic)
            return PutMessageResult(PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL, remark=timer_illegal_remark(config))
        return None

    @property
    def waits_after_append(self) -> bool:
        """Whether a put waits after its append (SYNC_FLUSH, or a SYNC_MASTER's replication):
        if not, ``append_message`` alone is the whole put."""
        return self._group_commit is not None or self.replication_waiter is not None

    @property
    def waits_for_flush_only(self) -> bool:
        """Whether the only wait after an append is the group commit's (SYNC_FLUSH, and no
        SYNC_MASTER replication wait): ``answer_when_flushed`` then finishes a put."""
        return self._group_commit is not None and not (
            self.replication_waiter is not None and self.config.brokerRole == "SYNC_MASTER")

    def answer_when_flushed(self, msg: m.MessageExtBrokerInner, result: PutMessageResult,
                            answer: Callable[[PutMessageResult], None]) -> None:
        """The rest of ``put_message`` after a successful ``append_message`` when
        ``waits_for_flush_only``: ``answer(result)`` on the loop once the put is flushed (or
        its FLUSH_DISK_TIMEOUT), with no coroutine waiting meanwhile."""
        group_commit = self._group_commit
        append = result.append_result
        assert group_commit is not None and append is not None
        if not msg.wait_store_msg_ok:
            group_commit.wakeup()
            answer(result)
            return
        group_commit.call_when_flushed(
            append.wrote_offset + append.wrote_bytes,
            lambda status: answer(result if status is PutMessageStatus.PUT_OK else PutMessageResult(status, append)))

    async def put_message(self, msg: m.MessageExtBrokerInner) -> PutMessageResult:
        result = self.append_message(msg)
        append = result.append_result
        if result.status is not PutMessageStatus.PUT_OK or append is None or not self.waits_after_append:
            return result  # refused, or ASYNC_FLUSH without a SYNC_MASTER wait
        return await self._handle_flush_and_ha(msg, append)

    def append_message(self, msg: m.MessageExtBrokerInner) -> PutMessageResult:
        """A put up to its append and dispatch, without the flush and replication wait: the
        whole put when ``waits_after_append`` is false (the send path's synchronous case)."""
        refused = self._check_store_status()
        if refused is not None:
            return refused
        topic_limit = m.MAX_STORED_TOPIC_LENGTH
        if len(msg.topic) > topic_limit // 4 and len(msg.topic.encode("utf-8")) > topic_limit:
            return PutMessageResult(PutMessageStatus.MESSAGE_ILLEGAL,
                                    remark=f"topic length > {m.MAX_STORED_TOPIC_LENGTH}")
        if unsafe_topic_name(msg.topic):
            return PutMessageResult(PutMessageStatus.MESSAGE_ILLEGAL, remark=f"topic name {msg.topic!r} not allowed")
        tran = msg.sys_flag & m.TRANSACTION_TYPE_MASK
        props_str = msg.properties_string
        if tran in _NORMAL_TRAN and (
                (props_str is not None and "TIMER_" in props_str)
                or (props_str is None and msg.properties and _has_timer_key(msg.properties))):
            refused = self._apply_timer(msg)
            if refused is not None:
                return refused
            props_str = msg.properties_string
        if tran in _NORMAL_TRAN and (
                (props_str is not None and "DELAY\x01" in props_str)
                or (props_str is None and msg.properties and m.PROPERTY_DELAY_TIME_LEVEL in msg.properties)):
            self._apply_delay(msg)
            props_str = None
        if props_str is None:
            props_str = msg.encoded_properties()
        props = props_str.encode("utf-8")
        if len(props) > m.MAX_PROPERTIES_LENGTH:
            return PutMessageResult(PutMessageStatus.PROPERTIES_SIZE_EXCEEDED,
                                    remark=f"properties length {len(props)} > {m.MAX_PROPERTIES_LENGTH}")
        begin = time.perf_counter()
        store_ts = self.clock.now_ms()
        try:
            cq = self._queue_ready(msg.topic, msg.queue_id) if tran in _NORMAL_TRAN else None
            result = self.commit_log.append_message(msg, store_ts, props)
        except OSError as exc:
            log.exception("create mapped file failed")
            self.stats.put_message_failed_times += 1
            return PutMessageResult(PutMessageStatus.CREATE_MAPEDFILE_FAILED, remark=str(exc))
        if result.status is not AppendMessageStatus.PUT_OK:
            self.stats.put_message_failed_times += 1
            return PutMessageResult(PutMessageStatus.MESSAGE_ILLEGAL, result,
                                    remark=f"message size exceeds maxMessageSize {self.config.maxMessageSize}")
        phy = result.wrote_offset
        size = result.wrote_bytes
        tags_code = msg.tags_code
        if msg.topic == SCHEDULE_TOPIC:
            level = msg.get_property(m.PROPERTY_DELAY_TIME_LEVEL)
            if level and level.isdigit():
                tags_code = self.commit_log.delay_tags_code(int(level), store_ts)
        if cq is not None:
            cq.put(phy, size, tags_code, result.logics_offset)
        if self._index_enable and tran != m.TRANSACTION_ROLLBACK_TYPE:
            properties = msg.properties
            if properties is None:  # pre-encoded: pick the two keys without building a dict
                keys = m.property_from_string(props_str, m.PROPERTY_KEYS)
                uniq = m.property_from_string(props_str, m.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            else:
                keys = properties.get(m.PROPERTY_KEYS)
                uniq = properties.get(m.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
            if keys or uniq:
                self._build_index(msg.topic, keys, uniq, phy, store_ts, msg.sys_flag)
        self._last_dispatch_timestamp = store_ts
        self.reput_from_offset = phy + size
        if tran in _NORMAL_TRAN and self.message_arriving_listener is not None:
            self._notify(msg.topic, msg.queue_id, result.logics_offset + 1, tags_code, store_ts, msg.properties)
        self.stats.record_put(size, (time.perf_counter() - begin) * 1000)
        return PutMessageResult(PutMessageStatus.PUT_OK, result)

    async def _handle_flush_and_ha(self, msg: m.MessageExtBrokerInner | None,
                                   result: AppendMessageResult) -> PutMessageResult:
        status = PutMessageStatus.PUT_OK
        group_commit = self._group_commit
        waiter = self.replication_waiter
        if group_commit is None and waiter is None:
            return PutMessageResult(status, result)
        wait = msg.wait_store_msg_ok if msg is not None else True
        end_offset = result.wrote_offset + result.wrote_bytes
        if group_commit is not None:
            if wait:
                status = await group_commit.wait_flushed(end_offset)
            else:
                group_commit.wakeup()
        if waiter is not None and wait and self.config.brokerRole == "SYNC_MASTER":
            replica_status = await waiter(end_offset)
            if replica_status is not PutMessageStatus.PUT_OK:
                status = replica_status
        return PutMessageResult(status, result)

    async def put_messages(self, topic: str, queue_id: int, sys_flag: int, born_timestamp: int,
                           born_host: tuple[str, int], records: Sequence[m.BatchRecord], *,
                           extra_properties: str = "", reconsume_times: int = 0,
                           wait_store_msg_ok: bool = True) -> PutMessageResult:
        """Store a batch (SEND_BATCH_MESSAGE): one file, consecutive queue offsets.
        ``extra_properties`` (e.g. the header's WAIT and the broker's CLUSTER) is appended to
        every record's properties, with a separator when needed, as upstream."""
        refused = self._check_store_status()
        if refused is not None:
            return refused
        if len(topic.encode("utf-8")) > m.MAX_STORED_TOPIC_LENGTH:
            return PutMessageResult(PutMessageStatus.MESSAGE_ILLEGAL, remark=f"topic length > {m.MAX_STORED_TOPIC_LENGTH}")
        if unsafe_topic_name(topic):
            return PutMessageResult(PutMessageStatus.MESSAGE_ILLEGAL, remark=f"topic name {topic!r} not allowed")
        if sys_flag & m.TRANSACTION_TYPE_MASK != m.TRANSACTION_NOT_TYPE:
            return PutMessageResult(PutMessageStatus.MESSAGE_ILLEGAL, remark="batch messages cannot be transactional")
        if not records:
            return PutMessageResult(PutMessageStatus.MESSAGE_ILLEGAL, remark="empty batch")
        encoded: list[tuple[int, bytes, bytes]] = []
        all_props: list[dict[str, str]] = []
        for record in records:
            props = record.properties
            if extra_properties:
                if props and not props.endswith(m.PROPERTY_SEPARATOR):
                    props += m.PROPERTY_SEPARATOR
                props += extra_properties
            raw = props.encode("utf-8")
            if len(raw) > m.MAX_PROPERTIES_LENGTH:
                return PutMessageResult(PutMessageStatus.PROPERTIES_SIZE_EXCEEDED,
                                        remark=f"properties length {len(raw)} > {m.MAX_PROPERTIES_LENGTH}")
            encoded.append((record.flag, record.body, raw))
            all_props.append(m.string_to_properties(props))
        begin = time.perf_counter()
        store_ts = self.clock.now_ms()
        try:
            cq = self._queue_ready(topic, queue_id)
            result, placed = self.commit_log.append_batch(topic, queue_id, sys_flag, born_timestamp, born_host,
                                                          encoded, store_ts, reconsume_times)
        except OSError as exc:
            log.exception("create mapped file failed")
            self.stats.put_message_failed_times += 1
            return PutMessageResult(PutMessageStatus.CREATE_MAPEDFILE_FAILED, remark=str(exc))
        if result.status is not AppendMessageStatus.PUT_OK:
            return PutMessageResult(PutMessageStatus.MESSAGE_ILLEGAL, result,
                                    remark=f"message size exceeds maxMessageSize {self.config.maxMessageSize}")
        for (phy, size, queue_offset), props in zip(placed, all_props):
            tags_code = m.tags_string_to_tags_code(props.get(m.PROPERTY_TAGS))
            cq.put(phy, size, tags_code, queue_offset)
            if self._index_enable:
                self._build_index(topic, props.get(m.PROPERTY_KEYS),
                                  props.get(m.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX), phy, store_ts, sys_flag)
            self._notify(topic, queue_id, queue_offset + 1, tags_code, store_ts, props)
        self._last_dispatch_timestamp = store_ts
        self.reput_from_offset = result.wrote_offset + result.wrote_bytes
        self.stats.record_put(result.wrote_bytes, (time.perf_counter() - begin) * 1000, len(records))
        inner = None
        if not wait_store_msg_ok:
            inner = m.MessageExtBrokerInner(topic=topic, body=b"", properties={m.PROPERTY_WAIT_STORE_MSG_OK: "false"})
        return await self._handle_flush_and_ha(inner, result)

    # ================================================================ flush (worker threads)
    def flush_commit_log(self, least_pages: int) -> None:
        queue = self.commit_log.queue
        for _ in range(len(queue.files) + 1):
            if queue.flush(least_pages):
                break
        if self.checkpoint is not None and queue.store_timestamp:
            self.checkpoint.physic_msg_timestamp = queue.store_timestamp

    def flush_commit_log_until(self, target: int) -> int:
        queue = self.commit_log.queue
        flushed = queue.flush_until(target)
        if self.checkpoint is not None and queue.store_timestamp:
            self.checkpoint.physic_msg_timestamp = queue.store_timestamp
        return flushed

    async def flush_logics(self, least_pages: int) -> None:
        await asyncio.to_thread(self._flush_logics_sync, self._all_queues(), least_pages,
                                self._last_dispatch_timestamp, self.reput_from_offset)

    def _flush_logics_sync(self, queues: list[ConsumeQueue], least_pages: int, dispatch_ts: int,
                           dispatched_offset: int) -> None:
        for cq in queues:
            if not cq.queue.may_flush(least_pages):
                continue
            for _ in range(len(cq.queue.files) + 1):
                if cq.queue.flush(least_pages):
                    break
        index_ts = self.index_service.flush_last() if least_pages == 0 else 0
        if least_pages == 0 and self.checkpoint is not None:
            if dispatch_ts:
                self.checkpoint.logics_msg_timestamp = dispatch_ts
            if index_ts:
                self.checkpoint.index_msg_timestamp = index_ts
            self.checkpoint.logics_phy_offset = dispatched_offset
            self.checkpoint.flush()

    # ================================================================ get
    def get_message(self, group: str, topic: str, queue_id: int, offset: int, max_msg_nums: int,
                    tags_codes: set[int] | None = None,
                    message_filter: MessageFilter | None = None) -> GetMessageResult:
        begin = time.perf_counter()
        result = GetMessageResult()
        result.next_begin_offset = offset
        max_offset_py = self.commit_log.get_max_offset()
        cq = self.consume_queue_table.get(topic, {}).get(queue_id)
        if cq is None:
            result.status = GetMessageStatus.NO_MATCHED_LOGIC_QUEUE
            result.next_begin_offset = self._next_offset_correction(offset, 0)
        else:
            min_offset = result.min_offset = cq.get_min_offset_in_queue()
            max_offset = result.max_offset = cq.get_max_offset_in_queue()
            if max_offset == 0:
                result.status = GetMessageStatus.NO_MESSAGE_IN_QUEUE
                result.next_begin_offset = self._next_offset_correction(offset, 0)
            elif offset < min_offset:
                result.status = GetMessageStatus.OFFSET_TOO_SMALL
                result.next_begin_offset = self._next_offset_correction(offset, min_offset)
            elif offset == max_offset:
                result.status = GetMessageStatus.OFFSET_OVERFLOW_ONE
                result.next_begin_offset = self._next_offset_correction(offset, offset)
            elif offset > max_offset:
                result.status = GetMessageStatus.OFFSET_OVERFLOW_BADLY
                result.next_begin_offset = self._next_offset_correction(
                    offset, min_offset if min_offset == 0 else max_offset)
            else:
                limit = self.read_limit() if self.read_limit is not None else None
                self._read_queue(cq, offset, max_msg_nums, tags_codes, message_filter, max_offset_py, result, limit)
        self.stats.record_get(result.message_count, (time.perf_counter() - begin) * 1000)
        return result

    def _read_queue(self, cq: ConsumeQueue, offset: int, max_msg_nums: int, tags_codes: set[int] | None,
                    message_filter: MessageFilter | None, max_offset_py: int, result: GetMessageResult,
                    limit: int | None = None) -> None:
        units = cq.get_index_buffer(offset)
        if units is None:
            result.status = GetMessageStatus.OFFSET_FOUND_NULL
            result.next_begin_offset = self._next_offset_correction(offset, cq.roll_next_file(offset))
            return
        config = self.config
        memory = int(TOTAL_PHYSICAL_MEMORY * config.accessMessageInMemoryMaxRatio / 100)
        result.status = GetMessageStatus.NO_MATCHED_MESSAGE
        next_phy_file_start = -1
        max_phy_pulling = 0
        max_filter_count = max(16000, max_msg_nums * CQ_STORE_UNIT_SIZE)
        unpack = UNIT.unpack_from
        commit_log = self.commit_log
        filter_tags = bool(tags_codes)
        i = 0
        size_units = len(units)
        while i < size_units and i < max_filter_count:
            offset_py, size_py, tags_code = unpack(units, i)
            i += CQ_STORE_UNIT_SIZE
            if size_py == 0x7FFFFFFF:  # pre-blank unit
                continue
            if limit is not None and offset_py + size_py > limit:  # not confirmed yet: not there
                i -= CQ_STORE_UNIT_SIZE
                if result.message_count == 0:
                    result.status = GetMessageStatus.OFFSET_OVERFLOW_ONE
                break
            max_phy_pulling = offset_py
            if next_phy_file_start != -1 and offset_py < next_phy_file_start:
                continue
            in_disk = max_offset_py - offset_py > memory
            if self._is_batch_full(size_py, max_msg_nums, result.buffer_total_size, result.message_count, in_disk):
                i -= CQ_STORE_UNIT_SIZE
                break
            if filter_tags and tags_code not in tags_codes:  # type: ignore[operator]
                continue
            if message_filter is not None and not message_filter.is_matched_by_consume_queue(tags_code):
                continue
            view = commit_log.get_message(offset_py, size_py)
            if view is None:
                if result.buffer_total_size == 0:
                    result.status = GetMessageStatus.MESSAGE_WAS_REMOVING
                next_phy_file_start = commit_log.roll_next_file(offset_py)
                continue
            if message_filter is not None and not message_filter.is_matched_by_commit_log(view):
                continue
            result.add_message(view, offset + (i // CQ_STORE_UNIT_SIZE) - 1)
            result.status = GetMessageStatus.FOUND
            next_phy_file_start = -1
        units.release()
        result.next_begin_offset = offset + i // CQ_STORE_UNIT_SIZE
        result.suggest_pulling_from_slave = max_offset_py - max_phy_pulling > memory

    def _is_batch_full(self, size_py: int, max_msg_nums: int, buffer_total: int, message_total: int,
                       in_disk: bool) -> bool:
        if buffer_total == 0 or message_total == 0:
            return False
        if max_msg_nums <= message_total:
            return True
        config = self.config
        if in_disk:
            return (buffer_total + size_py > config.maxTransferBytesOnMessageInDisk
                    or message_total > config.maxTransferCountOnMessageInDisk - 1)
        return (buffer_total + size_py > config.maxTransferBytesOnMessageInMemory
                or message_total > config.maxTransferCountOnMessageInMemory - 1)

    def _next_offset_correction(self, old: int, new: int) -> int:
        if not self._is_slave or self.config.offsetCheckInSlave:
            return new
        return old

    # ================================================================ lookups
    def _cq(self, topic: str, queue_id: int) -> ConsumeQueue | None:
        return self.consume_queue_table.get(topic, {}).get(queue_id)

    def get_max_offset_in_queue(self, topic: str, queue_id: int) -> int:
        cq = self._cq(topic, queue_id)
        return cq.get_max_offset_in_queue() if cq is not None else 0

    def get_min_offset_in_queue(self, topic: str, queue_id: int) -> int:
        cq = self._cq(topic, queue_id)
        # Upstream creates the queue on lookup, so a never-written queue answers 0, not -1.
        return cq.get_min_offset_in_queue() if cq is not None else 0

    def get_commit_log_offset_in_queue(self, topic: str, queue_id: int, cq_offset: int) -> int:
        cq = self._cq(topic, queue_id)
        unit = cq.get_unit(cq_offset) if cq is not None else None
        return unit[0] if unit is not None else 0

    def get_offset_in_queue_by_time(self, topic: str, queue_id: int, timestamp: int) -> int:
        cq = self._cq(topic, queue_id)
        if cq is None:
            return 0
        return cq.get_offset_in_queue_by_time(timestamp, self.commit_log.pickup_store_timestamp)

    def get_message_store_timestamp(self, topic: str, queue_id: int, cq_offset: int) -> int:
        cq = self._cq(topic, queue_id)
        unit = cq.get_unit(cq_offset) if cq is not None else None
        if unit is None:
            return -1
        return self.commit_log.pickup_store_timestamp(unit[0], unit[1])

    def get_earliest_message_time(self, topic: str, queue_id: int) -> int:
        cq = self._cq(topic, queue_id)
        if cq is None:
            return -1
        return self.get_message_store_timestamp(topic, queue_id, cq.get_min_offset_in_queue())

    def get_earliest_message_time_overall(self) -> int:
        min_offset = self.commit_log.get_min_offset()
        if min_offset < 0:
            return -1
        view = self.commit_log.look_entry(min_offset)
        if view is None:
            return -1
        return self.commit_log.pickup_store_timestamp(min_offset, len(view))

    def look_message_by_offset(self, phy_offset: int, size: int | None = None) -> memoryview | None:
        if size is None:
            return self.commit_log.look_entry(phy_offset)
        return self.commit_log.get_message(phy_offset, size)

    def query_message(self, topic: str, key: str, max_num: int, begin_timestamp: int,
                      end_timestamp: int) -> QueryMessageResult:
        result = QueryMessageResult()
        max_num = min(max_num, self.config.defaultQueryMaxNum)
        offsets, last_ts, last_phy = self.index_service.query_offsets(topic, key, max_num, begin_timestamp,
                                                                      end_timestamp)
        result.index_last_update_timestamp = last_ts
        result.index_last_update_phyoffset = last_phy
        for offset in offsets:
            view = self.commit_log.look_entry(offset)
            if view is not None:
                result.add_message(view)
        return result

    def get_max_phy_offset(self) -> int:
        return self.commit_log.get_max_offset()

    def get_min_phy_offset(self) -> int:
        return self.commit_log.get_min_offset()

    def dispatch_behind_bytes(self) -> int:
        return max(0, self.commit_log.get_max_offset() - self.reput_from_offset)

    # ================================================================ topics
    def delete_topics(self, topics: set[str]) -> int:
        count = 0
        for topic in topics:
            queues = self.consume_queue_table.pop(topic, None)
            if queues is None:
                continue
            for cq in queues.values():
                cq.destroy()
                self.commit_log.topic_queue_table.pop((topic, cq.queue_id), None)
                count += 1
            try:
                os.rmdir(os.path.join(self.root, "consumequeue", topic))
            except OSError:
                pass
        return count

    def clean_unused_topic(self, keep_topics: set[str]) -> int:
        unused = {t for t in self.consume_queue_table if t not in keep_topics and t != SCHEDULE_TOPIC}
        return self.delete_topics(unused)

    # ================================================================ retention and disk guard
    async def _clean_loop(self) -> None:
        while self.running:
            await asyncio.sleep(self.config.cleanResourceInterval / 1000)
            try:
                await self.run_clean_once()
            except Exception:
                log.exception("retention pass failed")

    def _is_time_to_delete(self, now_ms: int) -> bool:
        hours = {int(part) for part in self.config.deleteWhen.split(";") if part.strip().isdigit()}
        return local_hour_matches(now_ms, hours)

    async def run_clean_once(self, manual: bool = False) -> list[str]:
        """One retention pass (upstream CleanCommitLogService + CleanConsumeQueueService).
        Returns the names of deleted commit log files."""
        config = self.config
        now = self.clock.now_ms()
        ratio = self.disk_usage(self.config.commit_log_dir())
        self.disk_ratio = ratio
        clean_immediately = False
        if ratio > config.diskSpaceWarningLevelRatio / 100:
            if not self.disk_full:
                log.error("disk used %.2f%% above warning level; refusing writes", ratio * 100)
            self.disk_full = True
            clean_immediately = True
        elif ratio > config.diskSpaceCleanForciblyRatio / 100:
            clean_immediately = True
        elif self.disk_full:
            log.info("disk used %.2f%%; accepting writes again", ratio * 100)
            self.disk_full = False
        space_full = ratio < 0 or ratio > config.diskMaxUsedSpaceRatio / 100
        deleted: list[str] = []
        if self._is_time_to_delete(now) or space_full or manual:
            queue = self.commit_log.queue
            victims = queue.expired_files_by_time(now, config.fileReservedTime * 3600 * 1000,
                                                  config.cleanFileForciblyEnable and clean_immediately)
            if victims:
                for mf in victims:
                    mf.available = False
                queue.remove_files(victims)
                deleted = [mf.file_name for mf in victims]
                await asyncio.to_thread(queue.destroy_files, victims)
        await self._clean_logics()
        return deleted

    async def _clean_logics(self) -> None:
        min_phy = self.commit_log.get_min_offset()
        if min_phy <= self._last_physical_min_offset:
            return
        self._last_physical_min_offset = min_phy
        for cq in self._all_queues():
            victims = cq.delete_expired_files(min_phy)
            cq.correct_min_offset(min_phy)
            if victims:
                for mf in victims:
                    mf.available = False
                await asyncio.to_thread(cq.queue.destroy_files, victims)
        index_victims = self.index_service.delete_expired(min_phy)
        if index_victims:
            await asyncio.to_thread(lambda: [f.destroy() for f in index_victims])

    # ================================================================ stats
    async def _stats_loop(self) -> None:
        while self.running:
            self.stats.sample()
            await asyncio.sleep(1)

    def get_runtime_info(self) -> dict[str, str]:
        info = self.stats.runtime_info()
        path = self.config.commit_log_dir()
        ratio = self.disk_usage(path)
        info["commitLogDiskRatio"] = str(ratio)
        info[f"commitLogDiskRatio_{path}"] = str(ratio)
        info["consumeQueueDiskRatio"] = str(self.disk_usage(os.path.join(self.root, "consumequeue")))
        info["commitLogMinOffset"] = str(self.get_min_phy_offset())
        info["commitLogMaxOffset"] = str(self.get_max_phy_offset())
        info["dispatchBehindBytes"] = str(self.dispatch_behind_bytes())
        info["remainHowManyDataToFlush"] = _human_size(self.commit_log.queue.how_much_fall_behind())
        info["earliestMessageTimeStamp"] = str(self.get_earliest_message_time_overall())
        info["pageCacheLockTimeMills"] = "0"
        info["remainTransientStoreBufferNumbs"] = "0"
        try:
            usage = shutil.disk_usage(self.root)
            info["commitLogDirCapacity"] = f"Total : {_human_size(usage.total)}, Free : {_human_size(usage.free)}."
        except OSError:
            pass
        return info

    # ================================================================ HA hooks
    def get_commit_log_data(self, offset: int) -> memoryview | None:
        return self.commit_log.get_data(offset)

    def append_to_commit_log(self, start_offset: int, data: bytes | memoryview) -> bool:
        """Slave: write raw commit-log bytes at exactly ``start_offset``, then dispatch them."""
        if not self.running:
            return False
        max_offset = self.commit_log.get_max_offset()
        if self.commit_log.queue.files and start_offset != max_offset:
            log.error("append_to_commit_log at %d but max offset is %d", start_offset, max_offset)
            return False
        if not self.commit_log.append_data(start_offset, data):
            return False
        if self.reput_from_offset < self.commit_log.get_min_offset():
            self.reput_from_offset = self.commit_log.get_min_offset()
        self._reput()
        if self._group_commit is not None:
            self._group_commit.wakeup()
        return True

    def _reput(self) -> None:
        """Dispatch entries from ``reput_from_offset`` to the end of the commit log."""
        commit_log = self.commit_log
        while self.reput_from_offset < commit_log.get_max_offset():
            mf = commit_log.queue.find_mapped_file_by_offset(self.reput_from_offset)
            if mf is None:
                break
            pos = self.reput_from_offset - mf.file_from_offset
            view = mf.view[: mf.wrote_position]
            size, req = commit_log.check_entry(view, pos, mf.file_from_offset, False)
            view.release()
            if size > 0 and req is not None:
                self._dispatch_request(req)
                if req.sys_flag & m.TRANSACTION_TYPE_MASK in _NORMAL_TRAN:
                    self.commit_log.topic_queue_table[(req.topic, req.queue_id)] = req.queue_offset + 1
                    self._notify(req.topic, req.queue_id, req.queue_offset + 1, req.tags_code,
                                 req.store_timestamp, req.properties)
                self.reput_from_offset += size
            elif size == 0 and pos < mf.wrote_position and mf.wrote_position == mf.file_size:
                self.reput_from_offset = commit_log.roll_next_file(self.reput_from_offset)
            else:
                break


def _has_timer_key(properties: dict[str, str]) -> bool:
    return any(name in properties for name in timer.TIMER_REQUEST_PROPERTIES)


def timer_illegal_remark(config: MessageStoreConfig) -> str:
    """Upstream SendMessageProcessor's remark for WHEEL_TIMER_MSG_ILLEGAL, word for word."""
    return (f"timer message illegal, the delay time should not be bigger than the max delay "
            f"{config.timerMaxDelaySec * 1000}ms; or if set del msg, the delay time should be bigger than "
            f"the current time")
