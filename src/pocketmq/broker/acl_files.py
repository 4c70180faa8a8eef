"""Read-only view of the plain ACL files (upstream PlainPermissionManager's file set):
``$ROCKETMQ_HOME/conf/plain_acl.yml`` plus every ``*.yml`` under ``$ROCKETMQ_HOME/conf/acl``,
with each file's ``dataVersion``. Used to answer GET_BROKER_CLUSTER_ACL_INFO / _CONFIG until
the security room owns ACL; it never enforces anything."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

ACL_DISABLED_REMARK = ("The broker does not enable acl (aclEnable=false); a 4.9.7 broker leaves this request "
                       "unanswered")
_ACCOUNT_KEYS = ("accessKey", "secretKey", "whiteRemoteAddress", "admin", "defaultTopicPerm", "defaultGroupPerm",
                 "topicPerms", "groupPerms")


def acl_home(rocketmq_home: str) -> str:
    return rocketmq_home or os.environ.get("ROCKETMQ_HOME", "")


@dataclass
class AclFiles:
    default_file: str
    versions: dict[str, dict[str, int]] = field(default_factory=dict)
    global_white_addrs: list[str] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)

    def default_version(self) -> dict[str, int]:
        return self.versions.get(self.default_file) or {"counter": 0, "timestamp": 0}


def _text(key: str, value: Any) -> Any:
    """PlainAccessConfig's string fields stay strings (YAML reads ``secretKey: 12345678`` as a number)."""
    if key in ("accessKey", "secretKey", "whiteRemoteAddress", "defaultTopicPerm", "defaultGroupPerm") \
            and value is not None and not isinstance(value, str):
        return str(value)
    return value


def _files(home: str) -> list[str]:
    acl_dir = os.path.join(home, "conf", "acl")
    found = []
    if os.path.isdir(acl_dir):
        for root, _, names in os.walk(acl_dir):
            found += [os.path.join(root, n) for n in sorted(names) if n.endswith(".yml")]
    default = os.path.join(home, "conf", "plain_acl.yml")
    if os.path.exists(default) and default not in found:
        found.append(default)
    return found


def _version(data: dict[str, Any], clock: Callable[[], float]) -> dict[str, int]:
    versions = data.get("dataVersion")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        first = versions[0]
        return {"counter": int(first.get("counter", 0)), "timestamp": int(first.get("timestamp", 0))}
    return {"counter": 0, "timestamp": int(clock() * 1000)}


def load(home: str, clock: Callable[[], float] = time.time) -> AclFiles:
    """Every ACL file's accounts, white list and version; unreadable files count as empty."""
    result = AclFiles(default_file=os.path.join(home, "conf", "plain_acl.yml"))
    for path in _files(home):
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        result.versions[path] = _version(data, clock)
        result.global_white_addrs += [str(a) for a in data.get("globalWhiteRemoteAddresses") or []]
        for account in data.get("accounts") or []:
            if isinstance(account, dict):
                result.accounts.append({k: _text(k, account[k]) for k in _ACCOUNT_KEYS if k in account})
    return result
