"""Message ids (reference section 5).

Owns: the offset message id (store host + commit-log offset, uppercase hex: 32 chars for IPv4,
56 for IPv6) and the client unique id (UNIQ_KEY) generator.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import socket
import struct
import threading

from pocketmq.clock import SYSTEM_CLOCK, Clock, month_bounds_ms
from pocketmq.protocol.message import pack_ip, unpack_ip


@functools.lru_cache(maxsize=1024)
def _host_prefix(ip: str, port: int) -> str:
    return (pack_ip(ip) + struct.pack(">i", port)).hex().upper()


def create_offset_message_id(ip: str, port: int, offset: int) -> str:
    """``C0A8000100002A9F0000000000001234`` for 192.168.0.1:10911 offset 0x1234."""
    return _host_prefix(ip, port) + format(offset & 0xFFFFFFFFFFFFFFFF, "016X")


def decode_offset_message_id(msg_id: str) -> tuple[str, int, int]:
    """Returns (ip, port, commit-log offset): 32 hex chars for IPv4, 56 for IPv6. Anything else
    raises ``ValueError`` with a one-line reason a user can act on."""
    problem = offset_message_id_problem(msg_id)
    if problem:
        raise ValueError(problem)
    raw = bytes.fromhex(msg_id)
    ip_len = 4 if len(msg_id) == 32 else 16
    port, offset = struct.unpack(">iq", raw[ip_len:])
    return unpack_ip(raw[:ip_len]), port, offset


def offset_message_id_problem(msg_id: str) -> str | None:
    """Why ``msg_id`` is not an offset message id, or None when it is one."""
    if len(msg_id) not in (32, 56):
        return (f"not an offset message id: {msg_id!r} has {len(msg_id)} characters "
                "(32 hex digits for an IPv4 broker, 56 for IPv6)")
    if any(c not in _HEX_DIGITS for c in msg_id):
        return f"not an offset message id: {msg_id!r} has characters that are not hex digits"
    return None


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

# Upstream's createUniqID treats a slightly negative span (the clock stepped back a little
# across the month start it remembers) as 0; a larger one keeps its two's-complement bits.
_NTP_TOLERANCE_MS = 1_000_000


class UniqKeyGenerator:
    """Client unique ids (UNIQ_KEY), byte for byte as upstream's MessageClientIDSetter:
    ip(4|16) + pid(2) + class-loader hash(4) + ms since the local month start(4) + counter(2),
    uppercase hex. The span is Java's ``(int)`` cast of a long: its low 32 bits, so from day 24
    of a month it reads as negative in Java and is still the right unsigned value."""

    def __init__(self, ip: str | None = None, pid: int | None = None, *, clock: Clock = SYSTEM_CLOCK,
                 loader_hash: int | None = None, counter_start: int | None = None) -> None:
        if ip is None:
            try:
                ip = socket.gethostbyname(socket.gethostname())
            except OSError:
                ip = "127.0.0.1"
        pid = os.getpid() if pid is None else pid
        loader_hash = random.getrandbits(31) if loader_hash is None else loader_hash
        prefix = pack_ip(ip) + struct.pack(">HI", pid & 0xFFFF, loader_hash & 0xFFFFFFFF)
        self._prefix = prefix.hex().upper()
        self._clock = clock
        self._counter = itertools.count(random.getrandbits(15) if counter_start is None else counter_start)
        self._lock = threading.Lock()
        self._start, self._next_start = month_bounds_ms(clock.now_ms())

    def create(self) -> str:
        now = self._clock.now_ms()
        with self._lock:
            if now >= self._next_start:
                self._start, self._next_start = month_bounds_ms(now)
            count = next(self._counter) & 0xFFFF
            span = now - self._start
        if -_NTP_TOLERANCE_MS < span < 0:
            span = 0
        return self._prefix + struct.pack(">IH", span & 0xFFFFFFFF, count).hex().upper()


def nearly_time_from_uniq_id(msg_id: str, now_ms: int) -> int:
    """When a unique id was made, in epoch ms, as upstream's getNearlyTimeFromID: the 32-bit
    span is read unsigned and added to this month's start, or last month's when that would put
    it at or after ``now_ms``."""
    raw = bytes.fromhex(msg_id)
    ip_len = 16 if len(raw) == 28 else 4
    span = struct.unpack_from(">I", raw, ip_len + 6)[0]
    start, _ = month_bounds_ms(now_ms)
    if start + span >= now_ms:
        start, _ = month_bounds_ms(start - 1)
    return start + span


_generators: dict[int, tuple[Clock, UniqKeyGenerator]] = {}
_generators_lock = threading.Lock()


def uniq_id_generator(clock: Clock = SYSTEM_CLOCK) -> UniqKeyGenerator:
    """The process's generator for ``clock`` (one per clock, as Java has one per JVM)."""
    entry = _generators.get(id(clock))
    if entry is None or entry[0] is not clock:
        with _generators_lock:
            entry = _generators[id(clock)] = (clock, UniqKeyGenerator(clock=clock))
    return entry[1]

