"""Broker liveness for the controller (upstream DefaultBrokerHeartbeatManager).

Owns: the table (clusterName, brokerName, brokerId) -> ``BrokerLiveInfo`` fed by BROKER_HEARTBEAT,
the connection each broker last spoke on, the timeout check, and the two ways a broker becomes
inactive: its connection closes (``on_connection_closed``, at once) or its heartbeat times out
(``scan``). Both return the identities that went inactive; the caller decides what follows
(an election when it was a master). Time is the injected clock's monotonic reading.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.controller.elect import BrokerLiveInfo
from pocketmq.protocol.controller import DEFAULT_BROKER_CHANNEL_EXPIRED_TIME_MS

log = logging.getLogger("pocketmq.controller")

INT32_MAX = (1 << 31) - 1


class BrokerIdentity(NamedTuple):
    clusterName: str
    brokerName: str
    brokerId: int


class BrokerHeartbeatManager:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.table: dict[BrokerIdentity, BrokerLiveInfo] = {}
        self.channels: dict[BrokerIdentity, Any] = {}
        self.heard: set[BrokerIdentity] = set()  # every broker that sent a heartbeat since start

    def on_heartbeat(self, cluster: str, broker_name: str, broker_addr: str, broker_id: int,
                     timeout_ms: int | None, channel: Any, epoch: int | None, max_offset: int | None,
                     confirm_offset: int | None, election_priority: int | None) -> None:
        key = BrokerIdentity(cluster, broker_name, broker_id)
        self.heard.add(key)
        now = self.clock.monotonic()
        real_epoch = -1 if epoch is None else epoch
        real_max = -1 if max_offset is None else max_offset
        real_confirm = -1 if confirm_offset is None else confirm_offset
        real_timeout = DEFAULT_BROKER_CHANNEL_EXPIRED_TIME_MS if timeout_ms is None else max(0, timeout_ms)
        priority = INT32_MAX if election_priority is None else election_priority
        previous = self.table.get(key)
        if previous is None:
            self.table[key] = BrokerLiveInfo(cluster, broker_name, broker_addr, broker_id, now, real_timeout,
                                             real_epoch, real_max, real_confirm, priority)
            log.info("new broker registered, %s, brokerId:%d, addr:%s", key, broker_id, broker_addr)
        else:
            previous.lastUpdateMonotonic = now
            previous.heartbeatTimeoutMillis = real_timeout
            previous.electionPriority = priority
            previous.brokerAddr = broker_addr
            if real_epoch > previous.epoch or (real_epoch == previous.epoch and real_max > previous.maxOffset):
                previous.epoch, previous.maxOffset, previous.confirmOffset = real_epoch, real_max, real_confirm
        if channel is not None:
            self.channels[key] = channel

    def is_alive(self, cluster: str, broker_name: str, broker_id: int) -> bool:
        info = self.table.get(BrokerIdentity(cluster, broker_name, broker_id))
        if info is None:
            return False
        return (self.clock.monotonic() - info.lastUpdateMonotonic) * 1000 <= info.heartbeatTimeoutMillis

    def live_info(self, cluster: str, broker_name: str, broker_id: int) -> BrokerLiveInfo | None:
        return self.table.get(BrokerIdentity(cluster, broker_name, broker_id))

    def scan(self) -> list[BrokerIdentity]:
        """Drop every broker whose heartbeat timed out; returns them (their channels are closed
        by the caller, as upstream closes them)."""
        now = self.clock.monotonic()
        expired = [key for key, info in self.table.items()
                   if (now - info.lastUpdateMonotonic) * 1000 > info.heartbeatTimeoutMillis]
        for key in expired:
            info = self.table.pop(key)
            log.warning("The broker %s (%s) heartbeat expired after %d ms", key, info.brokerAddr,
                        info.heartbeatTimeoutMillis)
        return expired

    def take_channel(self, key: BrokerIdentity) -> Any:
        return self.channels.pop(key, None)

    def on_connection_closed(self, channel: Any) -> list[BrokerIdentity]:
        """A broker's connection closed: it is inactive now, without waiting for the timeout."""
        gone = [key for key, ch in self.channels.items() if ch is channel]
        for key in gone:
            del self.channels[key]
            info = self.table.pop(key, None)
            if info is not None:
                log.info("Channel %s inactive, broker %s, addr:%s, id:%d", getattr(channel, "remote_address", ""),
                         key.brokerName, info.brokerAddr, key.brokerId)
        return gone
