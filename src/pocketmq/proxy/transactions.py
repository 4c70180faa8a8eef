"""What the endpoint remembers of each half (prepared) message so that a later EndTransaction,
which carries only the topic, message id and transaction id, can be turned into the broker's
END_TRANSACTION (upstream proxy's TransactionService): the broker set and address, the half's
queue offset (tranStateTableOffset) and commit-log offset. Entries come from a send of a
TRANSACTION message and from the broker's check-back; each lives ``expire_ms`` (upstream
transactionDataExpireMillis, 30 s, or the message's orphaned-transaction recovery duration if
longer) and an EndTransaction consumes it."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from pocketmq.clock import SYSTEM_CLOCK, Clock

MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class TransactionData:
    broker_addr: str
    tran_state_table_offset: int
    commit_log_offset: int
    message_id: str
    expire_at: float  # on the clock's monotonic reading: a wall-clock step does not expire entries


class TransactionTable:
    def __init__(self, expire_ms: int = 30_000, clock: Clock = SYSTEM_CLOCK, max_entries: int = MAX_ENTRIES) -> None:
        self.expire_ms = expire_ms
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], TransactionData] = OrderedDict()

    def add(self, group: str, transaction_id: str, broker_addr: str, tran_state_table_offset: int,
            commit_log_offset: int, message_id: str, keep_ms: int = 0) -> None:
        now = self.clock.monotonic()
        self._drop_expired(now)
        key = (group, transaction_id)
        self._entries.pop(key, None)
        self._entries[key] = TransactionData(broker_addr, tran_state_table_offset, commit_log_offset, message_id,
                                             now + max(self.expire_ms, keep_ms) / 1000)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def take(self, group: str, transaction_id: str) -> TransactionData | None:
        data = self._entries.pop((group, transaction_id), None)
        if data is None or data.expire_at < self.clock.monotonic():
            return None
        return data

    def __len__(self) -> int:
        return len(self._entries)

    def _drop_expired(self, now: float) -> None:
        # Entries are in insertion order, not expiry order (keep_ms varies): drop from the front
        # while they are expired, which bounds the work per add.
        while self._entries:
            key, data = next(iter(self._entries.items()))
            if data.expire_at >= now:
                return
            del self._entries[key]
