"""The writer thread (pocketmq/remoting/_socket_writer.c) on real sockets: bytes arrive whole and
in order however they are queued, a peer that does not read makes it wait (not spin, not drop),
close() sends what is queued before the end of the stream, abort() drops it, a failed send is
reported, and the thread writes to its own duplicate of the socket, so a descriptor number the
event loop closed and the kernel reused never gets another connection's bytes."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from pocketmq.remoting import writer_thread

if not writer_thread.AVAILABLE:  # `pip install -e .` builds it; without it nothing here applies
    pytest.fail("pocketmq.remoting._socket_writer was not built: run `pip install -e .`", pytrace=False)

from pocketmq.remoting._socket_writer import SocketWriter  # noqa: E402


def pair() -> tuple[socket.socket, socket.socket]:
    """A connected TCP pair on loopback: (the side the writer writes, the reading peer)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        ours = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
    ours.setblocking(False)  # as an event loop keeps it
    peer.settimeout(10)
    return ours, peer


def read_exactly(peer: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = peer.recv(min(1 << 20, n - got))
        assert chunk, f"end of stream after {got} of {n} bytes"
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def close_and_see_the_end(writer: SocketWriter, ours: socket.socket, peer: socket.socket) -> None:
    writer.close()
    ours.close()
    assert peer.recv(1) == b""  # FIN once both the event loop's socket and the writer's dup are closed


def test_bytes_arrive_whole_and_in_order_from_many_writes() -> None:
    ours, peer = pair()
    writer = SocketWriter(ours.fileno())
    expected = bytearray()
    for i in range(2000):
        parts = [f"frame {i} ".encode(), memoryview(bytes([i % 256]) * (i % 300)), bytearray(b"|")]
        writer.write(parts)
        expected += b"".join(bytes(p) for p in parts)
    assert read_exactly(peer, len(expected)) == bytes(expected)
    close_and_see_the_end(writer, ours, peer)


def test_a_peer_that_does_not_read_holds_the_bytes_until_it_does() -> None:
    ours, peer = pair()
    writer = SocketWriter(ours.fileno())
    payload = os.urandom(64 << 20)  # far more than both socket buffers hold
    writer.write([payload])
    # The thread now waits for the peer's window: the bytes are queued, nothing is lost.
    assert writer.pending > 0 and writer.error == 0
    writer.write([b"tail"])
    assert read_exactly(peer, len(payload) + 4) == payload + b"tail"
    close_and_see_the_end(writer, ours, peer)


def test_close_sends_what_is_queued_first_and_abort_drops_it() -> None:
    ours, peer = pair()
    writer = SocketWriter(ours.fileno())
    payload = os.urandom(16 << 20)
    writer.write([payload])
    ours.close()  # the event loop lets go first; the writer's duplicate keeps the socket open
    writer.close()
    assert read_exactly(peer, len(payload)) == payload
    assert peer.recv(1) == b""
    assert writer.closed
    with pytest.raises(OSError, match="closed"):
        writer.write([b"late"])

    ours, peer = pair()
    writer = SocketWriter(ours.fileno())
    writer.write([os.urandom(64 << 20)])
    writer.abort()
    ours.close()
    received = 0
    while chunk := peer.recv(1 << 20):  # what was in flight, then the end: never all of it
        received += len(chunk)
    assert received < 64 << 20 and writer.closed and writer.pending == 0


def test_a_send_that_fails_is_reported_on_the_next_write() -> None:
    ours, peer = pair()
    writer = SocketWriter(ours.fileno())
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()  # a reset
    with pytest.raises(OSError) as failure:
        for _ in range(100_000):
            writer.write([b"x" * 1024])
    assert failure.value.errno in (32, 104) or "closed" in str(failure.value)  # EPIPE, ECONNRESET
    assert writer.error in (32, 104) and writer.closed
    ours.close()


def test_the_thread_writes_to_its_own_duplicate_not_to_a_reused_descriptor_number() -> None:
    first, first_peer = pair()
    writer = SocketWriter(first.fileno())
    first.close()
    second, second_peer = pair()  # the kernel hands out the lowest free number: usually the same
    writer.write([b"for the first connection"])
    assert read_exactly(first_peer, 24) == b"for the first connection"
    second.setblocking(True)
    second.sendall(b"ping")
    assert second_peer.recv(4) == b"ping"
    second_peer.settimeout(0.2)
    with pytest.raises(TimeoutError):
        second_peer.recv(1)  # nothing of the first connection's
    writer.close()
    second.close()


def test_a_forked_child_gets_a_writer_thread_of_its_own() -> None:
    ours, peer = pair()
    SocketWriter(ours.fileno()).write([b"parent "])  # the parent's thread is running
    assert read_exactly(peer, 7) == b"parent "
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's result is its exit status
        status = 1
        try:
            writer = SocketWriter(ours.fileno())
            writer.write([b"child"])
            writer.close()
            deadline = time.monotonic() + 10
            while not writer.closed and time.monotonic() < deadline:  # written, then closed
                time.sleep(0.01)
            status = 0 if writer.closed else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert read_exactly(peer, 5) == b"child"
    ours.close()


def test_writes_from_many_python_threads_are_not_interleaved_within_one_write() -> None:
    ours, peer = pair()
    writer = SocketWriter(ours.fileno())
    records = 500

    def produce(tag: int) -> None:
        for i in range(records):
            writer.write([bytes([tag]) * 100, b"\n"])
    threads = [threading.Thread(target=produce, args=(65 + t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = read_exactly(peer, 4 * records * 101)
    lines = data.split(b"\n")[:-1]
    assert len(lines) == 4 * records and all(len(set(line)) == 1 and len(line) == 100 for line in lines)
    writer.close()
    ours.close()
