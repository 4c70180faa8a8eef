"""What a nemesis run must guarantee, computed from the clients' histories and the brokers'
stores after healing:

- lost: every SEND_OK key is read back (lost must be empty);
- at most one master per masterEpoch (from the brokers' roles sampled during the run);
- the epoch files of all replicas agree;
- no SEND_OK from a fenced master: the message at each SEND_OK's offsetMsgId (broker address +
  physical offset) in the final, converged commit log is the one with that key;
- the replicas' commit logs are byte-identical up to the confirmed offset;

and, reported (not asserted): for each fault, the longest gap between SEND_OKs around it (the
time the set took no writes), and the longest consumer stall (no message consumed while sends
were being acknowledged)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pocketmq.protocol.message import decode_message
from pocketmq.protocol.message_id import decode_offset_message_id


@dataclass(frozen=True)
class Ack:
    """One SEND_OK the producer got: its key, the store's message id and when (epoch ms)."""

    key: str
    offset_msg_id: str
    t: int


@dataclass(frozen=True)
class RoleSample:
    t: float
    addr: str
    epoch: int
    master: bool


def acks_of(events: list[dict], key_prefix: str) -> list[Ack]:
    """The SEND_OKs among the Java driver's events (its keys are ``key_prefix`` + index)."""
    return [Ack(f"{key_prefix}{e['i']}", e["offsetMsgId"], int(e["t"])) for e in events
            if e.get("event") == "send" and e.get("status") == "SEND_OK"]


def lost(acks: list[Ack], stored_keys: set[str]) -> list[str]:
    return sorted({a.key for a in acks} - stored_keys)


def masters_per_epoch(samples: list[RoleSample]) -> dict[int, set[str]]:
    masters: dict[int, set[str]] = defaultdict(set)
    for s in samples:
        if s.master:
            masters[s.epoch].add(s.addr)
    return dict(masters)


def split_masters(samples: list[RoleSample]) -> dict[int, set[str]]:
    """Epochs in which more than one broker said it was the master."""
    return {epoch: addrs for epoch, addrs in masters_per_epoch(samples).items() if len(addrs) > 1}


def fenced_acks(acks: list[Ack], log: bytes, set_hosts: set[str]) -> list[str]:
    """SEND_OKs whose offsetMsgId does not point, in the converged commit log ``log``, at the
    message with their key (or points outside the set): each one a write a fenced master took."""
    bad = []
    for ack in acks:
        host, port, offset = decode_offset_message_id(ack.offset_msg_id)
        if f"{host}:{port}" not in set_hosts:
            bad.append(f"{ack.key}: stored by {host}:{port}, not a broker of the set")
            continue
        if offset >= len(log):
            bad.append(f"{ack.key}: offset {offset} beyond the converged log ({len(log)} bytes)")
            continue
        try:
            found = (decode_message(log, offset).properties or {}).get("KEYS")
        except Exception as exc:  # noqa: BLE001 - not a message boundary at all
            bad.append(f"{ack.key}: no message at offset {offset}: {exc}")
            continue
        if found != ack.key:
            bad.append(f"{ack.key}: offset {offset} holds {found!r}")
    return bad


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest stretch of [start, end] with no time in ``times`` (sorted), in seconds."""
    inside = [t for t in times if start <= t <= end]
    points = [start, *inside, end]
    return max((b - a for a, b in zip(points, points[1:])), default=end - start)


def consumer_stall(consumed: list[float], acked: list[float]) -> tuple[float, float]:
    """The longest time the consumer got nothing while SEND_OKs were coming, and when it began:
    for each gap between two consumed messages, from the first SEND_OK inside it to its end."""
    consumed, acked = sorted(consumed), sorted(acked)
    worst, began, j = 0.0, 0.0, 0
    for a, b in zip(consumed, consumed[1:]):
        while j < len(acked) and acked[j] <= a:
            j += 1
        if j < len(acked) and acked[j] < b and b - acked[j] > worst:
            worst, began = b - acked[j], acked[j]
    return worst, began
