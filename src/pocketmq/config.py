"""Configuration: Java-style .properties parsing and the typed configs of each process.

Keys are RocketMQ's camelCase names (``listenPort``, ``flushDiskType`` ...) so an operator's
upstream config files work unchanged. Each config is a dataclass whose field names are those
keys; values are parsed from text into the field's type (int, float, bool, str). As upstream,
unknown keys are ignored, and the same key may set several configs (e.g. ``listenPort``).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value that cannot be parsed into its key's type."""


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java .properties text: ``key=value``, ``key = value``, ``key: value``, # and ! comments,
    backslash line continuations and the common escapes."""
    result: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.lstrip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if _ends_with_continuation(line):
            pending = line[:-1]
            continue
        key, value = _split_property(line)
        result[_unescape(key)] = _unescape(value)
    if pending:
        key, value = _split_property(pending)
        result[_unescape(key)] = _unescape(value)
    return result


def _ends_with_continuation(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _split_property(line: str) -> tuple[str, str]:
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "=: \t":
            key = line[:i]
            rest = line[i:].lstrip(" \t")
            if rest[:1] in ("=", ":") and ch in " \t":
                rest = rest[1:].lstrip(" \t")
            elif ch in "=:":
                rest = line[i + 1 :].lstrip(" \t")
            return key, rest.rstrip()
        i += 1
    return line, ""


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 5 < len(text) + 0 and len(text) >= i + 6:
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def load_properties_file(path: str | os.PathLike[str]) -> dict[str, str]:
    return parse_properties(Path(path).read_text(encoding="utf-8"))


def render_properties(values: Mapping[str, Any]) -> str:
    """Render ``key=value`` lines as upstream's GET_*_CONFIG bodies do."""
    return "".join(f"{key}={format_value(value)}\n" for key, value in values.items())


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def parse_value(text: str, kind: Any, key: str) -> Any:
    """Parse ``text`` into ``kind`` (the dataclass field's type, possibly a string annotation)."""
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    text = text.strip()
    try:
        if kind_name == "bool":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            raise ValueError(text)
        if kind_name == "int":
            return int(text)
        if kind_name == "float":
            return float(text)
    except ValueError:
        raise ConfigError(f"config key {key}: cannot parse {text!r} as {kind_name}") from None
    return text


def config_keys(config_class: type) -> list[str]:
    return [field.name for field in dataclasses.fields(config_class)]


def apply_properties(config: T, values: Mapping[str, str]) -> T:
    """Set every known key of ``values`` on ``config`` (parsed to the field type); ignore the rest."""
    fields = {field.name: field for field in dataclasses.fields(config)}  # type: ignore[arg-type]
    for key, text in values.items():
        field = fields.get(key)
        if field is not None:
            value = parse_value(text, field.type, key)
            if key in getattr(config, "PATH_KEYS", ()) and value:
                value = os.path.expandvars(os.path.expanduser(value))  # `~/store/broker-a` in presets
            setattr(config, key, value)
    return config


def config_items(config: Any) -> dict[str, Any]:
    return {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}


def parse_cli_overrides(args: Iterable[str]) -> dict[str, str]:
    """``--key=value`` (or ``--key value`` is not accepted: RocketMQ style is ``--key=value``)."""
    overrides: dict[str, str] = {}
    for arg in args:
        if not arg.startswith("--") or "=" not in arg:
            raise ConfigError(f"unrecognized option {arg!r}; overrides are written --<configKey>=<value>")
        key, value = arg[2:].split("=", 1)
        overrides[key] = value
    return overrides


def home_dir() -> str:
    return os.environ.get("HOME") or str(Path.home())


