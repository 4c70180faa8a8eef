"""A broker's remoting worker process (``serverWorkerProcesses``): accepts clients on the broker's
main port and relays them to the store process over the worker link (broker.worker_link).

The worker owns no state of the broker: it forwards every frame as it came, except ordinary sends
(SEND_MESSAGE and SEND_MESSAGE_V2, not oneway, not batch, not to a retry or system topic, and
with an ordinary property layout), which it decodes and prepares. So a send's header decoding,
property edits, tags hash and answer encoding run on this process's core, while the store
process keeps its single ownership of the commit log. It exits when the store process goes away
(its control link closes, or the kernel's parent-death signal).

Started by broker.remoting_workers as ``python -m pocketmq.broker.remoting_worker``; the listening
socket is inherited, the link token comes in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import socket
import struct
import sys
from dataclasses import dataclass

from pocketmq.process import install_event_loop_policy
from pocketmq.protocol import message as m
from pocketmq.protocol.client_headers import SendMessageRequestHeader
from pocketmq.remoting.codec import DEFAULT_MAX_FRAME_LENGTH, ProtocolError, decode_header, encode_frame
from pocketmq.remoting.codes import FLAG_ONEWAY, FLAG_RESPONSE, RequestCode, ResponseCode, SerializeType
from pocketmq.remoting.command import RemotingCommand
from pocketmq.remoting.header import HeaderError
from pocketmq.remoting.header import decode_header as decode_typed_header
from pocketmq.broker import worker_link as link
from pocketmq.broker.stored_properties import ordinary_stored_properties
from pocketmq.broker.topic_config import NOT_ALLOWED_SEND_TOPICS, RETRY_GROUP_TOPIC_PREFIX, topic_problem

log = logging.getLogger("pocketmq.broker.worker")

_LENGTH = struct.Struct(">i")
_MARK = struct.Struct(">I")
_LINK_HEADER = struct.Struct(">hii")
_LINGER_ABORT = struct.pack("ii", 1, 0)
_SEND_CODES = (RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2)
# A JSON header that may be a send's: a cheap test before the header is decoded.
_SEND_MARKS = (b'"code":310', b'"code":10,', b'"code":10}')
_PR_SET_PDEATHSIG = 1


@dataclass(slots=True)
class WorkerSettings:
    link_address: str  # the store process's Unix socket ("\0..." for the abstract namespace)
    token: str
    cluster_pair: str  # the CLUSTER property every stored ordinary message gets
    prepare_sends: bool  # false (ACL on): every frame goes to the store process as it came
    max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH


class FrameSplitter:
    """Whole frames out of a byte stream, without decoding them: (serialize type, header length,
    frame bytes). Raises ProtocolError on a length no frame can have."""

    __slots__ = ("_buffer", "max_frame_length")

    def __init__(self, max_frame_length: int) -> None:
        self._buffer = bytearray()
        self.max_frame_length = max_frame_length

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        buffer = self._buffer
        buffer += data
        frames = []
        pos = 0
        end_of_data = len(buffer)
        while end_of_data - pos >= 4:
            length = _LENGTH.unpack_from(buffer, pos)[0]
            if length < 4 or length > self.max_frame_length:
                raise ProtocolError(f"frame length {length} outside 4..{self.max_frame_length}")
            end = pos + 4 + length
            if end > end_of_data:
                break
            mark = _MARK.unpack_from(buffer, pos + 4)[0]
            header_length = mark & 0xFFFFFF
            if header_length > length - 4:
                raise ProtocolError(f"header length {header_length} exceeds frame length {length}")
            frames.append((mark >> 24, header_length, bytes(buffer[pos:end])))
            pos = end
        if pos:
            del buffer[:pos]
        return frames


@dataclass(slots=True)
class _PendingSend:
    serialize_type: int
    frame: bytes  # the client's request, sent as it came if the store process asks for it


class ClientSide(asyncio.Protocol):
    """One client of the broker's main port, and its link connection to the store process."""

    def __init__(self, worker: "Worker") -> None:
        self.worker = worker
        self.settings = worker.settings
        self.splitter = FrameSplitter(worker.settings.max_frame_length)
        self.transport: asyncio.Transport | None = None
        self.link: LinkSide | None = None
        self.pending: dict[int, _PendingSend] = {}
        self.remote_address = ""
        self._early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # As the broker's own connections: when this process dies, the client sees a reset.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
            except OSError:
                pass
        self.remote_address = _format(transport.get_extra_info("peername"))
        local = _format(transport.get_extra_info("sockname"))
        self.transport.pause_reading()  # until the link is open
        self.worker.track(asyncio.get_running_loop().create_task(self._open_link(local)))

    async def _open_link(self, local_address: str) -> None:
        try:
            _, side = await open_link(lambda: LinkSide(self), self.settings.link_address)
        except OSError as exc:
            log.warning("closing client %s: the broker's store process is unreachable: %s", self.remote_address, exc)
            self.abort()
            return
        if self.transport is None:  # the client left meanwhile
            side.close()
            return
        self.link = side
        side.send(encode_frame(link.hello_frame(link.Hello(
            self.settings.token, link.ROLE_CLIENT, self.remote_address, local_address, os.getpid()))))
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        side = self.link
        if side is None:  # the link is still opening (a pause asked for in connection_made may come late)
            self._early.append(data)
            return
        try:
            frames = self.splitter.feed(data)
        except ProtocolError as exc:
            log.warning("closing client %s: %s", self.remote_address, exc)
            self.close()
            return
        out: list[bytes | memoryview] = []
        prepare = self.settings.prepare_sends
        for serialize_type, header_length, frame in frames:
            if serialize_type > SerializeType.ROCKETMQ:
                log.warning("closing client %s: unknown serialize type %d", self.remote_address, serialize_type)
                self.close()
                return
            if prepare and self._may_be_send(serialize_type, header_length, frame) \
                    and self._prepare_send(serialize_type, header_length, frame, out):
                continue
            out.append(frame)
        if out:
            side.send(out)

    @staticmethod
    def _may_be_send(serialize_type: int, header_length: int, frame: bytes) -> bool:
        if serialize_type == SerializeType.ROCKETMQ:
            return header_length >= 2 and int.from_bytes(frame[8:10], "big", signed=True) in _SEND_CODES
        header = frame[8:8 + min(header_length, 64)]
        return any(mark in header for mark in _SEND_MARKS)

    def _prepare_send(self, serialize_type: int, header_length: int, frame: bytes,
                      out: list[bytes | memoryview]) -> bool:
        """A PUT for an ordinary send into ``out``; False leaves the frame to go as it came."""
        try:
            cmd = decode_header(serialize_type, frame[8:8 + header_length])
        except ProtocolError:
            return False  # the store process's decoder will refuse it and close the connection
        if cmd.code not in _SEND_CODES or cmd.flag & (FLAG_ONEWAY | FLAG_RESPONSE) or cmd.opaque in self.pending:
            return False
        try:
            header = decode_typed_header(SendMessageRequestHeader, cmd.ext_fields,
                                         short_names=cmd.code == RequestCode.SEND_MESSAGE_V2)
        except HeaderError:
            return False
        topic = header.topic
        if header.batch or topic.startswith(RETRY_GROUP_TOPIC_PREFIX) or topic in NOT_ALLOWED_SEND_TOPICS \
                or topic_problem(topic) is not None:
            return False
        stored = ordinary_stored_properties(header.properties or "", self.settings.cluster_pair)
        if stored is None:
            return False
        put = link.Put(topic, header.queueId, header.sysFlag, header.flag, header.bornTimestamp,
                       header.reconsumeTimes or 0,
                       m.tags_string_to_tags_code(m.property_from_string(stored, m.PROPERTY_TAGS)),
                       stored, frame[8 + header_length:], serialize_type)
        out.extend(encode_frame(link.put_frame(cmd.opaque, put)))
        self.pending[cmd.opaque] = _PendingSend(serialize_type, frame)
        return True

    def answer_put(self, code: int, opaque: int, body: bytes, out: list[bytes | memoryview]) -> None:
        """The store process's answer to a PUT: the client's answer into ``out``."""
        pending = self.pending.pop(opaque, None)
        if pending is None:
            log.warning("answer for unknown send %d of client %s dropped", opaque, self.remote_address)
            return
        if code == link.PUT_DONE:
            queue_offset, queue_id, msg_id, trace_on, region_id = link.read_put_done(body)
            response = RemotingCommand(
                ResponseCode.SUCCESS, opaque=opaque, flag=FLAG_RESPONSE, serialize_type=SerializeType(pending.serialize_type),
                ext_fields={"MSG_REGION": region_id, "TRACE_ON": "true" if trace_on else "false",
                            "msgId": msg_id, "queueId": str(queue_id), "queueOffset": str(queue_offset)})
            out.extend(encode_frame(response))
        elif code == link.ANSWER:
            out.append(body)
        elif code == link.FALLBACK and self.link is not None:
            self.link.send([pending.frame])

    def send(self, frames: list[bytes | memoryview]) -> None:
        if self.transport is not None:
            self.transport.writelines(frames)

    def pause_writing(self) -> None:  # the client reads slower than the store process answers
        if self.link is not None and self.link.transport is not None:
            self.link.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.link is not None and self.link.transport is not None:
            self.link.transport.resume_reading()

    def eof_received(self) -> bool:
        """The client closed its side: close ours in order (FIN, not a reset), as the broker does."""
        self.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.link is not None:
            self.link.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """An orderly close (FIN after what is queued), as the broker closes a peer that sent a bad frame."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 0, 0))
            except OSError:
                pass
        self.transport.close()
        if self.link is not None:
            self.link.close()


class LinkSide(asyncio.Protocol):
    """A link connection to the store process, standing for one client (or, with ``client``
    None, the worker's control connection)."""

    def __init__(self, client: ClientSide | None, on_lost: "asyncio.Future[None] | None" = None,
                 max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH) -> None:
        self.client = client
        self.on_lost = on_lost
        self.splitter = FrameSplitter(client.settings.max_frame_length if client is not None else max_frame_length)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is None:
            return
        try:
            frames = self.splitter.feed(data)
        except ProtocolError as exc:
            log.error("closing link of client %s: %s", client.remote_address, exc)
            self.close()
            return
        out: list[bytes | memoryview] = []
        for serialize_type, header_length, frame in frames:
            if serialize_type == SerializeType.WORKER_LINK and header_length == _LINK_HEADER.size:
                code, opaque, _ = _LINK_HEADER.unpack_from(frame, 8)
                client.answer_put(code, opaque, frame[8 + header_length:], out)
            else:
                out.append(frame)
        if out:
            client.send(out)

    def send(self, frames: list[bytes | memoryview]) -> None:
        if self.transport is not None:
            self.transport.writelines(frames)

    def pause_writing(self) -> None:  # the store process reads slower than the client sends
        if self.client is not None and self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client is not None and self.client.transport is not None:
            self.client.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.client is not None:
            self.client.abort() if exc is not None else self._close_client()
        if self.on_lost is not None and not self.on_lost.done():
            self.on_lost.set_result(None)

    def _close_client(self) -> None:
        assert self.client is not None
        self.client.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_link(factory, address: str) -> tuple[asyncio.BaseTransport, LinkSide]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, address)
        return await asyncio.get_running_loop().create_unix_connection(factory, sock=sock)
    except BaseException:
        sock.close()
        raise


