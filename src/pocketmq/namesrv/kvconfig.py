"""The name server's KV config (upstream KVConfigManager): namespace -> key -> value, persisted
as ``{"configTable":{...}}`` in kvConfigPath with upstream's tmp/bak/rename dance."""

from __future__ import annotations

import logging

import orjson

from pocketmq.persist import write_file_safely

log = logging.getLogger("pocketmq.namesrv")


class KVConfigManager:
    def __init__(self, path: str) -> None:
        self.path = path
        self.table: dict[str, dict[str, str]] = {}

    def load(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                data = orjson.loads(handle.read())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("cannot read kv config %s: %s", self.path, exc)
            return
        table = data.get("configTable") or {}
        self.table = {ns: {str(k): str(v) for k, v in kv.items()} for ns, kv in table.items()}

    def persist(self) -> None:
        write_file_safely(self.path, orjson.dumps({"configTable": self.table}, option=orjson.OPT_INDENT_2))

    def put(self, namespace: str, key: str, value: str) -> None:
        self.table.setdefault(namespace, {})[key] = value
        log.info("putKVConfig create or update config item, Namespace: %s Key: %s Value: %s", namespace, key, value)
        self.persist()

    def get(self, namespace: str, key: str) -> str | None:
        return self.table.get(namespace, {}).get(key)

    def delete(self, namespace: str, key: str) -> None:
        kv = self.table.get(namespace)
        if kv is not None and kv.pop(key, None) is not None:
            if not kv:
                del self.table[namespace]
            self.persist()

    def list_namespace(self, namespace: str) -> dict[str, str] | None:
        kv = self.table.get(namespace)
        return dict(kv) if kv is not None else None
