"""The controller's file store: replay on start, a torn last record cut off, corruption refused,
and compare-and-swap on versions (a stale writer loses)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pocketmq.controller.replicas import BrokerSet
from pocketmq.controller.store import FileStore, StoreConflict, StoreCorrupt, encode_record


def a_set(name: str, master: int | None, epoch: int) -> BrokerSet:
    state = BrokerSet("c", name)
    state.add_broker(1, "127.0.0.1:30911", "127.0.0.1:30911;1")
    state.masterBrokerId, state.masterEpoch = master, epoch
    return state


async def opened(directory: Path) -> FileStore:
    store = FileStore(str(directory))
    await store.open()
    return store


def test_replay_after_restart_and_delete(tmp_path: Path) -> None:
    async def main() -> None:
        store = await opened(tmp_path)
        v1 = await store.commit("a", 0, a_set("a", 1, 1))
        v2 = await store.commit("a", v1, a_set("a", 1, 2))
        await store.commit("b", 0, a_set("b", None, 0))
        await store.commit("b", 1, None)
        await store.close()
        again = await opened(tmp_path)
        assert (await again.get("a")).state == a_set("a", 1, 2)
        assert (await again.get("b")).state is None
        assert set(await again.get_all()) == {"a"}
        assert v2 == 2
        await again.close()
    asyncio.run(main())


def test_stale_version_loses_the_compare_and_swap(tmp_path: Path) -> None:
    async def main() -> None:
        store = await opened(tmp_path)
        await store.commit("a", 0, a_set("a", 1, 1))
        with pytest.raises(StoreConflict):
            await store.commit("a", 0, a_set("a", 2, 1))  # both read version 0; only one may win
        assert (await store.get("a")).state.masterBrokerId == 1
        await store.close()
    asyncio.run(main())


@pytest.mark.parametrize("cut", [1, 5, 8, 20])
def test_a_torn_last_record_is_cut_and_the_rest_kept(tmp_path: Path, cut: int) -> None:
    async def main() -> None:
        store = await opened(tmp_path)
        await store.commit("a", 0, a_set("a", 1, 1))
        await store.commit("a", 1, a_set("a", 2, 2))
        await store.close()
        path = tmp_path / "controller.log"
        good = len(encode_record("a", a_set("a", 1, 1)))
        full = path.stat().st_size
        with open(path, "r+b") as handle:
            handle.truncate(full - cut)  # the crash hit the second record's write
        again = await opened(tmp_path)
        assert (await again.get("a")).state == a_set("a", 1, 1)
        assert path.stat().st_size == good
        await again.commit("a", 1, a_set("a", 3, 2))  # and the log goes on cleanly
        await again.close()
        third = await opened(tmp_path)
        assert (await third.get("a")).state.masterBrokerId == 3
        await third.close()
    asyncio.run(main())


def test_a_bad_record_in_the_middle_is_corruption(tmp_path: Path) -> None:
    async def main() -> None:
        store = await opened(tmp_path)
        await store.commit("a", 0, a_set("a", 1, 1))
        await store.commit("a", 1, a_set("a", 2, 2))
        await store.close()
        path = tmp_path / "controller.log"
        with open(path, "r+b") as handle:
            handle.seek(12)
            handle.write(b"#")
        with pytest.raises(StoreCorrupt):
            await opened(tmp_path)
    asyncio.run(main())


def test_many_records_are_compacted_on_start(tmp_path: Path) -> None:
    async def main() -> None:
        store = await opened(tmp_path)
        version = 0
        for epoch in range(1, 1202):
            version = await store.commit("a", version, a_set("a", 1, epoch))
        await store.close()
        size = os.path.getsize(tmp_path / "controller.log")
        again = await opened(tmp_path)
        assert os.path.getsize(tmp_path / "controller.log") < size / 100
        assert (await again.get("a")).state.masterEpoch == 1201
        await again.close()
    asyncio.run(main())


def test_two_controllers_cannot_share_one_store_directory(tmp_path: Path) -> None:
    async def main() -> None:
        store = await opened(tmp_path)
        with pytest.raises(StoreCorrupt, match="in use by another controller"):
            await opened(tmp_path)
        await store.close()
        again = await opened(tmp_path)  # free again once the first one closed
        await again.close()
    asyncio.run(main())


def test_a_running_store_compacts_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pocketmq.controller import store as store_module

    monkeypatch.setattr(store_module, "COMPACT_RUNNING_RECORDS", 50)

    async def main() -> None:
        store = await opened(tmp_path)
        version = 0
        for epoch in range(1, 121):
            version = await store.commit("a", version, a_set("a", 1, epoch))
        assert os.path.getsize(tmp_path / "controller.log") < 60 * len(encode_record("a", a_set("a", 1, 120)))
        await store.close()
        again = await opened(tmp_path)
        assert (await again.get("a")).state.masterEpoch == 120
        await again.close()
    asyncio.run(main())
