"""TLS settings and contexts, under upstream's keys (TlsSystemConfig): ``tls.server.mode``
(disabled / permissive / enforcing; permissive by default), ``tls.server.certPath``,
``tls.server.keyPath``, ``tls.server.keyPassword``, ``tls.server.trustCertPath``,
``tls.server.need.client.auth`` (none / optional / require), and for clients ``tls.enable``,
``tls.client.certPath``, ``tls.client.keyPath``, ``tls.client.trustCertPath``,
``tls.client.authServer``. They are read from ``tls.config.file`` (default
/etc/rocketmq/tls.properties, as upstream) and then from the process's own config (its -c file
or --tls.server.mode=... overrides).

Unlike upstream (whose ``tls.test.mode.enable`` makes up a self-signed certificate), a server
without ``tls.server.certPath``/``keyPath`` serves plaintext only (permissive) or refuses every
connection (enforcing).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Mapping

from pocketmq.config import parse_properties
from pocketmq.remoting.tls import MODES, PERMISSIVE, ServerTls

log = logging.getLogger("pocketmq.security")

DEFAULT_CONFIG_FILE = "/etc/rocketmq/tls.properties"


@dataclass(frozen=True)
class TlsConfig:
    server_mode: str = PERMISSIVE
    server_cert_path: str = ""
    server_key_path: str = ""
    server_key_password: str = ""
    server_trust_cert_path: str = ""
    server_need_client_auth: str = "none"
    client_enable: bool = False
    client_cert_path: str = ""
    client_key_path: str = ""
    client_trust_cert_path: str = ""
    client_auth_server: bool = False


def tls_config(values: Mapping[str, str]) -> TlsConfig:
    """The TLS settings in a process's config values (plus ``tls.config.file``)."""
    merged: dict[str, str] = {}
    path = values.get("tls.config.file", DEFAULT_CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            merged.update(parse_properties(f.read()))
    except OSError:
        pass
    merged.update({key: value for key, value in values.items() if key.startswith("tls.")})
    mode = merged.get("tls.server.mode", PERMISSIVE).strip().lower()
    if mode not in MODES:
        raise ValueError(f"tls.server.mode must be one of {', '.join(MODES)}, not {mode!r}")
    return TlsConfig(
        server_mode=mode,
        server_cert_path=merged.get("tls.server.certPath", ""),
        server_key_path=merged.get("tls.server.keyPath", ""),
        server_key_password=merged.get("tls.server.keyPassword", ""),
        server_trust_cert_path=merged.get("tls.server.trustCertPath", ""),
        server_need_client_auth=merged.get("tls.server.need.client.auth", "none").strip().lower(),
        client_enable=merged.get("tls.enable", "false").strip().lower() == "true",
        client_cert_path=merged.get("tls.client.certPath", ""),
        client_key_path=merged.get("tls.client.keyPath", ""),
        client_trust_cert_path=merged.get("tls.client.trustCertPath", ""),
        client_auth_server=merged.get("tls.client.authServer", "false").strip().lower() == "true",
    )


def server_tls(config: TlsConfig) -> ServerTls:
    """What a remoting server does with TLS: its mode and (with a certificate) its context."""
    context = None
    if config.server_mode != "disabled" and config.server_cert_path and config.server_key_path:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(config.server_cert_path, config.server_key_path,
                                config.server_key_password or None)
        if config.server_need_client_auth in ("optional", "require"):
            context.verify_mode = ssl.CERT_OPTIONAL if config.server_need_client_auth == "optional" \
                else ssl.CERT_REQUIRED
            if config.server_trust_cert_path:
                context.load_verify_locations(config.server_trust_cert_path)
            else:
                context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    elif config.server_mode == "enforcing":
        log.warning("tls.server.mode=enforcing without tls.server.certPath/keyPath: every connection is refused")
    return ServerTls(config.server_mode, context)


def grpc_server_tls(config: TlsConfig) -> ServerTls:
    """The same as ``server_tls`` for a gRPC (HTTP/2) port: its context offers ALPN ``h2``, which
    gRPC clients insist on."""
    server = server_tls(config)
    if server.context is not None:
        server.context.set_alpn_protocols(["h2"])
    return server


def client_context(config: TlsConfig) -> ssl.SSLContext | None:
    """The context clients connect with when ``tls.enable=true``; as upstream's default
    (``tls.client.authServer=false``) it does not check the server's certificate."""
    if not config.client_enable:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if config.client_auth_server:
        if config.client_trust_cert_path:
            context.load_verify_locations(config.client_trust_cert_path)
        else:
            context.load_default_certs()
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.client_cert_path and config.client_key_path:
        context.load_cert_chain(config.client_cert_path, config.client_key_path)
    return context


def insecure_client_context() -> ssl.SSLContext:
    """A client context that encrypts without checking the server (upstream's default)."""
    return client_context(TlsConfig(client_enable=True))  # type: ignore[return-value]
