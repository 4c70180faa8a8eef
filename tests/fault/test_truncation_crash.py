"""Crash tests for the slave's truncation (controller mode): a real process truncating a store
SIGKILLs itself at every step of the truncation (and again while finishing it at start-up).
After each kill the store must open to a consistent prefix: either untouched (killed before the
intent was durable) or cut exactly at the target, with every message below the cut readable at
its queue offset, none beyond, keys indexed once, the epoch file cut too, and new appends
continuing the queues without a gap."""

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pocketmq.protocol.message import MessageExtBrokerInner, decode_message
from pocketmq.store.epoch_file import EpochEntry
from pocketmq.store.message_store import MessageStore
from pocketmq.store.results import GetMessageStatus, PutMessageStatus
from pocketmq.store.truncation import intent_path

sys.path.insert(0, str(Path(__file__).parent))
from store_writer import body_for, config  # noqa: E402

pytestmark = pytest.mark.fault
TRUNCATOR = Path(__file__).with_name("store_truncator.py")
MESSAGES = 2400
QUEUES = {"Crash": 2, "Other": 1}


@dataclass(frozen=True)
class Stored:
    seq: int
    topic: str
    queue_id: int
    queue_offset: int
    phy: int


@dataclass
class Pristine:
    root: Path
    messages: list[Stored]
    epochs: list[EpochEntry]
    max_phy: int


def place(seq: int) -> tuple[str, int]:
    return ("Other", 0) if seq % 5 == 4 else ("Crash", seq % 2)


def message(seq: int) -> MessageExtBrokerInner:
    topic, qid = place(seq)
    return MessageExtBrokerInner(topic=topic, body=body_for(seq), queue_id=qid,
                                 properties={"KEYS": f"s{seq}", "UNIQ_KEY": f"u{seq}"})


