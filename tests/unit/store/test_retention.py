"""Retention (fileReservedTime / deleteWhen / diskMaxUsedSpaceRatio) with a fake clock and a
fake disk, and the disk-full write guard."""

import asyncio
import datetime
import os

from pocketmq.clock import ManualClock
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus

from .helpers import HOST, msg, small_config


def run(coro):
    return asyncio.run(coro)


class Fake:
    def __init__(self):
        # 10:00 tomorrow: after every file the test writes now (files age by their real mtime),
        # and never the deleteWhen hour.
        tomorrow = datetime.datetime.now() + datetime.timedelta(days=1)
        self.clock = ManualClock(int(tomorrow.replace(hour=10, minute=0, second=0).timestamp() * 1000))
        self.ratio = 0.10

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    @now.setter
    def now(self, value: float) -> None:
        self.clock.set_wall(int(value))

    def disk(self, path):
        return self.ratio


async def filled(tmp_path, fake, n=100, **overrides):
    config = small_config(tmp_path, **overrides)
    store = MessageStore(config, HOST, clock=fake.clock, disk_usage=fake.disk)
    await store.start()
    for i in range(n):
        await store.put_message(msg(queue_id=0, body=os.urandom(2000)))
    return store


def test_expired_files_deleted_only_at_delete_when(tmp_path):
    async def main():
        fake = Fake()
        store = await filled(tmp_path, fake, deleteWhen="04", fileReservedTime=1)
        files_before = [mf.file_name for mf in store.commit_log.queue.files]
        assert len(files_before) >= 3
        fake.now += 2 * 3600 * 1000  # expired, but 12:00 is not the deleteWhen hour
        assert await store.run_clean_once() == []
        at_four = datetime.datetime.fromtimestamp(fake.now / 1000).replace(hour=4) + datetime.timedelta(days=1)
        fake.now = at_four.timestamp() * 1000
        deleted = await store.run_clean_once()
        assert deleted == files_before[:-1]  # never the file being written
        assert not any((tmp_path / "commitlog" / name).exists() for name in deleted)
        min_phy = store.get_min_phy_offset()
        assert min_phy == int(files_before[-1])
        min_q = store.get_min_offset_in_queue("T", 0)
        assert min_q > 0
        assert store.get_message("g", "T", 0, 0, 1).status is GetMessageStatus.OFFSET_TOO_SMALL
        first = store.get_message("g", "T", 0, min_q, 1)
        assert first.status is GetMessageStatus.FOUND
        assert store.get_commit_log_offset_in_queue("T", 0, min_q) >= min_phy
        await store.shutdown()
    run(main())


def test_not_expired_files_are_kept(tmp_path):
    async def main():
        fake = Fake()
        store = await filled(tmp_path, fake, deleteWhen="10", fileReservedTime=72)
        assert await store.run_clean_once() == []
        await store.shutdown()
    run(main())


def test_space_above_max_ratio_deletes_expired_files_at_once(tmp_path):
    async def main():
        fake = Fake()
        store = await filled(tmp_path, fake, deleteWhen="04", fileReservedTime=1)
        fake.now += 2 * 3600 * 1000
        fake.ratio = 0.80  # above diskMaxUsedSpaceRatio 75, below forcible 85
        assert len(await store.run_clean_once()) >= 2
        await store.shutdown()
    run(main())


def test_space_above_forcible_ratio_deletes_even_fresh_files(tmp_path):
    async def main():
        fake = Fake()
        store = await filled(tmp_path, fake, deleteWhen="04", fileReservedTime=72)
        fake.ratio = 0.87
        assert len(await store.run_clean_once()) >= 2
        assert (await store.put_message(msg())).status is PutMessageStatus.PUT_OK
        await store.shutdown()
    run(main())


def test_disk_full_refuses_writes_and_resumes(tmp_path):
    async def main():
        fake = Fake()
        store = await filled(tmp_path, fake, n=3)
        fake.ratio = 0.95
        await store.run_clean_once()
        refused = await store.put_message(msg())
        assert refused.status is PutMessageStatus.SERVICE_NOT_AVAILABLE
        assert "disk is full" in refused.remark
        batch = await store.put_messages("T", 0, 0, 1, ("1.2.3.4", 1), [])
        assert batch.status is PutMessageStatus.SERVICE_NOT_AVAILABLE
        fake.ratio = 0.50
        await store.run_clean_once()
        assert (await store.put_message(msg())).status is PutMessageStatus.PUT_OK
        await store.shutdown()
    run(main())


def test_readers_keep_views_of_deleted_files_alive(tmp_path):
    async def main():
        fake = Fake()
        store = await filled(tmp_path, fake, deleteWhen="04", fileReservedTime=0)
        held = store.get_message("g", "T", 0, 0, 4)
        before = [bytes(b) for b in held.buffers]
        fake.ratio = 0.80
        assert await store.run_clean_once()
        assert [bytes(b) for b in held.buffers] == before
        held.release()
        await store.shutdown()
    run(main())