def local_address() -> str:
    """The first non-loopback IPv4 address, as upstream's ``RemotingUtil.getLocalAddress``;
    127.0.0.1 when the machine has none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # no packet is sent for a UDP connect
            address = probe.getsockname()[0]
            if address and not address.startswith("127."):
                return address
    except OSError:
        pass
    return "127.0.0.1"


def split_namesrv_addr(text: str | None) -> list[str]:
    """``host:port;host:port`` (upstream) or ``host:port,host:port`` (the seed's form)."""
    if not text:
        return []
    return [part.strip() for part in text.replace(",", ";").split(";") if part.strip()]


@dataclasses.dataclass
class NamesrvConfig:
    """Name server keys (upstream NamesrvConfig + NettyServerConfig)."""

    rocketmqHome: str = dataclasses.field(default_factory=lambda: os.environ.get("ROCKETMQ_HOME", ""))
    kvConfigPath: str = dataclasses.field(
        default_factory=lambda: os.path.join(home_dir(), "namesrv", "kvConfig.json")
    )
    configStorePath: str = dataclasses.field(
        default_factory=lambda: os.path.join(home_dir(), "namesrv", "namesrv.properties")
    )
    productEnvName: str = "center"
    clusterTest: bool = False
    orderMessageEnable: bool = False
    listenPort: int = 9876
    serverWorkerThreads: int = 8
    serverSelectorThreads: int = 3
    serverChannelMaxIdleTimeSeconds: int = 120
    scanNotActiveBrokerInterval: int = 10000
    brokerChannelExpiredTime: int = 120000
    maxFrameLength: int = 16 * 1024 * 1024
    logDir: str = dataclasses.field(default_factory=lambda: os.path.join(home_dir(), "logs", "rocketmqlogs"))
    # PocketMQ: plain ACL on the name server (${rocketmqHome}/conf/plain_acl.yml, docs/security.md).
    aclEnable: bool = False
    # PocketMQ: whether path/port/role/ACL keys may change over the network (admin accounts only).
    sensitiveConfigUpdateEnable: bool = True
    # Prometheus metrics, as the broker's (RocketMQ 5 keys): PROM serves /metrics, DISABLE does not.
    metricsExporterType: str = "DISABLE"
    metricsPromExporterHost: str = ""
    metricsPromExporterPort: int = 5557
    # RocketMQ 5: host a controller (controller mode, RIP-44) in this process, on its own port
    # (controllerDLegerPeers/controllerListenPort); its keys are read from the same file.
    enableControllerInNamesrv: bool = False

    # Keys that UPDATE_NAMESRV_CONFIG must refuse (upstream configBlackList).
    configBlackList: str = "configBlackList;configStorePath;kvConfigPath;rocketmqHome"

    IMPORTANT_KEYS = ("rocketmqHome", "kvConfigPath", "listenPort", "orderMessageEnable")


@dataclasses.dataclass
class ConsoleConfig:
    """``mqconsole`` keys: where the cluster is and where the console listens."""

    namesrvAddr: str = dataclasses.field(default_factory=lambda: os.environ.get("NAMESRV_ADDR", ""))
    consolePort: int = 8082
    consoleHost: str = "0.0.0.0"
    consoleAdminTimeoutMillis: int = 3000
    consoleReadOnly: bool = False  # true: pages only; every change (create, delete, reset, send) refused
    # The account the console signs its admin requests with when the cluster has ACL on, and TLS to it.
    consoleAccessKey: str = ""
    consoleSecretKey: str = ""
    consoleUseTLS: bool = False
    logDir: str = dataclasses.field(default_factory=lambda: os.path.join(home_dir(), "logs", "rocketmqlogs"))

    IMPORTANT_KEYS = ("namesrvAddr", "consolePort", "consoleHost")


def _store_root() -> str:
    return os.path.join(home_dir(), "store")


@dataclasses.dataclass
class MessageStoreConfig:
    """Store keys (upstream MessageStoreConfig), 4.9.8 names and defaults."""

    PATH_KEYS = ("storePathRootDir", "storePathCommitLog")  # `~` and $VARS expanded on load

    storePathRootDir: str = dataclasses.field(default_factory=_store_root)
    storePathCommitLog: str = ""  # empty: <storePathRootDir>/commitlog
    mappedFileSizeCommitLog: int = 1024 * 1024 * 1024
    mappedFileSizeConsumeQueue: int = 300000 * 20
    flushDiskType: str = "ASYNC_FLUSH"  # or SYNC_FLUSH
    flushIntervalCommitLog: int = 500
    flushCommitLogLeastPages: int = 4
    flushCommitLogThoroughInterval: int = 10000
    flushIntervalConsumeQueue: int = 1000
    flushConsumeQueueLeastPages: int = 2
    flushConsumeQueueThoroughInterval: int = 60000
    syncFlushTimeout: int = 5000
    fileReservedTime: int = 72
    deleteWhen: str = "04"
    diskMaxUsedSpaceRatio: int = 75
    maxMessageSize: int = 1024 * 1024 * 4
    messageIndexEnable: bool = True
    messageIndexSafe: bool = False
    maxHashSlotNum: int = 5000000
    maxIndexNum: int = 5000000 * 4
    maxMsgsNumBatch: int = 64
    brokerRole: str = "ASYNC_MASTER"  # ASYNC_MASTER, SYNC_MASTER or SLAVE
    haListenPort: int = 10912
    haSendHeartbeatInterval: int = 5000
    haHousekeepingInterval: int = 20000
    haTransferBatchSize: int = 32768
    haSlaveFallbehindMax: int = 256 * 1024 * 1024
    haMasterAddress: str = ""
    # PocketMQ: a secret a slave must prove it knows before the master streams the commit log
    # (set the same on master and slaves; empty: off, so Apache slaves still connect).
    haSharedSecret: str = ""
    slaveTimeout: int = 3000
    messageDelayLevel: str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
    # Timer messages (RIP-43, upstream 5.x names and defaults): the wheel's slot width, the
    # furthest delivery time accepted, and whether timer messages are accepted at all.
    timerWheelEnable: bool = True
    timerPrecisionMs: int = 1000
    timerMaxDelaySec: int = 3 * 24 * 3600
    timerFlushIntervalMs: int = 1000
    accessMessageInMemoryMaxRatio: int = 40
    maxTransferBytesOnMessageInMemory: int = 256 * 1024
    maxTransferCountOnMessageInMemory: int = 32
    maxTransferBytesOnMessageInDisk: int = 64 * 1024
    maxTransferCountOnMessageInDisk: int = 8
    offsetCheckInSlave: bool = False
    defaultQueryMaxNum: int = 32
    cleanResourceInterval: int = 10000
    deleteCommitLogFilesInterval: int = 100
    deleteConsumeQueueFilesInterval: int = 100
    destroyMapedFileIntervalForcibly: int = 120000
    redeleteHangedFileInterval: int = 120000
    checkCRCOnRecover: bool = True
    warmMapedFileEnable: bool = False
    duplicationEnable: bool = False
    diskFallRecorded: bool = True
    transientStorePoolEnable: bool = False
    # Upstream system properties rocketmq.broker.diskSpaceWarningLevelRatio / ...CleanForciblyRatio
    # (percent): above the warning level the store refuses writes; above the forcible level
    # retention deletes files regardless of age.
    diskSpaceWarningLevelRatio: int = 90
    diskSpaceCleanForciblyRatio: int = 85
    cleanFileForciblyEnable: bool = True
    # Controller mode (RocketMQ 5, upstream names and defaults): how many replicas (master
    # included) must hold a message before a send is acknowledged, whether every member of the
    # SyncStateSet must, the floor below which sends are refused, and how long a slave may lag
    # before the master drops it from the SyncStateSet.
    inSyncReplicas: int = 1
    minInSyncReplicas: int = 1
    allAckInSyncStateSet: bool = False
    haMaxTimeSlaveNotCatchup: int = 15000
    readUnCommitted: bool = False  # controller mode: let consumers read beyond the confirm offset
    # Test-only (not upstream; off by default): a slave truncating its store for a new master
    # stops, the first time it reaches a step whose name starts with this text (see
    # store/truncation.py for the step names), for truncationTestPauseMillis, blocking the broker,
    # so the fault tests can kill another broker at that exact point of the truncation.
    truncationTestPauseAtStep: str = ""
    truncationTestPauseMillis: int = 5000

    def commit_log_dir(self) -> str:
        return self.storePathCommitLog or os.path.join(self.storePathRootDir, "commitlog")

    def is_sync_flush(self) -> bool:
        return self.flushDiskType == "SYNC_FLUSH"


@dataclasses.dataclass
class BrokerConfig:
    """Broker keys (upstream BrokerConfig + NettyServerConfig), 4.9.8 names and defaults."""

    rocketmqHome: str = dataclasses.field(default_factory=lambda: os.environ.get("ROCKETMQ_HOME", ""))
    namesrvAddr: str = dataclasses.field(default_factory=lambda: os.environ.get("NAMESRV_ADDR", ""))
    brokerIP1: str = dataclasses.field(default_factory=local_address)
    brokerIP2: str = ""  # empty: same as brokerIP1
    brokerName: str = dataclasses.field(default_factory=socket.gethostname)
    brokerClusterName: str = "DefaultCluster"
    brokerId: int = 0
    brokerPermission: int = 6
    listenPort: int = 10911
    defaultTopicQueueNums: int = 8
    autoCreateTopicEnable: bool = True
    clusterTopicEnable: bool = True
    brokerTopicEnable: bool = True
    autoCreateSubscriptionGroup: bool = True
    messageStorePlugIn: str = ""
    sendMessageThreadPoolNums: int = 4
    pullMessageThreadPoolNums: int = 20
    sendThreadPoolQueueCapacity: int = 10000
    pullThreadPoolQueueCapacity: int = 100000
    flushConsumerOffsetInterval: int = 5000
    rejectTransactionMessage: bool = False
    fetchNamesrvAddrByAddressServer: bool = False
    registerNameServerPeriod: int = 30000
    registerBrokerTimeoutMills: int = 6000
    forceRegister: bool = True
    compressedRegister: bool = False
    longPollingEnable: bool = True
    shortPollingTimeMills: int = 1000
    brokerSuspendMaxTimeMillis: int = 15000
    slaveReadEnable: bool = False
    transferMsgByHeap: bool = True
    traceOn: bool = True
    regionId: str = "DefaultRegion"
    transactionTimeOut: int = 6000
    transactionCheckMax: int = 15
    transactionCheckInterval: int = 60000
    enablePropertyFilter: bool = False
    filterSupportRetry: bool = False
    startAcceptSendRequestTimeStamp: int = 0
    aclEnable: bool = False
    # PocketMQ: the account this broker signs its own requests with (name server registration,
    # slave sync), for name servers and masters running with aclEnable=true. Empty: unsigned.
    aclAccessKey: str = ""
    aclSecretKey: str = ""
    # PocketMQ: whether path/port/role/ACL keys may change over the network (admin accounts only).
    sensitiveConfigUpdateEnable: bool = True
    waitTimeMillsInSendQueue: int = 200
    serverChannelMaxIdleTimeSeconds: int = 120
    maxFrameLength: int = 16 * 1024 * 1024
    logDir: str = dataclasses.field(default_factory=lambda: os.path.join(home_dir(), "logs", "rocketmqlogs"))
    brokerConfigPath: str = ""
    configBlackList: str = "configBlackList;brokerConfigPath;rocketmqHome"
    # Prometheus metrics (RocketMQ 5 keys): PROM serves /metrics on metricsPromExporterHost
    # (default brokerIP1):metricsPromExporterPort; DISABLE (default) does not.
    metricsExporterType: str = "DISABLE"
    metricsPromExporterHost: str = ""
    metricsPromExporterPort: int = 5557
    # Controller mode (RocketMQ 5, RIP-44; upstream names and defaults): the broker set's master
    # is chosen by the controllers at controllerAddr ("host:port;host:port"), not by brokerId.
    enableControllerMode: bool = False
    controllerAddr: str = ""
    syncBrokerMetadataPeriod: int = 5000
    checkSyncStateSetPeriod: int = 5000
    syncControllerMetadataPeriod: int = 10000
    controllerHeartBeatTimeoutMills: int = 10000
    brokerHeartbeatInterval: int = 1000
    sendHeartbeatTimeoutMillis: int = 1000
    brokerElectionPriority: int = 2**31 - 1
    # POP (RocketMQ 5, upstream names and defaults): held long-polling pops/notifications, over
    # the whole broker and per topic@group@queueId, beyond which a pop answers POLLING_FULL; and
    # whether a message popped from the POP retry topic keeps that topic in the answer (false:
    # rewritten to the topic asked for, with its receipt in the POP_CK property).
    maxPopPollingSize: int = 100000
    popPollingSize: int = 1024
    popResponseReturnActualRetryTopic: bool = False
    # RocketMQ 5: whether a topic may be created with message.type=MIXED (upstream default false).
    enableMixedMessageType: bool = False

    IMPORTANT_KEYS = ("brokerClusterName", "brokerName", "brokerId", "brokerIP1", "listenPort",
                      "namesrvAddr", "autoCreateTopicEnable", "brokerPermission")

    def fast_port(self) -> int:
        return self.listenPort - 2

    def ha_ip(self) -> str:
        return self.brokerIP2 or self.brokerIP1

    def broker_addr(self) -> str:
        return f"{self.brokerIP1}:{self.listenPort}"
