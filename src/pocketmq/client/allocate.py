"""Queue allocation strategies for clustering consumers (upstream ``rebalance/Allocate*``).

Each strategy maps (consumer group, this client id, every queue sorted, every client id sorted)
to the queues this client owns. All consumers of a group run the same strategy over the same
sorted inputs, so together they cover every queue exactly once.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import Protocol, Sequence

from pocketmq.protocol.client_bodies import MessageQueue


class AllocateStrategy(Protocol):
    name: str

    def allocate(self, group: str, current_cid: str, mq_all: Sequence[MessageQueue],
                 cid_all: Sequence[str]) -> list[MessageQueue]: ...


def _check(current_cid: str, mq_all: Sequence[MessageQueue], cid_all: Sequence[str]) -> bool:
    if not current_cid:
        raise ValueError("currentCID is empty")
    return bool(mq_all) and current_cid in cid_all


class AllocateAveragely:
    """Contiguous blocks: the first ``len(mq) % len(cid)`` clients get one extra queue."""

    name = "AVG"

    def allocate(self, group: str, current_cid: str, mq_all: Sequence[MessageQueue],
                 cid_all: Sequence[str]) -> list[MessageQueue]:
        if not _check(current_cid, mq_all, cid_all):
            return []
        index = list(cid_all).index(current_cid)
        n_mq, n_cid = len(mq_all), len(cid_all)
        mod = n_mq % n_cid
        if n_mq <= n_cid:
            average = 1
        elif mod > 0 and index < mod:
            average = n_mq // n_cid + 1
        else:
            average = n_mq // n_cid
        start = index * average if (mod > 0 and index < mod) else index * average + mod
        count = min(average, n_mq - start)
        return [mq_all[(start + i) % n_mq] for i in range(max(0, count))]


class AllocateAveragelyByCircle:
    """Round robin: client i takes queues i, i+n, i+2n, ..."""

    name = "AVG_BY_CIRCLE"

    def allocate(self, group: str, current_cid: str, mq_all: Sequence[MessageQueue],
                 cid_all: Sequence[str]) -> list[MessageQueue]:
        if not _check(current_cid, mq_all, cid_all):
            return []
        index = list(cid_all).index(current_cid)
        return [mq_all[i] for i in range(index, len(mq_all), len(cid_all))]


def _md5_hash(key: str) -> int:
    """Upstream ConsistentHashRouter.MD5Hash: the first four digest bytes, big-endian."""
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:4], "big")


class AllocateConsistentHash:
    """Consistent hashing of ``str(mq)`` onto client ids with ``virtual_nodes`` replicas each
    (virtual node key ``<cid>-<i>``, MD5), as upstream; stable when clients join or leave."""

    name = "CONSISTENT_HASH"

    def __init__(self, virtual_nodes: int = 10) -> None:
        if virtual_nodes < 0:
            raise ValueError("virtual_nodes must be >= 0")
        self.virtual_nodes = virtual_nodes

    def allocate(self, group: str, current_cid: str, mq_all: Sequence[MessageQueue],
                 cid_all: Sequence[str]) -> list[MessageQueue]:
        if not _check(current_cid, mq_all, cid_all):
            return []
        ring: dict[int, str] = {}
        for cid in cid_all:
            for i in range(self.virtual_nodes):
                ring[_md5_hash(f"{cid}-{i}")] = cid
        if not ring:
            return []
        points = sorted(ring)
        result = []
        for mq in mq_all:
            h = _md5_hash(str(mq))
            pos = bisect.bisect_left(points, h)
            owner = ring[points[pos] if pos < len(points) else points[0]]
            if owner == current_cid:
                result.append(mq)
        return result


STRATEGIES = {cls.name: cls for cls in (AllocateAveragely, AllocateAveragelyByCircle, AllocateConsistentHash)}
