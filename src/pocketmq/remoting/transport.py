"""The asyncio side of remoting: connections, a server and a client over the sans-IO codec.

A ``Connection`` is one TCP socket carrying requests both ways: it dispatches the peer's
requests to a ``Dispatcher`` (responses may go out in any order) and matches the peer's
responses to our own requests by opaque. Writes are coalesced into one ``writelines`` call:
at the end of the ``data_received`` that produced them, or else at the end of the loop turn.
``RemotingServer`` accepts connections; ``RemotingClient`` keeps one connection per address,
reconnecting on demand.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import socket
import ssl
import struct
import time
from typing import Any, Awaitable, Callable, Coroutine, Union

from pocketmq.remoting import loopback
from pocketmq.remoting.codec import DEFAULT_MAX_FRAME_LENGTH, FrameDecoder, ProtocolError, encode_frame
from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import Buffer, RemotingCommand, make_error, make_response
from pocketmq.remoting.header import HeaderError
from pocketmq.remoting.tls import DISABLED, ENFORCING, ServerTls, TlsError, TlsSession

log = logging.getLogger("pocketmq.remoting")

HandlerResult = Union[RemotingCommand, None, Awaitable[Union[RemotingCommand, None]]]
Handler = Callable[[RemotingCommand, "Connection"], HandlerResult]

_opaque_counter = itertools.count(1)


def next_opaque() -> int:
    return next(_opaque_counter) & 0x7FFFFFFF


class RemotingError(Exception):
    """A request that got no usable answer: connection failure, closed channel or timeout."""


class RemotingConnectError(RemotingError):
    pass


class RemotingTimeoutError(RemotingError):
    pass


class RequestError(Exception):
    """Raised by a handler to answer with a specific response code and remark."""

    def __init__(self, code: int, remark: str) -> None:
        super().__init__(remark)
        self.code = code
        self.remark = remark


class RequestDenied(Exception):
    """Raised by a guard to refuse a request before any handler sees it (e.g. an ACL refusal):
    answered with ``code`` and ``remark`` in a JSON response, oneway requests get nothing."""

    def __init__(self, code: int, remark: str) -> None:
        super().__init__(remark)
        self.code = code
        self.remark = remark


# A guard sees every request first (upstream's server RPC hooks' doBeforeRequest).
Guard = Callable[[RemotingCommand, "Connection"], None]


class Dispatcher:
    """Request code -> handler. Unknown codes get REQUEST_CODE_NOT_SUPPORTED, unless
    ``answer_unknown`` is False (the 4.9 name server stays silent). ``guards`` run before the
    handler lookup and may refuse a request by raising RequestDenied."""

    def __init__(self, answer_unknown: bool = True) -> None:
        self.handlers: dict[int, Handler] = {}
        self.default: Handler | None = None
        self.answer_unknown = answer_unknown
        self.guards: list[Guard] = []
        # Told of every answered request (request, response or None for a oneway), e.g. by
        # the metrics room's rpc latency histogram; requests are stamped with ``clock()``.
        self.observer: Callable[[RemotingCommand, RemotingCommand | None], None] | None = None
        self.clock: Callable[[], float] = time.perf_counter

    def register(self, code: int, handler: Handler) -> None:
        self.handlers[int(code)] = handler

    def find(self, code: int) -> Handler | None:
        return self.handlers.get(code, self.default)


class Connection(asyncio.Protocol):
    def __init__(self, dispatcher: Dispatcher, *, max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
                 on_close: Callable[["Connection"], None] | None = None, name: str = "",
                 server_tls: ServerTls | None = None) -> None:
        self.dispatcher = dispatcher
        self._server_tls = server_tls  # looked at once, on the first bytes received
        self._tls: TlsSession | None = None
        self.decoder = FrameDecoder(max_frame_length)
        self.on_close = on_close
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.remote_address = ""
        self.local_address = ""
        self.closed = asyncio.Event()
        self.attributes: dict[str, Any] = {}  # per-channel state owned by the layers above
        self._pending: dict[int, asyncio.Future[RemotingCommand]] = {}
        self._outgoing: list[Buffer] = []
        self._flush_scheduled = False
        self._receiving = False
        self._loop = asyncio.get_event_loop()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ asyncio.Protocol events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.remote_address = _format_address(peer)
        self.local_address = _format_address(sock)
        raw = transport.get_extra_info("socket")
        if raw is not None:
            try:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def data_received(self, data: bytes) -> None:
        if self._server_tls is not None or self._tls is not None:
            data = self._tls_receive(data)
            if not data:
                return
        decoder = self.decoder
        decoder.feed(data)
        # Answers produced while these bytes are handled go out in one write at the end,
        # without a separate loop callback.
        self._receiving = True
        try:
            while True:
                cmd = decoder.next_command()
                if cmd is None:
                    break
                if cmd.is_response:
                    self._complete(cmd)
                else:
                    self._dispatch(cmd)
        except ProtocolError as exc:
            log.warning("closing connection %s: %s", self.remote_address, exc)
            self.close()
        finally:
            self._receiving = False
        if self._outgoing and not self._flush_scheduled:
            self._flush()

    def _tls_receive(self, data: bytes) -> bytes:
        """The plaintext in ``data``: a server connection's first bytes decide TLS or not (the
        TLS handshake record byte, 0x16), then a TLS session decrypts; a TLS failure closes."""
        try:
            if self._server_tls is not None:
                policy, self._server_tls = self._server_tls, None
                if not policy.wants_tls(data[0]):
                    return data
                assert policy.context is not None
                self._tls = TlsSession(policy.context, server_side=True)
            assert self._tls is not None
            plaintext = self._tls.receive(data)
        except TlsError as exc:
            log.warning("closing connection %s: %s", self.remote_address, exc)
            self._write_tls()
            self.close()
            return b""
        self._write_tls()
        return plaintext

    def _write_tls(self) -> None:
        if self._tls is not None and self.transport is not None:
            records = self._tls.outgoing()
            if records:
                self.transport.write(records)

    def eof_received(self) -> bool:
        """The peer closed its side: close ours in order (FIN, not a reset)."""
        if self.transport is not None:
            _set_linger_abort(self.transport, False)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.closed.set()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(RemotingError(f"connection to {self.remote_address} closed"))
        if self.on_close is not None:
            try:
                self.on_close(self)
            except Exception:  # a close callback must never break the transport
                log.exception("close callback failed for %s", self.remote_address)

    # ------------------------------------------------------------------------------- sending
    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def send(self, cmd: RemotingCommand) -> None:
        """Queue a command; all queued frames go out together at the end of this loop turn."""
        if self.transport is None:
            raise RemotingError(f"connection to {self.remote_address} is closed")
        self._outgoing.extend(encode_frame(cmd))
        if not self._flush_scheduled and not self._receiving:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        outgoing, self._outgoing = self._outgoing, []
        if self.transport is not None and outgoing:
            if self._tls is None:
                self.transport.writelines(outgoing)
                return
            try:
                self._tls.send(b"".join(outgoing))
            except TlsError as exc:
                log.warning("closing connection %s: %s", self.remote_address, exc)
                self.abort()
                return
            self._write_tls()

    async def invoke(self, request: RemotingCommand, timeout: float = 3.0) -> RemotingCommand:
        """Send a request and wait for its response (matched by opaque) up to ``timeout`` seconds."""
        request.opaque = next_opaque()
        future: asyncio.Future[RemotingCommand] = self._loop.create_future()
        self._pending[request.opaque] = future
        timer = self._loop.call_later(timeout, self._expire, request.opaque, timeout, request.code)
        try:
            self.send(request)
            return await future
        finally:
            timer.cancel()
            self._pending.pop(request.opaque, None)

    def invoke_oneway(self, request: RemotingCommand) -> None:
        request.opaque = next_opaque()
        request.flag |= 0x2
        self.send(request)

    def _expire(self, opaque: int, timeout: float, code: int) -> None:
        future = self._pending.pop(opaque, None)
        if future is not None and not future.done():
            future.set_exception(RemotingTimeoutError(
                f"wait response on the channel <{self.remote_address}> timeout, {int(timeout * 1000)}(ms), code {code}"))

    def _complete(self, response: RemotingCommand) -> None:
        future = self._pending.pop(response.opaque, None)
        if future is not None and not future.done():
            future.set_result(response)

    def close(self) -> None:
        if self.transport is not None:
            self._flush()
            _set_linger_abort(self.transport, False)  # an orderly close sends what is queued, then FIN
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # ----------------------------------------------------------------------------- dispatching
    def _dispatch(self, request: RemotingCommand) -> None:
        dispatcher = self.dispatcher
        if dispatcher.observer is not None:
            request.received_at = dispatcher.clock()
        if dispatcher.guards and not self._guard(request):
            return
        handler = dispatcher.find(request.code)
        if handler is None:
            if self.dispatcher.answer_unknown and not request.is_oneway:
                self.send(make_error(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED,
                                     f" request type {request.code} not supported"))
            return
        try:
            result = handler(request, self)
        except Exception as exc:  # a handler's failure answers this request, nothing more
            self._answer_failure(request, exc)
            return
        if result is None or type(result) is RemotingCommand:  # answered at once (the common case)
            self.answer(request, result)
        elif inspect.iscoroutine(result):
            self._run_eagerly(request, result)
        elif inspect.isawaitable(result):
            self._track(self._loop.create_task(self._finish(request, result)))
        else:
            self.answer(request, result)

    def _guard(self, request: RemotingCommand) -> bool:
        """Run the dispatcher's guards; answers a refused request and returns False."""
        try:
            for guard in self.dispatcher.guards:
                guard(request, self)
        except RequestDenied as denied:
            if not request.is_oneway:
                self.send(make_error(request, denied.code, denied.remark))
            return False
        except Exception as exc:  # a guard's own failure refuses the request, nothing more
            self._answer_failure(request, exc)
            return False
        return True

    def _track(self, task: "asyncio.Task[None]") -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _run_eagerly(self, request: RemotingCommand, coro: Coroutine[Any, Any, RemotingCommand | None],
                     _done: Any = None) -> None:
        """Step a handler coroutine without a Task. Most handlers (a send under ASYNC_FLUSH, a
        pull that finds messages) finish in their first step; one that waits on a future is
        stepped again from that future's done callback, as a Task would, minus the Task."""
        try:
            blocked_on = coro.send(None)
        except StopIteration as done:
            self.answer(request, done.value)
            return
        except asyncio.CancelledError:
            return  # the handler let a cancellation end it: nothing to answer, as a cancelled Task
        except Exception as exc:
            self._answer_failure(request, exc)
            return
        if blocked_on is None:  # a bare yield (asyncio.sleep(0)): give the loop one turn
            self._loop.call_soon(self._run_eagerly, request, coro)
            return
        add_done_callback = getattr(blocked_on, "add_done_callback", None)
        if add_done_callback is None:
            coro.close()
            self._answer_failure(request, RuntimeError(f"handler yielded {blocked_on!r}, not a future"))
            return
        # The yield marked the future as awaited; a Task clears the mark before waiting on it.
        blocked_on._asyncio_future_blocking = False
        add_done_callback(functools.partial(self._run_eagerly, request, coro))

    async def _finish(self, request: RemotingCommand, pending: Awaitable[RemotingCommand | None]) -> None:
        try:
            response = await pending
        except Exception as exc:
            self._answer_failure(request, exc)
            return
        self.answer(request, response)

    def answer(self, request: RemotingCommand, response: RemotingCommand | None) -> None:
        """Write ``response`` as the answer to ``request``. A handler that returned None answers
        later through this (a SYNC_FLUSH send, from the group commit)."""
        observer = self.dispatcher.observer
        if observer is not None and (response is not None or request.is_oneway):
            observer(request, None if request.is_oneway else response)
        if response is None or request.is_oneway or self.transport is None:
            return
        response.opaque = request.opaque
        response.flag |= 0x1
        self.send(response)

    def _answer_failure(self, request: RemotingCommand, exc: Exception) -> None:
        if isinstance(exc, RequestError):
            response = make_response(request, exc.code, exc.remark)
        elif isinstance(exc, HeaderError):
            response = make_response(request, ResponseCode.SYSTEM_ERROR, str(exc))
        else:
            log.exception("request code %s from %s failed", request.code, self.remote_address)
            response = make_error(request, ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}")
        self.answer(request, response)


