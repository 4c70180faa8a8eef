"""TLS on the remoting ports (upstream's tls.server.mode): permissive serves TLS and plaintext on
one port, enforcing closes plaintext connections; our client connects with use_tls; truncated
or garbled handshakes and plaintext frames to an enforcing port close that connection only."""

from __future__ import annotations

import asyncio
import io
import socket

import pytest

from pocketmq.client import AsyncProducer, ClientConfig, Message, SendStatus
from pocketmq.remoting.codec import encode_frame
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import make_request
from pocketmq.remoting.transport import RemotingClient, RemotingError
from pocketmq.security.tls import insecure_client_context
from pocketmq.tools import mqadmin
from tests.support.processes import start_broker, start_namesrv
from tests.support.tls import make_cert, tls_args

pytestmark = pytest.mark.timeout(180)


def call(addr: str, code: int, tls: bool) -> int:
    async def main() -> int:
        client = RemotingClient(ssl_context=insecure_client_context() if tls else None)
        try:
            return (await client.invoke(addr, make_request(code), 5.0)).code
        finally:
            await client.close()

    return asyncio.run(main())


async def send(ns: str, tls: bool) -> SendStatus:
    async with AsyncProducer("PID_tls", retry_times=0, config=ClientConfig(namesrv_addr=ns, use_tls=tls)) as producer:
        return (await producer.send(Message("tls-topic", b"secret payload"))).status


def start(tmp_path, mode: str):
    """A name server and a broker in ``mode``; the broker registers over TLS (tls.enable)."""
    cert, key = make_cert(tmp_path / "certs")
    args = tls_args(mode, cert, key)
    ns = start_namesrv(tmp_path / "ns", extra=[f"--{k}={v}" for k, v in args.items()])
    try:
        broker = start_broker(tmp_path / "broker", ns.addr, extra={**args, "tls.enable": "true"})
    except BaseException:
        ns.kill()
        raise
    return ns, broker


def test_permissive_serves_tls_and_plaintext_on_one_port(tmp_path) -> None:
    ns, broker = start(tmp_path, "permissive")
    with ns, broker:
        assert call(broker.addr, RequestCode.GET_BROKER_RUNTIME_INFO, tls=True) == ResponseCode.SUCCESS
        assert call(broker.addr, RequestCode.GET_BROKER_RUNTIME_INFO, tls=False) == ResponseCode.SUCCESS
        assert asyncio.run(send(ns.addr, tls=True)) is SendStatus.SEND_OK
        assert asyncio.run(send(ns.addr, tls=False)) is SendStatus.SEND_OK


def raw_exchange(port: int, payload: bytes) -> bytes:
    """Send ``payload`` and read until the server closes (or 5 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return received


def test_enforcing_refuses_plaintext_and_bad_handshakes(tmp_path) -> None:
    ns, broker = start(tmp_path, "enforcing")
    with ns, broker:
        with pytest.raises(RemotingError):
            call(broker.addr, RequestCode.GET_BROKER_RUNTIME_INFO, tls=False)
        frame = b"".join(bytes(part) for part in encode_frame(make_request(RequestCode.GET_BROKER_RUNTIME_INFO)))
        assert raw_exchange(broker.port, frame) == b""  # closed, nothing answered
        raw_exchange(broker.port, b"\x16\x03\x01\x02\x00\x01\x00\x01")  # a truncated ClientHello
        garbled = raw_exchange(broker.port, b"\x16\x03\x01\x00\x05hello" + b"\x00" * 64)
        assert frame not in garbled
        assert call(broker.addr, RequestCode.GET_BROKER_RUNTIME_INFO, tls=True) == ResponseCode.SUCCESS
        fast_port = f"127.0.0.1:{broker.port - 2}"
        assert call(fast_port, RequestCode.GET_BROKER_RUNTIME_INFO, tls=True) == ResponseCode.SUCCESS
        assert asyncio.run(send(ns.addr, tls=True)) is SendStatus.SEND_OK


def test_mqadmin_over_tls(tmp_path) -> None:
    ns, broker = start(tmp_path, "enforcing")
    with ns, broker:
        out, err = io.StringIO(), io.StringIO()
        assert mqadmin.run(["clusterList", "-n", ns.addr, "--useTLS"], out, err) == 0, err.getvalue()
        assert "broker-a" in out.getvalue()
        out, err = io.StringIO(), io.StringIO()
        assert mqadmin.run(["clusterList", "-n", ns.addr], out, err) == 1
