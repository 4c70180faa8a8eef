"""Which config keys UPDATE_BROKER_CONFIG / UPDATE_NAMESRV_CONFIG may change over the network.

Keys that move files (paths, homes, dirs), ports, roles and addresses, or ACL settings are
"sensitive": upstream's unchecked config updates were the way into its RCE CVEs
(CVE-2023-33246, CVE-2023-37582). A sensitive key may change only when the caller is proven an
admin account, i.e. the server runs with ``aclEnable=true`` (the ACL lets only admins send
these requests), and ``sensitiveConfigUpdateEnable`` is true; otherwise the update is refused
with NO_PERMISSION and nothing changes.
"""

from __future__ import annotations

from typing import Iterable

MASKED = "******"  # what GET_BROKER_CONFIG shows instead of aclSecretKey

_EXACT = frozenset({
    "listenPort", "haListenPort", "brokerRole", "brokerId", "brokerName", "brokerClusterName",
    "brokerIP1", "brokerIP2", "namesrvAddr", "haMasterAddress", "rocketmqHome", "configBlackList",
    "aclEnable", "aclAccessKey", "aclSecretKey", "sensitiveConfigUpdateEnable", "messageStorePlugIn",
    "haSharedSecret",
})


def is_sensitive(key: str) -> bool:
    return (key in _EXACT or key.endswith(("Path", "Dir", "Home")) or key.startswith(("storePath", "tls.", "acl"))
            or "Port" in key)


def sensitive_keys(keys: Iterable[str]) -> list[str]:
    return sorted(key for key in keys if is_sensitive(key))


def refusal(keys: Iterable[str], *, acl_enabled: bool, update_enabled: bool) -> str | None:
    """The remark refusing an update of ``keys``, or None when it may go ahead."""
    found = sensitive_keys(keys)
    if not found:
        return None
    names = ", ".join(found)
    if not update_enabled:
        return f"Can not update {names} over the network: sensitiveConfigUpdateEnable=false"
    if not acl_enabled:
        return f"Can not update {names} over the network without an admin account (aclEnable=false)"
    return None
