"""ProxyConfig: the gRPC endpoint's keys, with upstream ProxyConfig's names and defaults.

``useDelayLevel`` is off, as upstream: a gRPC ``delivery_timestamp`` goes to the broker as
``TIMER_DELIVER_MS`` and its timer wheel delivers it at that time. Turned on (for brokers without
a timer wheel, such as 4.x), it maps to the smallest of the 18 levels not earlier than it.
"""

from __future__ import annotations

import dataclasses
import os

from pocketmq.config import home_dir
from pocketmq.security.tls import TlsConfig

DEFAULT_DELAY_LEVELS = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclasses.dataclass
class ProxyConfig:
    rocketmqHome: str = dataclasses.field(default_factory=lambda: os.environ.get("ROCKETMQ_HOME", ""))
    namesrvAddr: str = dataclasses.field(default_factory=lambda: os.environ.get("NAMESRV_ADDR", ""))
    proxyMode: str = "cluster"
    grpcServerPort: int = 8081
    # The host the routes advertise as every broker's endpoint (cluster mode); empty: the host
    # the client dialled (QueryRoute's endpoints), which is what a client can reach.
    proxyAdvertiseHost: str = ""
    maxMessageSize: int = 4 * 1024 * 1024
    maxUserPropertySize: int = 16 * 1024
    userPropertyMaxNum: int = 128
    enableMessageBodyEmptyCheck: bool = True
    maxDelayTimeMills: int = 24 * 3600 * 1000
    # Upstream's key (its default is true): routes advertise the topic's message.type attribute
    # (NORMAL when it has none), clients are told to validate against it, and a message of
    # another type is refused with MESSAGE_PROPERTY_CONFLICT_WITH_TYPE. PocketMQ's default is
    # false until every topic its docs and tests create carries message.type: with false, any
    # type goes to any topic, as before.
    enableTopicMessageTypeCheck: bool = False
    useDelayLevel: bool = False
    messageDelayLevel: str = DEFAULT_DELAY_LEVELS
    grpcClientProducerMaxAttempts: int = 3
    grpcClientProducerBackoffInitialMillis: int = 10
    grpcClientProducerBackoffMaxMillis: int = 1000
    grpcClientProducerBackoffMultiplier: int = 2
    grpcClientConsumerMinLongPollingTimeoutMillis: int = 5000
    grpcClientConsumerMaxLongPollingTimeoutMillis: int = 20000
    grpcClientConsumerLongPollingBatchSize: int = 32
    defaultInvisibleTimeMills: int = 60_000
    minInvisibleTimeMillsForRecv: int = 10_000
    maxInvisibleTimeMills: int = 12 * 3600 * 1000
    # Consumer-group retry policy sent to clients until groups carry their own (upstream's
    # SubscriptionGroupConfig defaults: 16 retries, exponential 1s..2h x2).
    retryMaxTimes: int = 16
    remotingTimeoutMillis: int = 3000
    # Upstream ProxyConfig's certificate and key for the gRPC port, used when the TLS keys of
    # security.tls (tls.server.certPath/keyPath) name none; empty: ${rocketmqHome}/conf/tls/
    # rocketmq.crt and rocketmq.key when both exist (upstream's default place). Unlike upstream
    # (tlsTestModeEnable), no self-signed certificate is made up.
    tlsCertPath: str = ""
    tlsKeyPath: str = ""
    # Upstream 5.1's switch for plain ACL on the gRPC endpoint (rules: ${rocketmqHome}/conf/plain_acl.yml).
    enableACL: bool = False
    # The account the proxy signs its own requests to brokers with (brokers with aclEnable=true),
    # as a broker's own aclAccessKey/aclSecretKey. Empty: unsigned.
    aclAccessKey: str = ""
    aclSecretKey: str = ""
    logDir: str = dataclasses.field(default_factory=lambda: os.path.join(home_dir(), "logs", "rocketmqlogs"))

    IMPORTANT_KEYS = ("namesrvAddr", "proxyMode", "grpcServerPort")

    def tls_files(self) -> tuple[str, str] | None:
        """(certificate, key) from tlsCertPath/tlsKeyPath or upstream's default place, if any."""
        if self.tlsCertPath and self.tlsKeyPath:
            return self.tlsCertPath, self.tlsKeyPath
        if not self.rocketmqHome:
            return None
        folder = os.path.join(self.rocketmqHome, "conf", "tls")
        cert, key = os.path.join(folder, "rocketmq.crt"), os.path.join(folder, "rocketmq.key")
        return (cert, key) if os.path.isfile(cert) and os.path.isfile(key) else None

    def grpc_tls(self, tls: TlsConfig) -> TlsConfig:
        """The TLS settings of the gRPC port: ``tls`` (security.tls keys), with this config's
        certificate when those name none."""
        files = None if tls.server_cert_path and tls.server_key_path else self.tls_files()
        if files is None:
            return tls
        return dataclasses.replace(tls, server_cert_path=files[0], server_key_path=files[1])

    def delay_levels_ms(self) -> list[int]:
        """``messageDelayLevel`` as milliseconds, level 1 first."""
        levels = []
        for item in self.messageDelayLevel.split():
            levels.append(int(item[:-1]) * _UNIT_MS[item[-1]])
        return levels

    def delay_level_for(self, delay_ms: int) -> int:
        """Upstream's computeDelayLevel: the first level longer than ``delay_ms``, else the last."""
        levels = self.delay_levels_ms()
        for index, level_ms in enumerate(levels, start=1):
            if level_ms > delay_ms:
                return index
        return len(levels)
