"""Plain ACL (upstream PlainPermissionManager / PlainAccessValidator): the accounts of
``${rocketmqHome}/conf/plain_acl.yml`` and the decision whether a request may pass.

``load_plain_acl`` reads the yml into a ``PlainAclConfig`` (the snapshot other code may read,
e.g. to answer GET_BROKER_CLUSTER_ACL_CONFIG); ``PlainAcl`` holds the current snapshot, swaps
in a new one on ``reload`` (a bad file keeps the old rules) and checks requests in upstream's
order: global white list, access key present, account known, account white list, signature,
the trace topic exemption, admin codes, then each resource's permission. A refusal raises
``AclDenied`` whose remark is the text upstream's broker answers with (SYSTEM_ERROR).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from pocketmq.remoting.command import RemotingCommand
from pocketmq.security import permission
from pocketmq.security.access import ParseError, describe, is_retry_topic, needed_resources, retry_topic
from pocketmq.security.remote_address import AclConfigError, Matcher, address_matcher
from pocketmq.security.signing import ACCESS_KEY, signature_matches

log = logging.getLogger("pocketmq.security")

PLAIN_ACL_FILE = os.path.join("conf", "plain_acl.yml")
TRACE_TOPIC = "RMQ_SYS_TRACE_TOPIC"
KEY_MIN_LENGTH = 6

_EXCEPTION = "org.apache.rocketmq.acl.common.AclException"
_MANAGER = "org.apache.rocketmq.acl.plain.PlainPermissionManager"
_VALIDATOR = "org.apache.rocketmq.acl.plain.PlainAccessValidator"
# Where upstream 4.9.7 throws each refusal (its remark names the first stack frame).
_AT_NO_ACCESS_KEY = f"{_MANAGER}.validate(PlainPermissionManager.java:663)"
_AT_NO_ACCOUNT = f"{_MANAGER}.validate(PlainPermissionManager.java:667)"
_AT_SIGNATURE = f"{_MANAGER}.validate(PlainPermissionManager.java:683)"
_AT_ADMIN = f"{_MANAGER}.checkPerm(PlainPermissionManager.java:580)"
_AT_DEFAULT_PERM = f"{_MANAGER}.checkPerm(PlainPermissionManager.java:605)"
_AT_RESOURCE_PERM = f"{_MANAGER}.checkPerm(PlainPermissionManager.java:610)"
_AT_PARSE = f"{_VALIDATOR}.parse(PlainAccessValidator.java:134)"


class AclDenied(Exception):
    """A request the ACL refuses; ``remark`` is upstream's response remark."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.message = message
        self.remark = f"{_EXCEPTION}: {message}, {where}"


@dataclass(frozen=True)
class Account:
    access_key: str
    secret_key: str
    white_remote_address: str
    white: Matcher
    admin: bool
    default_topic_perm: int
    default_group_perm: int
    resource_perms: dict[str, int]  # topic or %RETRY%group -> perm


@dataclass(frozen=True)
class PlainAclConfig:
    """One loaded plain_acl.yml. ``data`` is the yml as read (for admin requests that show it)."""

    path: str
    data: dict[str, Any] = field(default_factory=dict)
    global_white_remote_addresses: tuple[str, ...] = ()
    global_white: tuple[Matcher, ...] = ()
    accounts: dict[str, Account] = field(default_factory=dict)
    digest: str = ""

    @property
    def data_version(self) -> dict[str, Any] | None:
        versions = self.data.get("dataVersion")
        if isinstance(versions, list) and versions and isinstance(versions[0], dict):
            return versions[0]
        return None


def acl_file_path(rocketmq_home: str) -> str:
    return os.path.join(rocketmq_home, PLAIN_ACL_FILE)


def parse_plain_acl(text: str | bytes, path: str = "") -> PlainAclConfig:
    """Parse the yml; raises AclConfigError for what upstream refuses to load."""
    import yaml  # only when ACL is on

    digest = hashlib.md5(text if isinstance(text, bytes) else text.encode()).hexdigest()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AclConfigError(str(exc)) from None
    if data is None:
        return PlainAclConfig(path, digest=digest)
    if not isinstance(data, dict):
        raise AclConfigError(f"{path or 'plain_acl.yml'}: the top level must be a mapping")
    white = [str(item) for item in (data.get("globalWhiteRemoteAddresses") or [])]
    accounts: dict[str, Account] = {}
    for raw in data.get("accounts") or []:
        if not isinstance(raw, dict):
            raise AclConfigError(f"an account must be a mapping, not {raw!r}")
        account = _account(raw)
        accounts.setdefault(account.access_key, account)
    return PlainAclConfig(path, data, tuple(white), tuple(address_matcher(item) for item in white), accounts, digest)