class Worker:
    def __init__(self, settings: WorkerSettings, listen_socket: socket.socket) -> None:
        self.settings = settings
        self.listen_socket = listen_socket
        self._tasks: set[asyncio.Task[None]] = set()

    def track(self, task: "asyncio.Task[None]") -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()
        _, control = await open_link(lambda: LinkSide(None, gone), self.settings.link_address)
        control.send(encode_frame(link.hello_frame(link.Hello(self.settings.token, link.ROLE_CONTROL, pid=os.getpid()))))
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        server = await loop.create_server(lambda: ClientSide(self), sock=self.listen_socket, backlog=1024)
        stopped = loop.create_task(stop.wait())
        await asyncio.wait([gone, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        server.close()
        control.close()


def _format(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address or "")


def die_with_parent() -> None:
    """Ask the kernel to kill this process when the store process dies (even by kill -9), so the
    shared listening socket is released with it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def parse_args(argv: list[str]) -> tuple[WorkerSettings, int]:
    parser = argparse.ArgumentParser(prog="pocketmq.broker.remoting_worker")
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--link", required=True, help="the store process's Unix socket; @name is abstract")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--prepare-sends", choices=("true", "false"), default="true")
    parser.add_argument("--max-frame-length", type=int, default=DEFAULT_MAX_FRAME_LENGTH)
    args = parser.parse_args(argv)
    address = "\0" + args.link[1:] if args.link.startswith("@") else args.link
    settings = WorkerSettings(
        address, os.environ.get(link.TOKEN_ENV, ""), m.PROPERTY_CLUSTER + m.NAME_VALUE_SEPARATOR + args.cluster,
        args.prepare_sends == "true", args.max_frame_length)
    return settings, args.listen_fd


def main(argv: list[str] | None = None) -> int:
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the request took effect
        return 1
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s remoting worker %(process)d - %(message)s")
    settings, fd = parse_args(sys.argv[1:] if argv is None else argv)
    listen_socket = socket.socket(fileno=fd)
    install_event_loop_policy()
    asyncio.run(Worker(settings, listen_socket).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
