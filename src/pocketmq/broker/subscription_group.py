"""Consumer group configs (upstream SubscriptionGroupManager), auto-created on first use when
``autoCreateSubscriptionGroup`` is on, persisted to ``config/subscriptionGroup.json``."""

from __future__ import annotations

import logging
import os
import orjson

from pocketmq.config import BrokerConfig
from pocketmq.persist import load_json_file, write_file_safely
from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.protocol.route import DataVersion

log = logging.getLogger("pocketmq.broker")

DEFAULT_GROUPS = ("TOOLS_CONSUMER", "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP", "CID_ONS-HTTP-PROXY",
                  "CID_ONSAPI_PULL", "CID_ONSAPI_PERMISSION", "CID_ONSAPI_OWNER")


class SubscriptionGroupManager:
    def __init__(self, config: BrokerConfig, store_root: str) -> None:
        self.config = config
        self.path = os.path.join(store_root, "config", "subscriptionGroup.json")
        self.table: dict[str, SubscriptionGroupConfig] = {}
        self.data_version = DataVersion()
        for group in DEFAULT_GROUPS:
            self.table[group] = SubscriptionGroupConfig(group)
        self.table["TOOLS_CONSUMER"].consumeBroadcastEnable = True

    def load(self) -> None:
        data = load_json_file(self.path, orjson.loads)
        if data is None:
            return
        for name, group in (data.get("subscriptionGroupTable") or {}).items():
            self.table[name] = SubscriptionGroupConfig.from_dict(group)
        self.data_version = DataVersion.from_dict(data.get("dataVersion"))

    def encode(self, pretty: bool = False) -> bytes:
        payload = {"dataVersion": self.data_version.to_dict(),
                   "subscriptionGroupTable": {name: g.to_dict() for name, g in self.table.items()}}
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2 if pretty else 0)

    def persist(self) -> None:
        write_file_safely(self.path, self.encode(pretty=True))

    def find(self, group: str, auto_create: bool = True) -> SubscriptionGroupConfig | None:
        found = self.table.get(group)
        if found is None and auto_create and self.config.autoCreateSubscriptionGroup:
            found = SubscriptionGroupConfig(group)
            self.table[group] = found
            log.info("auto create a subscription group, %s", found)
            self.data_version.next_version()
            self.persist()
        return found

    def update(self, group_config: SubscriptionGroupConfig) -> None:
        old = self.table.get(group_config.groupName)
        self.table[group_config.groupName] = group_config
        log.info("%s subscription group config, old: %s new: %s", "update" if old else "create new", old, group_config)
        self.data_version.next_version()
        self.persist()

    def delete(self, group: str) -> bool:
        if self.table.pop(group, None) is None:
            return False
        self.data_version.next_version()
        self.persist()
        return True

    def replace_all(self, table: dict[str, SubscriptionGroupConfig], version: DataVersion) -> None:
        """A slave copying its master's table."""
        self.table = dict(table)
        self.data_version = version
        self.persist()
