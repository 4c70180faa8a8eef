"""The broker's whole per-send path in one process, bytes in to bytes out: the CPU a send costs
the event loop, without the load generator or the kernel's loopback path sharing the cores.

A real BrokerController on a fresh store (no name server, no listening socket) serves a connection
accepted in process; a transport that only counts what is written stands in for the socket. Each
round feeds pre-encoded SEND_MESSAGE_V2 frames (the Java client's JSON header) ``--batch`` at a
time to ``data_received``, as a busy connection delivers several requests per read, and waits
until every answer was written (under SYNC_FLUSH that includes the group commit). With
``--inflight N`` the feeding is a closed loop instead, as N producer threads are: N requests
outstanding, and each answer written lets one more request in (fed on the next loop turn, in
groups as they come back), so under SYNC_FLUSH the group commit sees the batches a c N load
gives it. The figure is
CPU microseconds of this process per send (``time.process_time``: the event loop plus the
flusher and allocator threads), which a shared machine disturbs far less than wall time.

    .venv/bin/python bench/sendpath.py [--count 20000] [--size 128] [--batch 16] [--rounds 5]
        [--flush ASYNC_FLUSH|SYNC_FLUSH] [--inflight N] [--default-gc] [--profile out.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from pocketmq.broker.controller import BrokerController  # noqa: E402
from pocketmq.config import BrokerConfig, MessageStoreConfig  # noqa: E402
from pocketmq.process import tune_garbage_collector  # noqa: E402
from pocketmq.protocol.client_headers import SendMessageRequestHeader  # noqa: E402
from pocketmq.protocol.route import TopicConfig  # noqa: E402
from pocketmq.remoting.codec import FrameDecoder, encode_frame_bytes  # noqa: E402
from pocketmq.remoting.codes import RequestCode  # noqa: E402
from pocketmq.remoting.command import make_request  # noqa: E402
from pocketmq.remoting.header import encode_header  # noqa: E402


class CountingTransport(asyncio.Transport):
    """Counts the answer frames written (one int32 length prefix each, frames never split here)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.answers = 0
        self.all_answered: asyncio.Future[None] | None = None
        self.expected = 0
        self.last = b""
        self.on_answers: Any = None  # closed-loop feeding: called with the number of answers written

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else default

    def write(self, data: Any) -> None:
        self._count(bytes(data))

    def writelines(self, chunks: Any) -> None:
        self._count(b"".join(bytes(c) for c in chunks))

    def _count(self, data: bytes) -> None:
        pos = answers = 0
        while pos < len(data):
            pos += 4 + int.from_bytes(data[pos:pos + 4], "big")
            answers += 1
        self.answers += answers
        self.written += len(data)
        self.last = data
        if self.on_answers is not None:
            self.on_answers(answers)
        if self.all_answered is not None and self.answers >= self.expected and not self.all_answered.done():
            self.all_answered.set_result(None)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def send_frames(count: int, size: int) -> list[bytes]:
    header = SendMessageRequestHeader(producerGroup="pg", topic="BenchTopic", defaultTopic="TBW102",
                                      defaultTopicQueueNums=4, queueId=0, sysFlag=0, bornTimestamp=1, flag=0,
                                      properties="UNIQ_KEY\x017F0000010000ABCDEF\x02WAIT\x01true\x02TAGS\x01TagA\x02")
    fields = encode_header(header, short_names=True)
    body = b"x" * size
    frames = []
    for n in range(count):
        fields["e"] = str(n % 4)
        frames.append(encode_frame_bytes(make_request(RequestCode.SEND_MESSAGE_V2, dict(fields), body,
                                                      language="JAVA")))
    return frames


async def one_round(args: argparse.Namespace, root: Path) -> float:
    config = BrokerConfig(brokerName="bench", brokerIP1="127.0.0.1", listenPort=0, namesrvAddr="")
    store_config = MessageStoreConfig(storePathRootDir=str(root), flushDiskType=args.flush,
                                      mappedFileSizeCommitLog=1024 * 1024 * 1024)
    broker = BrokerController(config, store_config)
    await broker.store.start()
    broker.topic_config_manager.update(TopicConfig("BenchTopic", 4, 4))
    if not args.default_gc:
        tune_garbage_collector()  # as run_server does once a server has started
    connection = broker.server.accept_in_process()
    transport = CountingTransport()
    connection.connection_made(transport)
    loop = asyncio.get_running_loop()
    try:
        async def feed(frames: list[bytes]) -> None:
            transport.expected = transport.answers + len(frames)
            transport.all_answered = loop.create_future()
            for start in range(0, len(frames), args.batch):
                connection.data_received(b"".join(frames[start:start + args.batch]))
                if args.flush == "SYNC_FLUSH":
                    await asyncio.sleep(0)  # let the flusher's answers in between, as a socket would
            await transport.all_answered

        async def feed_closed_loop(frames: list[bytes]) -> None:
            transport.expected = transport.answers + len(frames)
            transport.all_answered = loop.create_future()
            source = iter(frames)
            released = 0  # answers seen, each lets one more request in on the next loop turn

            def release(answers: int) -> None:
                nonlocal released
                if released == 0:
                    loop.call_soon(send_released)
                released += answers

            def send_released() -> None:
                nonlocal released
                count, released = released, 0
                chunk = b"".join(frame for _, frame in zip(range(count), source))
                if chunk:
                    connection.data_received(chunk)

            transport.on_answers = release
            connection.data_received(b"".join(frame for _, frame in zip(range(args.inflight), source)))
            await transport.all_answered
            transport.on_answers = None

        run = feed_closed_loop if args.inflight else feed
        await run(send_frames(2000, args.size))  # warm up: the first pages of the mapped file, caches
        frames = send_frames(args.count, args.size)
        t0 = time.process_time()
        await run(frames)
        spent = (time.process_time() - t0) / args.count * 1e6
        decoder = FrameDecoder()
        decoder.feed(transport.last)
        answer = decoder.next_command()
        assert answer is not None and answer.code == 0, f"the sends failed: {answer}"
        return spent
    finally:
        await broker.store.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16, help="requests per data_received")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--flush", choices=("ASYNC_FLUSH", "SYNC_FLUSH"), default="ASYNC_FLUSH")
    ap.add_argument("--inflight", type=int, default=0,
                    help="closed loop: this many requests outstanding, as that many producer threads")
    ap.add_argument("--default-gc", action="store_true",
                    help="keep CPython's collector thresholds instead of the servers' (pocketmq.process)")
    ap.add_argument("--profile", help="write a pyinstrument text profile of one more round here")
    args = ap.parse_args()
    import uvloop

    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            figures.append(uvloop.run(one_round(args, Path(tmp) / f"r{n}")))
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            uvloop.run(one_round(args, Path(tmp) / "profiled"))
            profiler.stop()
            Path(args.profile).write_text(profiler.output_text(unicode=False, show_all=False))
    shape = f"inflight {args.inflight}" if args.inflight else f"batch {args.batch}"
    print(f"{args.flush} {args.size} B {shape}: CPU us/send per round "
          + " ".join(f"{f:.1f}" for f in figures)
          + f"; median {statistics.median(figures):.1f}, min {min(figures):.1f}")


if __name__ == "__main__":
    main()
