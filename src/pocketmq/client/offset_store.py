"""Consumer offset stores (upstream RemoteBrokerOffsetStore / LocalFileOffsetStore).

Clustering consumers keep offsets on the broker (the master of the queue's broker set, else any
address of it) and push them every ``persist_consumer_offset_interval`` and on shutdown;
broadcasting consumers keep them in ``<dir>/<clientId>/<group>/offsets.json`` (fastjson
``{"offsetTable":{<MessageQueue>:offset}}``, written via a temp file and rename).
"""

from __future__ import annotations

import enum
import logging
import os
from pathlib import Path
from typing import Iterable

from pocketmq.client.errors import MQBrokerError
from pocketmq.protocol import client_bodies as bodies
from pocketmq.protocol import fastjson
from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.route import MASTER_ID

log = logging.getLogger("pocketmq.client")


class ReadOffsetType(enum.Enum):
    MEMORY = 1
    STORE = 2
    MEMORY_FIRST_THEN_STORE = 3


class OffsetStore:
    def __init__(self) -> None:
        self.table: dict[MessageQueue, int] = {}

    async def load(self) -> None:
        pass

    def update(self, mq: MessageQueue, offset: int, increase_only: bool = False) -> None:
        old = self.table.get(mq)
        if old is None or not increase_only or offset > old:
            self.table[mq] = offset

    async def read(self, mq: MessageQueue, kind: ReadOffsetType) -> int:
        """The offset, -1 when none is stored, -2 when the store could not be asked."""
        if kind in (ReadOffsetType.MEMORY, ReadOffsetType.MEMORY_FIRST_THEN_STORE):
            offset = self.table.get(mq)
            if offset is not None:
                return offset
            if kind is ReadOffsetType.MEMORY:
                return -1
        return await self._read_store(mq)

    async def _read_store(self, mq: MessageQueue) -> int:
        return -1

    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None:
        pass

    async def persist(self, mq: MessageQueue) -> None:
        await self.persist_all([mq])

    def remove(self, mq: MessageQueue) -> None:
        self.table.pop(mq, None)


class RemoteBrokerOffsetStore(OffsetStore):
    def __init__(self, instance: "ClientInstance", group: str) -> None:  # noqa: F821
        super().__init__()
        self.instance = instance
        self.group = group

    async def _addr(self, mq: MessageQueue) -> str | None:
        found = self.instance.find_broker_address_in_subscribe(mq.brokerName, MASTER_ID, False)
        if found is None:
            try:
                await self.instance.update_topic_route(mq.topic)
            except Exception as exc:
                log.debug("route refresh for %s failed: %s", mq.topic, exc)
            found = self.instance.find_broker_address_in_subscribe(mq.brokerName, MASTER_ID, False)
        return found[0] if found else None

    async def _read_store(self, mq: MessageQueue) -> int:
        addr = await self._addr(mq)
        if addr is None:
            return -2
        try:
            offset = await self.instance.api.query_consumer_offset(addr, self.group, mq)
        except MQBrokerError:
            return -1
        except Exception as exc:
            log.debug("query offset of %s failed: %s", mq, exc)
            return -2
        self.update(mq, offset) if offset >= 0 else None
        return offset

    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None:
        for mq in list(mqs):
            offset = self.table.get(mq)
            if offset is None or offset < 0:
                continue
            addr = await self._addr(mq)
            if addr is None:
                continue
            try:
                await self.instance.api.update_consumer_offset(addr, self.group, mq, offset)
            except Exception as exc:
                log.debug("commit offset %s=%d failed: %s", mq, offset, exc)


class LocalFileOffsetStore(OffsetStore):
    def __init__(self, directory: str | os.PathLike[str] | None, client_id: str, group: str) -> None:
        super().__init__()
        base = Path(directory) if directory else Path(
            os.environ.get("rocketmq.client.localOffsetStoreDir", Path.home() / ".rocketmq_offsets"))
        self.path = base / client_id / group / "offsets.json"

    async def load(self) -> None:
        for path in (self.path, self.path.with_name("offsets.json.bak")):
            try:
                data = fastjson.loads(path.read_bytes())
            except (OSError, ValueError):
                continue
            self.table.update(bodies.decode_reset_offset_body(fastjson.dumps(data)) if data else {})
            return

    async def _read_store(self, mq: MessageQueue) -> int:
        await self.load()
        return self.table.get(mq, -1)

    async def persist_all(self, mqs: Iterable[MessageQueue]) -> None:
        wanted = set(mqs)
        table = {mq: off for mq, off in self.table.items() if mq in wanted and off >= 0}
        if not table:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = bodies.encode_reset_offset_body(table)
        if self.path.exists():
            try:
                os.replace(self.path, self.path.with_name("offsets.json.bak"))
            except OSError:
                pass
        tmp = self.path.with_name("offsets.json.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.path)
