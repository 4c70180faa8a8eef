"""proxy/front.py in process: one port, the first byte decides — plaintext relayed as is, a TLS
handshake terminated (ALPN h2) and relayed in clear, plaintext refused when TLS is enforced, a
silent connection closed after the handshake timeout; the real client behind each relay port."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from pocketmq.proxy.front import GrpcFront
from pocketmq.remoting.tls import ServerTls
from pocketmq.security.tls import TlsConfig, grpc_server_tls
from tests.support.tls import make_cert


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("front"))


def server_tls(cert: tuple[Path, Path], mode: str) -> ServerTls:
    return grpc_server_tls(TlsConfig(server_mode=mode, server_cert_path=str(cert[0]), server_key_path=str(cert[1])))


async def echo_server() -> tuple[asyncio.base_events.Server, int, list[tuple[str, int]]]:
    """Stands in for grpcio: echoes upper-cased, and notes who connected."""
    peers: list[tuple[str, int]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername"))
        while data := await reader.read(65536):
            writer.write(data.upper())
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], peers


async def read_exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), 10)


def test_plaintext_and_tls_share_the_port(cert) -> None:
    async def main() -> None:
        server, port, peers = await echo_server()
        front = GrpcFront(server_tls(cert, "permissive"), ("127.0.0.1", port), "127.0.0.1", 0)
        await front.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
            writer.write(b"PRI * HTTP/2.0\r\n")
            assert await read_exactly(reader, 16) == b"PRI * HTTP/2.0\r\n".upper()
            client = writer.get_extra_info("sockname")
            assert front.peers.real(f"ipv4:127.0.0.1:{peers[-1][1]}") == f"127.0.0.1:{client[1]}"
            writer.close()

            context = ssl.create_default_context(cafile=str(cert[0]))
            context.set_alpn_protocols(["h2"])
            reader, writer = await asyncio.open_connection("127.0.0.1", front.port, ssl=context,
                                                           server_hostname="127.0.0.1")
            assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
            big = bytes(range(256)) * 8192  # 2 MiB each way, through TLS
            writer.write(big)
            assert await read_exactly(reader, len(big)) == big.upper()
            writer.close()
        finally:
            await front.stop()
            server.close()

    asyncio.run(main())


def test_enforcing_closes_plaintext_and_silence_is_closed_in_time(cert) -> None:
    async def main() -> None:
        server, port, _ = await echo_server()
        front = GrpcFront(server_tls(cert, "enforcing"), ("127.0.0.1", port), "127.0.0.1", 0, handshake_timeout=0.3)
        await front.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
            writer.write(b"PRI * HTTP/2.0\r\n")
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, nothing relayed
            reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
            assert await asyncio.wait_for(reader.read(), 10) == b""  # said nothing: closed after 0.3 s
            assert not front.connections
        finally:
            await front.stop()
            server.close()

    asyncio.run(main())


def test_the_grpc_ports_certificate_comes_from_tls_keys_then_upstreams_proxy_keys(tmp_path: Path) -> None:
    from pocketmq.proxy.config import ProxyConfig

    given = TlsConfig(server_cert_path="/tls/server.pem", server_key_path="/tls/server.key")
    config = ProxyConfig(rocketmqHome=str(tmp_path), tlsCertPath="/p/c.crt", tlsKeyPath="/p/c.key")
    assert config.grpc_tls(given) == given
    assert (config.grpc_tls(TlsConfig()).server_cert_path, config.grpc_tls(TlsConfig()).server_key_path) == \
        ("/p/c.crt", "/p/c.key")
    home_only = ProxyConfig(rocketmqHome=str(tmp_path))
    assert home_only.grpc_tls(TlsConfig()) == TlsConfig()  # nothing in conf/tls yet
    (tmp_path / "conf" / "tls").mkdir(parents=True)
    for name in ("rocketmq.crt", "rocketmq.key"):
        (tmp_path / "conf" / "tls" / name).write_text("x")
    assert home_only.grpc_tls(TlsConfig()).server_cert_path == str(tmp_path / "conf" / "tls" / "rocketmq.crt")


V2_TCP4 = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + (12).to_bytes(2, "big")
           + bytes([10, 1, 2, 3]) + bytes([10, 0, 0, 1]) + (5123).to_bytes(2, "big") + (8081).to_bytes(2, "big"))


@pytest.mark.parametrize("data, state, length, client", [
    (b"PROXY TCP4 10.1.2.3 10.0.0.1 5123 8081\r\nPRI", "found", 40, "10.1.2.3:5123"),
    (b"PROXY TCP6 ::1 ::1 5123 8081\r\n", "found", 30, "[::1]:5123"),
    (b"PROXY UNKNOWN\r\n", "found", 15, None),
    (b"PROXY TCP4 10.1.2.3", "need-more", 0, None),
    (b"PROXY TCP9 x y 1 2\r\n", "broken", 0, None),
    (V2_TCP4 + b"PRI", "found", 28, "10.1.2.3:5123"),
    (V2_TCP4[:20], "need-more", 0, None),
    (b"\r\n\r\n", "need-more", 0, None),
    (b"PRI * HTTP/2.0\r\n", "none", 0, None),
    (b"P", "need-more", 0, None),
    (b"\x16\x03\x01", "none", 0, None),
])
def test_proxy_protocol_headers(data, state, length, client) -> None:
    from pocketmq.proxy import haproxy

    found = haproxy.detect(data)
    assert (found.state, found.length, found.client) == (state, length, client)


def test_a_proxy_protocol_header_names_the_real_client_then_tls_goes_on(cert) -> None:
    async def main() -> None:
        server, port, peers = await echo_server()
        front = GrpcFront(server_tls(cert, "permissive"), ("127.0.0.1", port), "127.0.0.1", 0)
        await front.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
            writer.write(V2_TCP4[:10])  # in pieces, as a balancer may send it
            await writer.drain()
            writer.write(V2_TCP4[10:])
            context = ssl.create_default_context(cafile=str(cert[0]))
            await writer.start_tls(context, server_hostname="127.0.0.1")
            writer.write(b"hello")
            assert await read_exactly(reader, 5) == b"HELLO"
            assert front.peers.real(f"ipv4:127.0.0.1:{peers[-1][1]}") == "10.1.2.3:5123"
            writer.close()
        finally:
            await front.stop()
            server.close()

    asyncio.run(main())


def test_a_declared_client_is_for_born_hosts_the_connected_one_for_white_lists() -> None:
    from pocketmq.proxy.front import PeerTable

    peers = PeerTable()
    peers.add(40000, "10.9.8.7:5123", "192.168.1.5:40404")
    assert peers.real("ipv4:127.0.0.1:40000") == "10.9.8.7:5123"
    assert peers.connected("ipv4:127.0.0.1:40000") == "192.168.1.5:40404"
