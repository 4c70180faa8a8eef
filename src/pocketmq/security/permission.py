"""Permissions of plain ACL (upstream acl.common.Permission): the DENY/ANY/PUB/SUB bits, their
names in plain_acl.yml, the check, and the request codes that need an admin account."""

from __future__ import annotations

from pocketmq.remoting.codes import RequestCode

DENY = 1
ANY = 1 << 1
PUB = 1 << 2
SUB = 1 << 3

# Upstream Permission.ADMIN_CODE (4.9.7).
ADMIN_CODES = frozenset({
    int(RequestCode.UPDATE_AND_CREATE_TOPIC),
    int(RequestCode.UPDATE_BROKER_CONFIG),
    int(RequestCode.DELETE_TOPIC_IN_BROKER),
    int(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP),
    int(RequestCode.DELETE_SUBSCRIPTIONGROUP),
})

# PocketMQ: the requests that edit plain_acl.yml need an admin account too (upstream 4.9.7 lets
# any signed account call them, i.e. grant itself anything).
ACL_CONFIG_CODES = frozenset({
    int(RequestCode.UPDATE_AND_CREATE_ACL_CONFIG), int(RequestCode.DELETE_ACL_CONFIG),
    int(RequestCode.UPDATE_GLOBAL_WHITE_ADDRS_CONFIG),
})
BROKER_ADMIN_CODES = ADMIN_CODES | ACL_CONFIG_CODES

# PocketMQ's name server ACL (upstream's name server has none): these change the cluster and need
# an admin account; every other request (route and cluster queries) needs a valid signature only.
NAMESRV_ADMIN_CODES = frozenset({
    int(RequestCode.REGISTER_BROKER), int(RequestCode.UNREGISTER_BROKER),
    int(RequestCode.PUT_KV_CONFIG), int(RequestCode.DELETE_KV_CONFIG),
    int(RequestCode.WIPE_WRITE_PERM_OF_BROKER), int(RequestCode.ADD_WRITE_PERM_OF_BROKER),
    int(RequestCode.DELETE_TOPIC_IN_NAMESRV), int(RequestCode.UPDATE_NAMESRV_CONFIG),
})

_NAMES = {"PUB": PUB, "SUB": SUB, "PUB|SUB": PUB | SUB, "SUB|PUB": PUB | SUB, "DENY": DENY}


def parse_perm(text: str | None) -> int:
    """A permission name from the yml; anything unknown (or missing) is DENY, as upstream."""
    if text is None:
        return DENY
    return _NAMES.get(str(text).strip(), DENY)


def check_permission(needed: int, owned: int) -> bool:
    if owned & DENY:
        return False
    if needed & ANY:
        return bool(owned & PUB or owned & SUB)
    return bool(needed & owned)


def need_admin(code: int, admin_codes: frozenset[int] = ADMIN_CODES) -> bool:
    return code in admin_codes
