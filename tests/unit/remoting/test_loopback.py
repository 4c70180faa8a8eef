"""In-process connections (remoting/loopback.py): a client told to reach an address in process gets
the same answers as over TCP (out-of-order responses, errors, oneway, server-to-client requests),
the server counts and serves it like an accepted connection, and closing either end fails what
is still pending on the other. No socket is opened for it."""

from __future__ import annotations

import asyncio

import pytest

from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import make_request, make_response
from pocketmq.remoting.transport import Dispatcher, RemotingClient, RemotingError, RemotingServer

ADDRESS = "10.255.255.1:10911"  # never connected to: the in-process route must win


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def in_process(dispatcher: Dispatcher, client_dispatcher: Dispatcher | None = None, **server_kw):
    server = RemotingServer(dispatcher, **server_kw)  # never started: no listening socket
    client = RemotingClient(client_dispatcher)
    client.serve_in_process(ADDRESS, server)
    return server, client


def test_requests_get_their_answers_in_any_order():
    async def main():
        dispatcher = Dispatcher()

        async def slow_echo(request, connection):
            await asyncio.sleep(float(request.field("delay")))
            return make_response(request, remark=request.field("n"), body=request.body)

        dispatcher.register(1, slow_echo)
        server, client = in_process(dispatcher)
        calls = [client.invoke(ADDRESS, make_request(1, {"n": str(n), "delay": str(d)}, body=b"x" * n))
                 for n, d in ((1, 0.2), (2, 0.0), (3, 0.1))]
        answers = await asyncio.gather(*calls)
        assert [a.remark for a in answers] == ["1", "2", "3"]
        assert [bytes(a.body) for a in answers] == [b"x", b"xx", b"xxx"]
        unknown = await client.invoke(ADDRESS, make_request(999))
        assert unknown.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
        assert len(server.connections) == 1
        await client.close()

    run(main())


def test_oneway_and_server_to_client_requests():
    async def main():
        dispatcher, seen = Dispatcher(), asyncio.Event()
        dispatcher.register(6, lambda request, connection: seen.set())
        client_dispatcher = Dispatcher()
        client_dispatcher.register(40, lambda request, connection: make_response(request, remark="client here"))
        server_ends = []
        server, client = in_process(dispatcher, client_dispatcher, on_connect=server_ends.append)
        await client.invoke_oneway(ADDRESS, make_request(6))
        await asyncio.wait_for(seen.wait(), 5)
        [server_end] = server_ends
        assert (await server_end.invoke(make_request(40), timeout=5)).remark == "client here"
        await client.close()

    run(main())


def test_closing_one_end_closes_both_and_fails_what_is_pending():
    async def main():
        dispatcher = Dispatcher()

        async def never(request, connection):
            await asyncio.sleep(30)

        dispatcher.register(5, never)
        closed = []
        server, client = in_process(dispatcher, on_close=closed.append)
        pending = asyncio.ensure_future(client.invoke(ADDRESS, make_request(5), timeout=10))
        await asyncio.sleep(0.05)
        [server_end] = list(server.connections)
        server_end.close()
        with pytest.raises(RemotingError):
            await pending
        assert closed == [server_end] and not server.connections
        # the next request opens a new in-process connection
        dispatcher.register(7, lambda request, connection: make_response(request, remark="again"))
        assert (await client.invoke(ADDRESS, make_request(7))).remark == "again"
        await client.close()

    run(main())
