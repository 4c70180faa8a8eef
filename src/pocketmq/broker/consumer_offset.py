"""Committed consumer offsets (upstream ConsumerOffsetManager): ``topic@group`` -> queue id ->
offset, persisted to ``config/consumerOffset.json`` every flushConsumerOffsetInterval."""

from __future__ import annotations

import asyncio
import os

from pocketmq.persist import BackgroundFile, load_json_file
from pocketmq.protocol import fastjson

TOPIC_GROUP_SEPARATOR = "@"


class ConsumerOffsetManager:
    def __init__(self, store_root: str) -> None:
        self.path = os.path.join(store_root, "config", "consumerOffset.json")
        self.table: dict[str, dict[int, int]] = {}
        self.dirty = False
        self._file = BackgroundFile(self.path)

    def load(self) -> None:
        data = load_json_file(self.path, fastjson.loads)
        if data is None:
            return
        self.table = {key: {int(q): int(o) for q, o in offsets.items()}
                      for key, offsets in (data.get("offsetTable") or {}).items()}

    def encode(self) -> bytes:
        return fastjson.dumps({"offsetTable": self.table}, plain=True)  # on the event loop, every 5 s

    def persist(self) -> None:
        """Write the offsets off the event loop; a failed write leaves them dirty for the next."""
        written = self._file.write(self.encode())
        self.dirty = False
        if written is not None:
            written.add_done_callback(self._written)

    def _written(self, written: asyncio.Future[None]) -> None:
        if written.exception() is not None:
            self.dirty = True

    def flush(self) -> None:
        """Block until the file holds the offsets (shutdown)."""
        self._file.flush()

    def persist_if_dirty(self) -> None:
        if self.dirty:
            self.persist()

    def commit(self, group: str, topic: str, queue_id: int, offset: int) -> None:
        self.table.setdefault(f"{topic}{TOPIC_GROUP_SEPARATOR}{group}", {})[queue_id] = offset
        self.dirty = True

    def query(self, group: str, topic: str, queue_id: int) -> int:
        """The committed offset, or -1 when the group never committed one for that queue."""
        return self.table.get(f"{topic}{TOPIC_GROUP_SEPARATOR}{group}", {}).get(queue_id, -1)

    def offsets(self, group: str, topic: str) -> dict[int, int]:
        return dict(self.table.get(f"{topic}{TOPIC_GROUP_SEPARATOR}{group}", {}))

    def groups_of_topic(self, topic: str) -> set[str]:
        return {key.split(TOPIC_GROUP_SEPARATOR, 1)[1] for key in self.table
                if key.split(TOPIC_GROUP_SEPARATOR, 1)[0] == topic}

    def topics_of_group(self, group: str) -> set[str]:
        return {key.split(TOPIC_GROUP_SEPARATOR, 1)[0] for key in self.table
                if key.split(TOPIC_GROUP_SEPARATOR, 1)[1] == group}

    def remove_group(self, group: str, topic: str | None = None) -> None:
        for key in list(self.table):
            t, g = key.split(TOPIC_GROUP_SEPARATOR, 1)
            if g == group and (topic is None or t == topic):
                del self.table[key]
        self.dirty = True

    def remove_topic(self, topic: str) -> None:
        for key in list(self.table):
            if key.split(TOPIC_GROUP_SEPARATOR, 1)[0] == topic:
                del self.table[key]
        self.dirty = True

    def clone_offset(self, src_group: str, dest_group: str, topic: str) -> None:
        offsets = self.offsets(src_group, topic)
        if offsets:
            self.table[f"{topic}{TOPIC_GROUP_SEPARATOR}{dest_group}"] = offsets
            self.dirty = True

    def replace_all(self, table: dict[str, dict[int, int]]) -> None:
        self.table = {k: dict(v) for k, v in table.items()}
        self.dirty = True