_LINGER = struct.Struct("ii")


def _set_linger_abort(transport: Any, abort: bool) -> None:
    """SO_LINGER with a zero timeout: when the process dies (kill -9), the kernel resets this
    connection instead of closing it with FIN. Clients then fail the requests they have in
    flight at once and retry elsewhere; on a FIN the official Java client (4.9.x) leaves them
    to run into their timeout. Orderly closes turn it off first."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER.pack(1 if abort else 0, 0))
    except OSError:
        pass


def _format_address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address or "")


CLOSE_GRACE_SECONDS = 2.0


class RemotingServer:
    """Accepts connections on host:port and serves them with one dispatcher."""

    def __init__(self, dispatcher: Dispatcher, *, max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
                 on_connect: Callable[[Connection], None] | None = None,
                 on_close: Callable[[Connection], None] | None = None, tls: ServerTls | None = None) -> None:
        self.dispatcher = dispatcher
        # None: plaintext only (disabled, or permissive without a certificate to serve TLS with)
        self.tls = tls if tls is not None and tls.mode != DISABLED and (tls.context is not None or tls.mode == ENFORCING) \
            else None
        self.max_frame_length = max_frame_length
        self.on_connect = on_connect
        self.on_close = on_close
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, host, port, reuse_address=True,
                                                backlog=1024)

    @property
    def port(self) -> int:
        assert self._server is not None and self._server.sockets
        return self._server.sockets[0].getsockname()[1]

    def _new_connection(self) -> Connection:
        connection = _ServerConnection(self)
        return connection

    def accept_in_process(self) -> Connection:
        """A server end for a client of this same process (``loopback.join``): served as any
        accepted connection, without TLS (the bytes never leave the process)."""
        connection = _ServerConnection(self)
        connection._server_tls = None
        return connection

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            connections = list(self.connections)
            for connection in connections:
                connection.close()
            # A peer that neither reads nor closes must not hold a stopping server forever.
            if not await self._closed_within(CLOSE_GRACE_SECONDS):
                log.warning("aborting %d connection(s) that did not close in %.0f s", len(self.connections),
                            CLOSE_GRACE_SECONDS)
                for connection in list(self.connections):
                    connection.abort()
                if not await self._closed_within(CLOSE_GRACE_SECONDS):
                    log.warning("a server still counts open connections after they were aborted; stopping anyway")
            self._server = None

    async def _closed_within(self, seconds: float) -> bool:
        assert self._server is not None
        try:
            await asyncio.wait_for(self._server.wait_closed(), seconds)
        except asyncio.TimeoutError:
            return False
        return True


class _ServerConnection(Connection):
    def __init__(self, server: RemotingServer) -> None:
        super().__init__(server.dispatcher, max_frame_length=server.max_frame_length, server_tls=server.tls)
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        _set_linger_abort(transport, True)
        self.server.connections.add(self)
        if self.server.on_connect is not None:
            self.server.on_connect(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.on_close = self.server.on_close
        super().connection_lost(exc)


class RemotingClient:
    """One connection per address, opened on first use and re-opened after it closes.
    ``dispatcher`` serves the requests servers send to us (e.g. NOTIFY_CONSUMER_IDS_CHANGED).
    ``before_request`` sees each request just before it is sent (e.g. to sign it, as upstream's
    client RPC hooks). A request that times out drops its connection, so the next one opens a
    fresh one (upstream's clientCloseSocketIfTimeout, true by default): a connection whose peer
    was cut off stays in TCP retransmission back-off long after the network heals, and a broker
    heartbeating a controller over it would look dead for seconds more than it was."""

    def __init__(self, dispatcher: Dispatcher | None = None, *, connect_timeout: float = 3.0,
                 max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
                 before_request: Callable[[RemotingCommand], None] | None = None,
                 ssl_context: ssl.SSLContext | None = None, close_socket_if_timeout: bool = True) -> None:
        self.dispatcher = dispatcher or Dispatcher()
        self.close_socket_if_timeout = close_socket_if_timeout
        self.ssl_context = ssl_context  # connect with TLS (upstream's client tls.enable)
        self.before_request = before_request
        self.connect_timeout = connect_timeout
        self.max_frame_length = max_frame_length
        self._connections: dict[str, Connection] = {}
        self._connecting: dict[str, asyncio.Future[Connection]] = {}
        self._in_process: dict[str, RemotingServer] = {}
        self._closed = False

    def serve_in_process(self, address: str, server: "RemotingServer") -> None:
        """Reach ``address`` through memory: it is ``server``, in this process (see loopback)."""
        self._in_process[address] = server

    def open_connection(self, address: str) -> Connection | None:
        """The open connection to ``address``, if there is one (none is opened)."""
        existing = self._connections.get(address)
        return existing if existing is not None and existing.is_open else None

    async def connection(self, address: str) -> Connection:
        existing = self._connections.get(address)
        if existing is not None and existing.is_open:
            return existing
        if self._closed:
            raise RemotingError("client is shut down")
        pending = self._connecting.get(address)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
        self._connecting[address] = future
        try:
            connection = await self._open(address)
            self._connections[address] = connection
            future.set_result(connection)
            return connection
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._connecting.pop(address, None)

    async def _open(self, address: str) -> Connection:
        server = self._in_process.get(address)
        if server is not None:
            connection = Connection(self.dispatcher, max_frame_length=self.max_frame_length, on_close=self._forget,
                                    name=address)
            loopback.join(connection, server.accept_in_process())
            return connection
        host, _, port_text = address.rpartition(":")
        try:
            port = int(port_text)
        except ValueError:
            raise RemotingConnectError(f"bad address {address!r}") from None
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Connection(self.dispatcher, max_frame_length=self.max_frame_length,
                                       on_close=self._forget, name=address),
                    host, port, ssl=self.ssl_context, server_hostname=host if self.ssl_context else None),
                self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise RemotingConnectError(f"connect to {address} failed: {exc or type(exc).__name__}") from None
        protocol.name = address
        return protocol

    def _forget(self, connection: Connection) -> None:
        if self._connections.get(connection.name) is connection:
            del self._connections[connection.name]

    async def invoke(self, address: str, request: RemotingCommand, timeout: float = 3.0) -> RemotingCommand:
        connection = await self.connection(address)
        if self.before_request is not None:
            self.before_request(request)
        try:
            return await connection.invoke(request, timeout)
        except RemotingTimeoutError:
            if self.close_socket_if_timeout:
                log.warning("invokeSync: close socket because of timeout, %dms, %s", int(timeout * 1000), address)
                self._drop(connection)
            raise

    def _drop(self, connection: Connection) -> None:
        self._forget(connection)
        connection.abort()  # not close(): a graceful close would wait to flush into the void

    async def invoke_oneway(self, address: str, request: RemotingCommand) -> None:
        connection = await self.connection(address)
        if self.before_request is not None:
            self.before_request(request)
        connection.invoke_oneway(request)

    def close_connection(self, address: str) -> None:
        connection = self._connections.pop(address, None)
        if connection is not None:
            connection.close()

    async def close(self) -> None:
        self._closed = True
        connections = list(self._connections.values())
        self._connections.clear()
        for connection in connections:
            connection.close()
        for connection in connections:
            try:
                await asyncio.wait_for(connection.closed.wait(), 1.0)
            except asyncio.TimeoutError:
                connection.abort()
