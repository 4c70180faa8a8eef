"""Who becomes master (upstream DefaultElectPolicy), as one pure function.

Only alive brokers count. The old master wins while it is alive (unless another broker is
designated); a designated broker wins only if it is an alive candidate; otherwise the candidates
are ranked by the epoch of their last message (higher first), then their max commit log offset
(higher first), then electionPriority (lower first), then brokerId (lower first, so a tie is
decided the same way on every controller). The SyncStateSet is tried first; all replicas only when
the caller passes them (enableElectUncleanMaster).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable


@dataclass(slots=True)
class BrokerLiveInfo:
    """What a broker's last heartbeat said (upstream BrokerLiveInfo, minus its channel)."""

    clusterName: str
    brokerName: str
    brokerAddr: str
    brokerId: int
    lastUpdateMonotonic: float
    heartbeatTimeoutMillis: int
    epoch: int = -1
    maxOffset: int = -1
    confirmOffset: int = -1
    electionPriority: int = (1 << 31) - 1


BrokerLiveInfoGetter = Callable[[str, str, int], BrokerLiveInfo | None]


def _rank(broker_id: int, info: BrokerLiveInfo | None) -> tuple[int, int, int, int]:
    if info is None:
        return (1 << 31, 1 << 63, 1 << 31, broker_id)  # no heartbeat facts: last
    return (-info.epoch, -info.maxOffset, info.electionPriority, broker_id)


def _try_elect(candidates: Iterable[int], old_master: int | None, prefer: int | None,
               alive: Callable[[int], bool], live_info: Callable[[int], BrokerLiveInfo | None] | None) -> int | None:
    living = {b for b in candidates if alive(b)}
    if not living:
        return None
    if old_master in living and (prefer is None or prefer == old_master):
        return old_master
    if prefer is not None:
        return prefer if prefer in living else None
    if live_info is None:
        return min(living)
    return min(living, key=lambda b: _rank(b, live_info(b)))


def elect(sync_state_set: set[int], all_replicas: set[int] | None, old_master: int | None,
          prefer: int | None, alive: Callable[[int], bool],
          live_info: Callable[[int], BrokerLiveInfo | None] | None) -> int | None:
    chosen = _try_elect(sync_state_set, old_master, prefer, alive, live_info)
    if chosen is None and all_replicas is not None:
        chosen = _try_elect(all_replicas, old_master, prefer, alive, live_info)
    return chosen
