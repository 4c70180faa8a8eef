"""Message ids (reference section 5).

Owns: the offset message id (store host + commit-log offset, uppercase hex: 32 chars for IPv4,
56 for IPv6) and the client unique id (UNIQ_KEY) generator.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import os
import random
import socket
import struct
import threading
import time

from pocketmq.protocol.message import pack_ip, unpack_ip


@functools.lru_cache(maxsize=1024)
def _host_prefix(ip: str, port: int) -> str:
    return (pack_ip(ip) + struct.pack(">i", port)).hex().upper()


def create_offset_message_id(ip: str, port: int, offset: int) -> str:
    """``C0A8000100002A9F0000000000001234`` for 192.168.0.1:10911 offset 0x1234."""
    return _host_prefix(ip, port) + format(offset & 0xFFFFFFFFFFFFFFFF, "016X")


def decode_offset_message_id(msg_id: str) -> tuple[str, int, int]:
    """Returns (ip, port, commit-log offset). Length 32 is IPv4, anything else IPv6."""
    raw = bytes.fromhex(msg_id)
    ip_len = 4 if len(msg_id) == 32 else 16
    if len(raw) != ip_len + 12:
        raise ValueError(f"not an offset message id: {msg_id!r}")
    port, offset = struct.unpack(">iq", raw[ip_len:])
    return unpack_ip(raw[:ip_len]), port, offset


def _month_start(now_ms: int) -> tuple[int, int]:
    """(start of this month, start of next month) in epoch ms, local time."""
    now = datetime.datetime.fromtimestamp(now_ms / 1000)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + datetime.timedelta(days=32)).replace(day=1)
    return int(start.timestamp() * 1000), int(nxt.timestamp() * 1000)


class UniqKeyGenerator:
    """Client unique ids: ip(4|16) + pid(2) + random 'class loader hash'(4) + ms since month
    start(4) + counter(2), uppercase hex (upstream MessageClientIDSetter)."""

    def __init__(self, ip: str | None = None, pid: int | None = None) -> None:
        if ip is None:
            try:
                ip = socket.gethostbyname(socket.gethostname())
            except OSError:
                ip = "127.0.0.1"
        prefix = pack_ip(ip) + struct.pack(">hi", (pid or os.getpid()) & 0x7FFF, random.getrandbits(31))
        self._prefix = prefix.hex().upper()
        self._counter = itertools.count(random.getrandbits(15))
        self._lock = threading.Lock()
        self._start, self._next_start = _month_start(int(time.time() * 1000))

    def create(self) -> str:
        now = int(time.time() * 1000)
        with self._lock:
            if now >= self._next_start:
                self._start, self._next_start = _month_start(now)
            count = next(self._counter) & 0xFFFF
            start = self._start
        return self._prefix + struct.pack(">IH", (now - start) & 0xFFFFFFFF, count).hex().upper()


_default_generator: UniqKeyGenerator | None = None


def create_uniq_id() -> str:
    global _default_generator
    if _default_generator is None:
        _default_generator = UniqKeyGenerator()
    return _default_generator.create()
