"""The PROXY protocol header (HAProxy, versions 1 and 2) a layer-4 load balancer may put before a
connection's own bytes, read sans IO, as upstream's ProxyAndTlsProtocolNegotiator detects it: the
gRPC port then knows the real client (for white lists and born hosts) behind the balancer.

``detect(data)`` looks at a connection's first bytes and says: more bytes needed, no header, a
header of N bytes (with the client's ``host:port`` when it names one), or a broken header.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

V1_PREFIX = b"PROXY "
V1_MAX_LENGTH = 107  # the spec's longest v1 line, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_HEADER_LENGTH = 16
NEED_MORE = "need-more"
NONE = "none"
FOUND = "found"
BROKEN = "broken"


@dataclass(frozen=True)
class Detection:
    state: str
    length: int = 0  # bytes of the header (FOUND)
    client: str | None = None  # "host:port" of the real client, if the header names one


def detect(data: bytes) -> Detection:
    for prefix in (V1_PREFIX, V2_SIGNATURE):
        head = data[:len(prefix)]
        if prefix.startswith(head) and len(head) < len(prefix):
            return Detection(NEED_MORE)
    if data.startswith(V1_PREFIX):
        return _v1(data)
    if data.startswith(V2_SIGNATURE):
        return _v2(data)
    return Detection(NONE)


def _v1(data: bytes) -> Detection:
    end = data.find(b"\r\n", 0, V1_MAX_LENGTH)
    if end < 0:
        return Detection(NEED_MORE) if len(data) < V1_MAX_LENGTH else Detection(BROKEN)
    parts = data[:end].decode("ascii", "replace").split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return Detection(FOUND, end + 2)
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        return Detection(BROKEN)
    try:
        host = str(ipaddress.ip_address(parts[2]))
        port = int(parts[4])
    except ValueError:
        return Detection(BROKEN)
    return Detection(FOUND, end + 2, _host_port(host, port))


def _v2(data: bytes) -> Detection:
    if len(data) < V2_HEADER_LENGTH:
        return Detection(NEED_MORE)
    version_command, family = data[12], data[13]
    if version_command >> 4 != 2:
        return Detection(BROKEN)
    length = V2_HEADER_LENGTH + int.from_bytes(data[14:16], "big")
    if len(data) < length:
        return Detection(NEED_MORE)
    if version_command & 0x0F == 0:  # LOCAL: the balancer's own connection (health checks)
        return Detection(FOUND, length)
    body = data[V2_HEADER_LENGTH:length]
    if family == 0x11 and len(body) >= 12:  # TCP over IPv4
        return Detection(FOUND, length, _host_port(str(ipaddress.IPv4Address(body[0:4])),
                                                   int.from_bytes(body[8:10], "big")))
    if family == 0x21 and len(body) >= 36:  # TCP over IPv6
        return Detection(FOUND, length, _host_port(str(ipaddress.IPv6Address(body[0:16])),
                                                   int.from_bytes(body[32:34], "big")))
    return Detection(FOUND, length)  # UDP, unix sockets, unspecified: no TCP client to name


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
