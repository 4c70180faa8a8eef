"""State files written off the event loop (pocketmq.persist.BackgroundFile): each waiter learns
when its content, or newer, is on disk; contents queued behind a running write collapse to the
newest; a failed write reaches its waiters; flush leaves the newest content on disk; and with no
loop running a write happens at once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from pocketmq import persist
from pocketmq.persist import BackgroundFile, load_json_file


def test_without_a_loop_the_file_is_written_at_once(tmp_path: Path) -> None:
    file = BackgroundFile(str(tmp_path / "state.json"))
    assert file.write(b'{"n": 1}') is None
    assert (tmp_path / "state.json").read_bytes() == b'{"n": 1}'
    assert file.pending is None


def test_each_waiter_is_done_once_its_content_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "state.json"

    async def scenario() -> None:
        file = BackgroundFile(str(path))
        first = file.write(b"1")
        assert first is not None and file.pending is first
        await first
        assert path.read_bytes() == b"1" and file.pending is None

    asyncio.run(scenario())


def test_contents_behind_a_running_write_collapse_to_the_newest(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "state.json"
    release = threading.Event()
    written: list[bytes] = []
    real_write = persist.write_file_safely

    def slow_write(target: str, data: bytes) -> None:
        release.wait(10)
        written.append(data)
        real_write(target, data)

    monkeypatch.setattr(persist, "write_file_safely", slow_write)

    async def scenario() -> None:
        file = BackgroundFile(str(path))
        waiters = [file.write(str(n).encode()) for n in range(5)]  # 0 runs; 1-4 wait behind it
        assert all(w is not None and not w.done() for w in waiters)
        release.set()
        await asyncio.gather(*waiters)  # type: ignore[arg-type]
        assert written == [b"0", b"4"]
        assert path.read_bytes() == b"4" and file.pending is None

    asyncio.run(scenario())


def test_a_failed_write_reaches_its_waiters_and_the_next_write_still_happens(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the state file's directory should be")

    async def scenario() -> None:
        file = BackgroundFile(str(blocked / "state.json"))
        waiter = file.write(b"1")
        assert waiter is not None
        with pytest.raises(OSError):
            await waiter
        blocked.unlink()
        again = file.write(b"2")
        assert again is not None
        await again
        assert (blocked / "state.json").read_bytes() == b"2"

    asyncio.run(scenario())


def test_flush_leaves_the_newest_content_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "state.json"

    async def scenario() -> None:
        file = BackgroundFile(str(path))
        for n in range(3):
            file.write(b'{"n": %d}' % n)
        file.flush()  # as a shutdown does, on the loop
        assert load_json_file(str(path), lambda data: data) == b'{"n": 2}'
        assert file.pending is None

    asyncio.run(scenario())
