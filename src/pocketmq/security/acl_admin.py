"""The admin requests that edit plain_acl.yml over the network, as upstream's broker answers
them (AdminBrokerProcessor + PlainPermissionManager): UPDATE_AND_CREATE_ACL_CONFIG (50, add or
update an account; the official ``mqadmin updateAclConfig``), DELETE_ACL_CONFIG (51,
``deleteAccessConfig``) and UPDATE_GLOBAL_WHITE_ADDRS_CONFIG (53, ``updateGlobalWhiteAddr``).

The file is rewritten (comments are lost, as upstream) with its ``dataVersion`` bumped, and the
new rules apply at once. Unlike upstream 4.9.7, which lets any signed account call these, the
broker's ACL lets only admin accounts (``permission.ACL_CONFIG_CODES``); and a change that would
not load (a short key, a bad permission or address) is refused, leaving the file as it was.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.persist import write_file_safely
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.security.plain_acl import KEY_MIN_LENGTH, PlainAcl, parse_plain_acl
from pocketmq.security.remote_address import AclConfigError

log = logging.getLogger("pocketmq.security")

UPDATE_FAILED = 209  # ResponseCode.UPDATE_AND_CREATE_ACL_CONFIG_FAILED
DELETE_FAILED = 210  # ResponseCode.DELETE_ACL_CONFIG_FAILED
WHITE_FAILED = 211  # ResponseCode.UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED
_PERMS = ("PUB", "SUB", "PUB|SUB", "SUB|PUB", "DENY")


def _split(text: str | None) -> list[str] | None:
    """UtilAll.split(text, ",")."""
    return None if text is None else text.split(",")


def _check_resource_perms(resources: list[str] | None) -> None:
    for resource in resources or []:
        items = [part for part in resource.split("=") if part]
        if len(items) != 2:
            raise AclConfigError(f"Parse Resource format error for {resource}.\n"
                                 "The expected resource format is 'Res=Perm'. For example: topicA=SUB")
        if items[1].strip() not in _PERMS:
            raise AclConfigError(f"Parse resource permission error for {resource}.\n"
                                 "The expected permissions are 'SUB' or 'PUB' or 'SUB|PUB' or 'PUB|SUB'.")


class AclConfigEditor:
    """Edits one plain_acl.yml and puts the result in force; ``clock`` stamps its dataVersion."""

    def __init__(self, acl: PlainAcl, clock: Clock = SYSTEM_CLOCK) -> None:
        self.acl = acl
        self.clock = clock

    def update_account(self, fields: dict[str, str]) -> None:
        access_key, secret_key = fields.get("accessKey"), fields.get("secretKey")
        if (access_key is None or secret_key is None or len(access_key) <= KEY_MIN_LENGTH
                or len(secret_key) <= KEY_MIN_LENGTH):
            raise AclConfigError(f"The accessKey={access_key} and secretKey={secret_key} cannot be null "
                                 "and length should longer than 6")
        topic_perms, group_perms = _split(fields.get("topicPerms")), _split(fields.get("groupPerms"))
        _check_resource_perms(topic_perms)
        _check_resource_perms(group_perms)
        data = self._data()
        accounts = data.setdefault("accounts", None) or []
        existing = next((a for a in accounts if isinstance(a, dict) and str(a.get("accessKey")) == access_key), None)
        account: dict[str, Any] = dict(existing or {})
        account["accessKey"] = access_key
        account["secretKey"] = secret_key
        if fields.get("whiteRemoteAddress") is not None:
            account["whiteRemoteAddress"] = fields["whiteRemoteAddress"]
        account["admin"] = fields.get("admin", "false").strip().lower() == "true"
        for key in ("defaultTopicPerm", "defaultGroupPerm"):
            if fields.get(key):
                account[key] = fields[key]
        if topic_perms is not None:
            account["topicPerms"] = topic_perms
        if group_perms is not None:
            account["groupPerms"] = group_perms
        data["accounts"] = [a for a in accounts if a is not existing] + [account]
        self._write(data)

    def delete_account(self, access_key: str) -> bool:
        data = self._data()
        accounts = data.get("accounts") or []
        kept = [a for a in accounts if not (isinstance(a, dict) and str(a.get("accessKey")) == access_key)]
        if len(kept) == len(accounts):
            return False
        data["accounts"] = kept
        self._write(data)
        return True

    def update_global_white(self, addresses: list[str]) -> None:
        data = self._data()
        data["globalWhiteRemoteAddresses"] = addresses
        self._write(data)

    def _data(self) -> dict[str, Any]:
        return {key: value for key, value in self.acl.config.data.items()}

    def _write(self, data: dict[str, Any]) -> None:
        import yaml

        version = self.acl.config.data_version or {}
        data["dataVersion"] = [{"counter": int(version.get("counter", 0)) + 1,
                                "timestamp": self.clock.now_ms()}]
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        parse_plain_acl(text, self.acl.path)  # refuse what would not load
        write_file_safely(self.acl.path, text.encode("utf-8"))
        self.acl.reload_if_changed()


class AclAdminProcessor:
    """Request handlers for codes 50, 51 and 53 (``editor`` None: ACL is off on this broker).
    Edits run one at a time (upstream's handlers are synchronized), the file write and its
    fsync on a worker thread."""

    def __init__(self, editor: AclConfigEditor | None) -> None:
        self.editor = editor
        self._lock: asyncio.Lock | None = None

    async def _run(self, edit: Callable[..., Any], *args: Any) -> Any:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await asyncio.to_thread(edit, *args)

    def register_all(self, register: Callable[[int, Any], None]) -> None:
        register(RequestCode.UPDATE_AND_CREATE_ACL_CONFIG, self.update_and_create)
        register(RequestCode.DELETE_ACL_CONFIG, self.delete)
        register(RequestCode.UPDATE_GLOBAL_WHITE_ADDRS_CONFIG, self.update_global_white)

    def _off(self, request: RemotingCommand, code: int) -> RemotingCommand:
        return make_response(request, code, "ACL is not enabled on this broker (aclEnable=false)")

    async def update_and_create(self, request: RemotingCommand, channel: object) -> RemotingCommand:
        if self.editor is None:
            return self._off(request, UPDATE_FAILED)
        fields = request.ext_fields or {}
        try:
            await self._run(self.editor.update_account, fields)
        except (AclConfigError, OSError) as exc:
            return make_response(request, UPDATE_FAILED, str(exc))
        log.info("ACL account %s updated by %s", fields.get("accessKey"), getattr(channel, "remote_address", ""))
        return make_response(request, ResponseCode.SUCCESS)

    async def delete(self, request: RemotingCommand, channel: object) -> RemotingCommand:
        if self.editor is None:
            return self._off(request, DELETE_FAILED)
        access_key = (request.ext_fields or {}).get("accessKey")
        try:
            deleted = access_key is not None and await self._run(self.editor.delete_account, access_key)
        except (AclConfigError, OSError) as exc:
            return make_response(request, DELETE_FAILED, str(exc))
        if not deleted:
            return make_response(request, DELETE_FAILED,
                                 f"The accesskey[{access_key}] corresponding to accessConfig has been deleted failed.")
        log.info("ACL account %s deleted by %s", access_key, getattr(channel, "remote_address", ""))
        return make_response(request, ResponseCode.SUCCESS)

    async def update_global_white(self, request: RemotingCommand, channel: object) -> RemotingCommand:
        if self.editor is None:
            return self._off(request, WHITE_FAILED)
        fields = request.ext_fields or {}
        addresses = fields.get("globalWhiteAddrs")
        path = fields.get("aclFileFullPath")
        failed = f"The globalWhiteAddresses[{addresses}] has been updated failed."
        if addresses is None or (path and path != self.editor.acl.path):  # only our own file, never a path given
            return make_response(request, WHITE_FAILED, failed)
        try:
            await self._run(self.editor.update_global_white, addresses.split(","))
        except (AclConfigError, OSError) as exc:
            return make_response(request, WHITE_FAILED, str(exc))
        return make_response(request, ResponseCode.SUCCESS)