def _account(raw: dict[str, Any]) -> Account:
    access_key, secret_key = raw.get("accessKey"), raw.get("secretKey")
    if (access_key is None or secret_key is None or len(str(access_key)) <= KEY_MIN_LENGTH
            or len(str(secret_key)) <= KEY_MIN_LENGTH):
        raise AclConfigError(f"The accessKey={access_key} and secretKey={secret_key} cannot be null "
                             "and length should longer than 6")
    perms: dict[str, int] = {}
    for kind, key in (("group", "groupPerms"), ("topic", "topicPerms")):
        for item in raw.get(key) or []:
            items = [part for part in str(item).split("=") if part]
            if len(items) != 2:
                raise AclConfigError(f"Parse resource permission failed for {kind}:{item}")
            name = items[0].strip()
            perms[name if kind == "topic" else str(retry_topic(name))] = permission.parse_perm(items[1])
    white_text = "" if raw.get("whiteRemoteAddress") is None else str(raw.get("whiteRemoteAddress"))
    return Account(str(access_key), str(secret_key), white_text, address_matcher(white_text),
                   _bool(raw.get("admin")), permission.parse_perm(raw.get("defaultTopicPerm")),
                   permission.parse_perm(raw.get("defaultGroupPerm")), perms)


def _bool(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def load_plain_acl(path: str) -> PlainAclConfig:
    """Read and parse ``path``; a missing file is an empty config (everything refused)."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        log.warning("ACL file %s does not exist: every request will be refused", path)
        return PlainAclConfig(path)
    return parse_plain_acl(text, path)


def file_digest(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.md5(f.read()).hexdigest()
    except OSError:
        return ""


def no_resources(request: RemotingCommand) -> dict[str, int]:
    return {}


class PlainAcl:
    """The plain ACL of one server: the current config and the check of each request.
    ``resources`` and ``admin_codes`` say what a request needs: a broker's (upstream's) by
    default; a name server's are ``no_resources`` and ``permission.NAMESRV_ADMIN_CODES``."""

    def __init__(self, path: str, resources: Callable[[RemotingCommand], dict[str, int]] = needed_resources,
                 admin_codes: frozenset[int] = permission.ADMIN_CODES) -> None:
        self.path = path
        self.resources = resources
        self.admin_codes = admin_codes
        self.config = load_plain_acl(path)

    def reload_if_changed(self) -> bool:
        """Load the file again if its content changed; a file that does not parse keeps the
        previous rules (and is logged). Returns whether new rules are in force."""
        if file_digest(self.path) == self.config.digest:
            return False
        try:
            self.config = load_plain_acl(self.path)
        except AclConfigError as exc:
            log.error("ACL file %s not reloaded, the previous rules stay: %s", self.path, exc)
            return False
        log.info("ACL file %s reloaded: %d accounts", self.path, len(self.config.accounts))
        return True

    def check(self, request: RemotingCommand, remote_address: str) -> None:
        """Raise AclDenied unless ``request`` from ``remote_address`` (``ip:port``) may pass."""
        try:
            needed = self.resources(request) if request.ext_fields is not None else {}
        except ParseError as exc:
            raise AclDenied(str(exc), _AT_PARSE) from None
        self.check_access(request.code, request.field(ACCESS_KEY), remote_address,
                          lambda secret_key: signature_matches(request, secret_key), needed)

    def check_access(self, code: int, access_key: str | None, remote_address: str,
                     signed: Callable[[str], bool], needed: dict[str, int]) -> None:
        """Upstream's validate for any protocol: ``signed(secret_key)`` says whether the request's
        signature is the account's; ``needed`` maps resources to the permission they need (in
        Java HashMap order). gRPC calls come here with code 0 (none is an admin code)."""
        ip = remote_address.rpartition(":")[0] if ":" in remote_address else remote_address
        config = self.config
        if config.global_white and any(match(ip) for match in config.global_white):
            return
        if access_key is None:
            raise AclDenied("No accessKey is configured", _AT_NO_ACCESS_KEY)
        account = config.accounts.get(access_key)
        if account is None:
            raise AclDenied(f"No acl config for {access_key}", _AT_NO_ACCOUNT)
        if account.white(ip):
            return
        if not signed(account.secret_key):
            raise AclDenied(f"Check signature failed for accessKey={access_key}", _AT_SIGNATURE)
        if needed.get(TRACE_TOPIC) == permission.PUB:
            return
        check_permissions(code, needed, account, self.admin_codes)


def check_permissions(code: int, needed: dict[str, int], account: Account,
                      admin_codes: frozenset[int] = permission.ADMIN_CODES) -> None:
    """Upstream checkPerm: admin codes, then each needed resource against the account."""
    if permission.need_admin(code, admin_codes) and not account.admin:
        raise AclDenied(f"Need admin permission for request code={code}, but accessKey={account.access_key} is not",
                        _AT_ADMIN)
    if not needed or (not account.resource_perms and account.admin):
        return
    for resource, perm in needed.items():
        owned = account.resource_perms.get(resource)
        if owned is None:
            default = account.default_group_perm if is_retry_topic(resource) else account.default_topic_perm
            if not permission.check_permission(perm, default):
                raise AclDenied(f"No default permission for {describe(resource)}", _AT_DEFAULT_PERM)
        elif not permission.check_permission(perm, owned):
            raise AclDenied(f"No default permission for {describe(resource)}", _AT_RESOURCE_PERM)
