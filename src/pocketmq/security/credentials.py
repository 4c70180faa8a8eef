"""Client credentials (upstream SessionCredentials) and the ``tools.yml`` file mqadmin reads
them from (upstream AclUtils.getAclRPCHook: ``accessKey`` and ``secretKey`` keys)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pocketmq.security")

TOOLS_FILE = os.path.join("conf", "tools.yml")


def default_home(rocketmq_home: str) -> str:
    """``rocketmqHome`` / ``ROCKETMQ_HOME`` if set, else the distribution folder this package
    runs from (the one holding bin/ and conf/)."""
    if rocketmq_home:
        return rocketmq_home
    return str(Path(__file__).resolve().parents[3])


@dataclass(frozen=True)
class SessionCredentials:
    """An account's access key and secret key, plus the optional security token."""

    access_key: str
    secret_key: str
    security_token: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"SessionCredentials(access_key={self.access_key!r})"


def load_tools_yml(path: str) -> SessionCredentials | None:
    """The credentials in a tools.yml, or None when it is missing, unreadable or blank
    (upstream then runs mqadmin without signing)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("cannot read %s: %s", path, exc)
        return None
    import yaml  # only when there is a tools.yml: a client without one never needs it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        log.error("cannot parse %s: %s", path, exc)
        return None
    if not isinstance(data, dict):
        return None
    access_key = str(data.get("accessKey") or "").strip()
    secret_key = str(data.get("secretKey") or "").strip()
    if not access_key or not secret_key:
        log.warning("AccessKey or secretKey is blank in %s, the acl is not enabled.", path)
        return None
    return SessionCredentials(access_key, secret_key)