async def build(root: Path) -> Pristine:
    store = MessageStore(config(str(root), "ASYNC_FLUSH"), ("127.0.0.1", 10911))
    await store.start()
    stored: list[Stored] = []
    for seq in range(MESSAGES):
        if seq in (0, 800, 1600):  # three masters wrote this log
            store.epoch_file.append(1 + seq // 800, store.get_max_phy_offset())
        result = await store.put_message(message(seq))
        assert result.status is PutMessageStatus.PUT_OK
        ar = result.append_result
        stored.append(Stored(seq, *place(seq), ar.logics_offset, ar.wrote_offset))
    assert len(store.index_service.files) >= 2, "the test wants the index spread over files"
    epochs = list(store.epoch_file.entries)
    max_phy = store.get_max_phy_offset()
    await store.shutdown()
    return Pristine(root, stored, epochs, max_phy)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Pristine:
    return asyncio.run(build(tmp_path_factory.mktemp("pristine") / "store"))


def targets(p: Pristine) -> dict[str, int]:
    at_file_start = next(s.phy for s in p.messages if s.phy > 0 and s.phy % (64 * 1024) == 0)
    return {"mid-epoch-2": p.messages[1000].phy, "file-start": at_file_start,
            "in-last-index-file": p.messages[2200].phy}


def run_truncator(root: Path, target: int, kill_at: int, may_finish: bool = False) -> tuple[list[str], bool]:
    proc = subprocess.run([sys.executable, str(TRUNCATOR), str(root), str(target), str(kill_at)],
                          capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    lines = proc.stdout.decode().splitlines()
    steps = [line.split(" ", 2)[2] for line in lines if line.startswith("STEP ")]
    if kill_at < 0 or (may_finish and proc.returncode == 0):
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        assert lines[-1] == f"DONE {target}"
        return steps, False
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-3000:]
    return steps, True


async def verify(p: Pristine, root: Path, target: int) -> int:
    """Open the store as a broker would; check it is a consistent prefix; append to it."""
    store = MessageStore(config(str(root), "ASYNC_FLUSH"), ("127.0.0.1", 10911))
    await store.start()
    try:
        cut = store.get_max_phy_offset()
        assert cut in (target, p.max_phy), f"recovered to {cut}: neither the target {target} nor untouched"
        assert not os.path.exists(intent_path(str(root)))
        kept = [s for s in p.messages if s.phy < cut]
        for topic, queues in QUEUES.items():
            for qid in range(queues):
                expected = [s for s in kept if (s.topic, s.queue_id) == (topic, qid)]
                assert store.get_max_offset_in_queue(topic, qid) == len(expected)
                got = []
                offset = 0
                while offset < len(expected):
                    result = store.get_message("g", topic, qid, offset, 32)
                    assert result.status is GetMessageStatus.FOUND, result.status
                    for raw in result.buffers:
                        msg = decode_message(raw)
                        got.append((int(msg.body.split(b":", 1)[0]), msg.queue_offset, msg.commit_log_offset))
                        assert msg.body == body_for(got[-1][0])
                    result.release()
                    offset = result.next_begin_offset
                assert got == [(s.seq, s.queue_offset, s.phy) for s in expected]
        last_kept = len(kept) - 1
        for seq in {0, 1, last_kept - 1, last_kept, last_kept + 1, last_kept + 2, MESSAGES - 1,
                    *random.Random(target).sample(range(MESSAGES), 30)}:
            if not 0 <= seq < MESSAGES:
                continue
            topic = place(seq)[0]
            hits = len(store.query_message(topic, f"s{seq}", 32, 0, 2**62).buffers)
            uniq_hits = len(store.query_message(topic, f"u{seq}", 32, 0, 2**62).buffers)
            assert (hits, uniq_hits) == ((1, 1) if seq <= last_kept else (0, 0)), f"key of message {seq}"
        assert store.epoch_file.entries == [e for e in p.epochs if e.start_offset < cut]
        # A new master's data lands right after the cut, the queues carry on without a gap.
        for seq in range(MESSAGES, MESSAGES + 20):
            result = await store.put_message(message(seq))
            assert result.status is PutMessageStatus.PUT_OK
            topic, qid = place(seq)
            assert result.append_result.logics_offset == len([s for s in kept if (s.topic, s.queue_id) == (topic, qid)]) \
                + len([x for x in range(MESSAGES, seq) if place(x) == (topic, qid)])
        assert len(store.query_message("Crash", f"s{MESSAGES}", 32, 0, 2**62).buffers) == 1
        return cut
    finally:
        await store.shutdown()


def fresh_copy(p: Pristine, tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(p.root, root)
    return root


@pytest.mark.parametrize("which", ["mid-epoch-2", "file-start", "in-last-index-file"])
def test_kill_at_every_step_of_a_truncation(pristine, tmp_path, which):
    target = targets(pristine)[which]
    steps, _ = run_truncator(fresh_copy(pristine, tmp_path, "clean"), target, -1)
    assert steps[0] == "begin" and steps[-1] == "cleared"
    assert any(s.startswith("commitlog-delete-") for s in steps) and any(s.startswith("cq-") for s in steps)
    assert asyncio.run(verify(pristine, tmp_path / "clean", target)) == target
    for kill_at in range(len(steps)):
        root = fresh_copy(pristine, tmp_path, f"kill{kill_at}")
        run_truncator(root, target, kill_at)
        cut = asyncio.run(verify(pristine, root, target))
        # Killed before the intent was durable: untouched; from then on: cut at the target.
        assert cut == (pristine.max_phy if kill_at == 0 else target), f"killed after {steps[kill_at]}"
        shutil.rmtree(root)


def test_kills_during_the_recovery_of_a_killed_truncation(pristine, tmp_path):
    """Killed mid-truncation, then killed again (several times) while start-up finishes it."""
    rng = random.Random(17)
    target = targets(pristine)["mid-epoch-2"]
    steps, _ = run_truncator(fresh_copy(pristine, tmp_path, "clean"), target, -1)
    for round_no in range(6):
        root = fresh_copy(pristine, tmp_path, f"round{round_no}")
        run_truncator(root, target, rng.randrange(2, len(steps) - 1))
        for _ in range(3):  # the start-up redo runs its steps first: kill inside them
            run_truncator(root, target, rng.randrange(0, 8), may_finish=True)
        assert asyncio.run(verify(pristine, root, target)) == target
        shutil.rmtree(root)
