"""Transport: dispatch, out-of-order responses, timeouts, oneway, server-to-client requests,
reconnects, bad peers and clean shutdown — over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pocketmq.remoting.codec import encode_frame_bytes
from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_request, make_response
from pocketmq.remoting.header import HeaderError
from pocketmq.remoting.transport import (
    Dispatcher, RemotingClient, RemotingConnectError, RemotingServer, RemotingTimeoutError, RequestError,
)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


async def start_server(dispatcher: Dispatcher) -> tuple[RemotingServer, str]:
    server = RemotingServer(dispatcher)
    await server.start("127.0.0.1", 0)
    return server, f"127.0.0.1:{server.port}"


def test_responses_match_requests_even_out_of_order():
    async def main():
        dispatcher = Dispatcher()

        async def slow_echo(request, connection):
            await asyncio.sleep(float(request.field("delay")))
            return make_response(request, remark=request.field("n"))

        dispatcher.register(1, slow_echo)
        server, address = await start_server(dispatcher)
        client = RemotingClient()
        finished: list[str] = []

        async def call(n: int, delay: float):
            response = await client.invoke(address, make_request(1, {"n": str(n), "delay": str(delay)}))
            finished.append(response.remark)
            return response.remark

        results = await asyncio.gather(call(1, 0.3), call(2, 0.0), call(3, 0.1))
        assert results == ["1", "2", "3"]
        assert finished == ["2", "3", "1"]
        await client.close()
        await server.close()

    run(main())


def test_unknown_code_and_handler_errors_get_error_responses():
    async def main():
        dispatcher = Dispatcher()

        def needs_topic(request, connection):
            raise HeaderError("topic", "is null")

        def refuses(request, connection):
            raise RequestError(ResponseCode.NO_PERMISSION, "no way")

        def crashes(request, connection):
            raise RuntimeError("boom")

        dispatcher.register(2, needs_topic)
        dispatcher.register(3, refuses)
        dispatcher.register(4, crashes)
        server, address = await start_server(dispatcher)
        client = RemotingClient()
        unknown = await client.invoke(address, make_request(999))
        assert unknown.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
        assert "999" in unknown.remark
        missing = await client.invoke(address, make_request(2))
        assert missing.code == ResponseCode.SYSTEM_ERROR and "<topic>" in missing.remark
        refused = await client.invoke(address, make_request(3))
        assert (refused.code, refused.remark) == (ResponseCode.NO_PERMISSION, "no way")
        crashed = await client.invoke(address, make_request(4))
        assert crashed.code == ResponseCode.SYSTEM_ERROR and "boom" in crashed.remark
        await client.close()
        await server.close()

    run(main())


def test_timeout_oneway_and_server_to_client_requests():
    async def main():
        dispatcher = Dispatcher()
        seen_oneway = asyncio.Event()
        server_connections = []

        async def never(request, connection):
            await asyncio.sleep(10)

        def oneway(request, connection):
            seen_oneway.set()
            return make_response(request)  # must not be sent for a oneway request

        dispatcher.register(5, never)
        dispatcher.register(6, oneway)
        server = RemotingServer(dispatcher, on_connect=server_connections.append)
        await server.start("127.0.0.1", 0)
        address = f"127.0.0.1:{server.port}"

        client_dispatcher = Dispatcher()
        client_dispatcher.register(40, lambda request, connection: make_response(request, remark="client here"))
        client = RemotingClient(client_dispatcher)
        with pytest.raises(RemotingTimeoutError):
            await client.invoke(address, make_request(5), timeout=0.2)
        await client.invoke_oneway(address, make_request(6))
        await asyncio.wait_for(seen_oneway.wait(), 5)

        server_side = server_connections[-1]  # the timed-out request's connection was dropped
        answer = await server_side.invoke(make_request(40), timeout=5)
        assert answer.remark == "client here"
        await client.close()
        await server.close()

    run(main())


def test_a_timed_out_request_drops_its_connection_and_the_next_request_opens_a_fresh_one():
    """As upstream (clientCloseSocketIfTimeout, true by default): a peer that stopped answering
    on one connection, a cut-off network still in TCP back-off say, is tried on a new one."""
    async def main():
        dispatcher = Dispatcher()
        stalled = asyncio.Event()

        async def ping(request, connection):
            if not stalled.is_set():
                stalled.set()
                await asyncio.sleep(10)
            return make_response(request)

        dispatcher.register(1, ping)
        server_connections = []
        server = RemotingServer(dispatcher, on_connect=server_connections.append)
        await server.start("127.0.0.1", 0)
        address = f"127.0.0.1:{server.port}"
        client = RemotingClient()
        with pytest.raises(RemotingTimeoutError):
            await client.invoke(address, make_request(1), timeout=0.2)
        assert (await client.invoke(address, make_request(1), timeout=5)).code == ResponseCode.SUCCESS
        assert len(server_connections) == 2
        await asyncio.wait_for(server_connections[0].closed.wait(), 5)

        kept = RemotingClient(close_socket_if_timeout=False)
        stalled.clear()
        with pytest.raises(RemotingTimeoutError):
            await kept.invoke(address, make_request(1), timeout=0.2)
        assert (await kept.invoke(address, make_request(1), timeout=5)).code == ResponseCode.SUCCESS
        assert len(server_connections) == 3
        await client.close()
        await kept.close()
        await server.close()

    run(main())


def test_client_reconnects_after_the_server_restarts():
    async def main():
        dispatcher = Dispatcher()
        dispatcher.register(1, lambda request, connection: make_response(request))
        server, address = await start_server(dispatcher)
        port = server.port
        client = RemotingClient()
        assert (await client.invoke(address, make_request(1))).code == 0
        await server.close()
        with pytest.raises(Exception):
            await client.invoke(address, make_request(1), timeout=1)
        server = RemotingServer(dispatcher)
        await server.start("127.0.0.1", port)
        assert (await client.invoke(address, make_request(1))).code == 0
        await client.close()
        await server.close()

    run(main())


def test_connect_failure_is_a_clear_error():
    async def main():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        client = RemotingClient()
        with pytest.raises(RemotingConnectError, match=f"127.0.0.1:{port}"):
            await client.invoke(f"127.0.0.1:{port}", make_request(1))
        await client.close()

    run(main())


def test_bad_peer_is_dropped_and_half_sent_frame_blocks_nobody():
    async def main():
        dispatcher = Dispatcher()
        dispatcher.register(1, lambda request, connection: make_response(request))
        server, address = await start_server(dispatcher)
        host, port = address.split(":")
        # A peer that sends garbage is disconnected.
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"\xff\xff\xff\xff garbage")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        # A peer that sends half a frame and stalls does not block another client.
        stalled_reader, stalled = await asyncio.open_connection(host, int(port))
        frame = encode_frame_bytes(RemotingCommand(code=1, opaque=1, body=b"x" * 100))
        stalled.write(frame[:50])
        await stalled.drain()
        client = RemotingClient()
        assert (await client.invoke(address, make_request(1))).code == 0
        stalled.close()
        await client.close()
        await server.close()

    run(main())
