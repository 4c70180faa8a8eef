"""The HA wire format (raw TCP on the master's HA port, no remoting frames), sans-IO.

Slave -> master: 8-byte big-endian longs, each the slave's max commit-log offset; only the
last complete one counts. Master -> slave: blocks ``[offset: 8][size: 4][size bytes]`` of raw
commit-log data; ``size`` 0 is a heartbeat. The readers here only parse bytes they are fed.

PocketMQ's optional slave authentication (``haSharedSecret``, off by default so Apache slaves
still connect): the master first sends ``AUTH_MAGIC + nonce`` (16 random bytes); the slave
answers with ``HMAC-SHA256(secret, "pocketmq-ha" + nonce)`` (32 bytes) before its first offset
report; a wrong or missing answer closes the connection before any commit-log byte is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

OFFSET = struct.Struct(">q")
HEADER = struct.Struct(">qi")
HEADER_SIZE = HEADER.size  # 12


def encode_offset(offset: int) -> bytes:
    return OFFSET.pack(offset)


def encode_header(offset: int, size: int) -> bytes:
    return HEADER.pack(offset, size)


AUTH_MAGIC = b"PMQ-HA-AUTH\x01"
NONCE_SIZE = 16
CHALLENGE_SIZE = len(AUTH_MAGIC) + NONCE_SIZE
PROOF_SIZE = 32


def auth_challenge(nonce: bytes) -> bytes:
    return AUTH_MAGIC + nonce


def auth_proof(secret: str, challenge: bytes) -> bytes:
    """The slave's answer to a challenge (raises ProtocolError if it is not one)."""
    if len(challenge) != CHALLENGE_SIZE or not challenge.startswith(AUTH_MAGIC):
        raise ProtocolError("the master did not send an HA authentication challenge")
    nonce = challenge[len(AUTH_MAGIC):]
    return hmac.new(secret.encode("utf-8"), b"pocketmq-ha" + nonce, hashlib.sha256).digest()


def proof_ok(secret: str, challenge: bytes, proof: bytes) -> bool:
    return hmac.compare_digest(auth_proof(secret, challenge), proof)


class ProtocolError(ValueError):
    """The peer sent bytes that cannot be a valid stream."""


class OffsetReader:
    """Master side: collects slave reports; ``feed`` returns the newest complete offset (or None)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> int | None:
        buf = self._pending + data
        whole = len(buf) - len(buf) % 8
        self._pending = buf[whole:]
        if whole == 0:
            return None
        offset = OFFSET.unpack_from(buf, whole - 8)[0]
        if offset < 0:
            raise ProtocolError(f"negative slave offset {offset}")
        return offset


class BlockReader:
    """Slave side: turns the master's byte stream into ``(offset, data)`` blocks. In controller
    mode (``with_confirm``) each header also carries the master's confirm offset, kept in
    ``confirm_offset`` (the newest seen; -1 before the first)."""

    def __init__(self, max_block: int = 64 * 1024 * 1024, with_confirm: bool = False) -> None:
        self._buf = bytearray()
        self._max_block = max_block
        self._header = CTL_HEADER if with_confirm else HEADER
        self.confirm_offset = -1

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        blocks: list[tuple[int, bytes]] = []
        pos = 0
        header = self._header
        while len(buf) - pos >= header.size:
            offset, size, *confirm = header.unpack_from(buf, pos)
            if offset < 0 or size < 0 or size > self._max_block or (confirm and confirm[0] < -1):
                raise ProtocolError(f"bad block header offset={offset} size={size} {confirm}")
            end = pos + header.size + size
            if len(buf) < end:
                break
            blocks.append((offset, bytes(buf[pos + header.size:end])))
            if confirm:
                self.confirm_offset = max(self.confirm_offset, confirm[0])
            pos = end
        if pos:
            del buf[:pos]
        return blocks

    @property
    def buffered(self) -> int:
        return len(self._buf)


# ---------------------------------------------------------------- controller mode (PocketMQ)
# Brokers in controller mode exchange epochs before any commit-log byte: the slave sends
# ``EPOCH_MAGIC + brokerId(8)``; the master answers ``EPOCH_MAGIC + count(4) + count x
# [epoch(4) startOffset(8)] + masterMaxOffset(8)``. The slave then cuts its log back to the last
# point both histories share and reports its offset as usual. (Upstream's AutoSwitchHAClient
# does the same job with its own handshake frames; both ends here are PocketMQ brokers.)
# After the handshake every block header also carries the master's confirm offset
# (``[offset: 8][size: 4][confirm: 8]``, as upstream's AutoSwitchHAConnection transfer header),
# so a slave serves consumers only what the whole SyncStateSet holds.
CTL_HEADER = struct.Struct(">qiq")


def encode_ctl_header(offset: int, size: int, confirm: int) -> bytes:
    return CTL_HEADER.pack(offset, size, confirm)


EPOCH_MAGIC = b"PMQ-HA-EPOCH\x01"
_BROKER_ID = struct.Struct(">q")
_COUNT = struct.Struct(">i")
_ENTRY = struct.Struct(">iq")
MAX_EPOCH_ENTRIES = 1_000_000


def encode_slave_hello(broker_id: int) -> bytes:
    return EPOCH_MAGIC + _BROKER_ID.pack(broker_id)


SLAVE_HELLO_SIZE = len(EPOCH_MAGIC) + _BROKER_ID.size


def decode_slave_hello(raw: bytes) -> int:
    if len(raw) != SLAVE_HELLO_SIZE or not raw.startswith(EPOCH_MAGIC):
        raise ProtocolError("the slave did not open with a controller-mode epoch handshake")
    return _BROKER_ID.unpack_from(raw, len(EPOCH_MAGIC))[0]


def encode_master_epochs(entries: list[tuple[int, int]], master_max: int) -> bytes:
    parts = [EPOCH_MAGIC, _COUNT.pack(len(entries))]
    parts += [_ENTRY.pack(epoch, start) for epoch, start in entries]
    parts.append(OFFSET.pack(master_max))
    return b"".join(parts)


MASTER_EPOCHS_HEAD = len(EPOCH_MAGIC) + _COUNT.size


def decode_master_epochs_head(raw: bytes) -> int:
    """The number of entries that follow (then ``count * 12 + 8`` bytes)."""
    if len(raw) != MASTER_EPOCHS_HEAD or not raw.startswith(EPOCH_MAGIC):
        raise ProtocolError("the master did not answer the controller-mode epoch handshake")
    count = _COUNT.unpack_from(raw, len(EPOCH_MAGIC))[0]
    if not 0 <= count <= MAX_EPOCH_ENTRIES:
        raise ProtocolError(f"bad epoch entry count {count}")
    return count


def master_epochs_tail_size(count: int) -> int:
    return count * _ENTRY.size + OFFSET.size


def decode_master_epochs_tail(raw: bytes, count: int) -> tuple[list[tuple[int, int]], int]:
    entries = [_ENTRY.unpack_from(raw, i * _ENTRY.size) for i in range(count)]
    master_max = OFFSET.unpack_from(raw, count * _ENTRY.size)[0]
    if master_max < 0 or any(start < 0 or epoch < 0 for epoch, start in entries):
        raise ProtocolError("negative epoch or offset in the master's epoch list")
    return [(e, s) for e, s in entries], master_max
