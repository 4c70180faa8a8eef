"""RocketMQ 5 controller mode (RIP-44) on the wire: request and response codes, custom headers
and JSON bodies, as upstream 5.3.3 spells them (remoting/protocol/header/controller/,
header/namesrv/BrokerHeartbeatRequestHeader, header/NotifyBrokerRoleChangedRequestHeader,
body/SyncStateSet, body/ElectMasterResponseBody, body/BrokerMemberGroup, body/BrokerReplicasInfo,
body/EpochEntryCache, EpochEntry).

Sans-IO: headers are dataclasses for ``remoting.header.decode_header``/``encode_header``; bodies
are dataclasses with ``encode() -> bytes`` and ``decode(bytes) -> Self`` over fastjson's dialect.
A Java ``Integer``/``int`` field is ``Int32``; a Java ``Long``/``long`` field is ``int``. Decoding a
body that is not what it claims raises ``ValueError`` (processors answer it with an error code).
Both the controller (room ``controller``) and brokers in controller mode use this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from pocketmq.protocol import fastjson
from pocketmq.remoting.header import Int32

FIRST_BROKER_CONTROLLER_ID = 1
"""MixAll.FIRST_BROKER_CONTROLLER_ID: the first brokerId a controller hands out in a set."""

DEFAULT_BROKER_CHANNEL_EXPIRED_TIME_MS = 10_000
"""BrokerHeartbeatManager.DEFAULT_BROKER_CHANNEL_EXPIRED_TIME: a heartbeat without
heartbeatTimeoutMills keeps a broker alive this long."""

DEFAULT_CONTROLLER_PORT = 9878


class ControllerRequestCode(IntEnum):
    """Upstream RequestCode values of controller mode (5.3.3)."""

    GET_BROKER_MEMBER_GROUP = 901
    BROKER_HEARTBEAT = 904
    CONTROLLER_ALTER_SYNC_STATE_SET = 1001
    CONTROLLER_ELECT_MASTER = 1002
    CONTROLLER_REGISTER_BROKER = 1003
    CONTROLLER_GET_REPLICA_INFO = 1004
    CONTROLLER_GET_METADATA_INFO = 1005
    CONTROLLER_GET_SYNC_STATE_DATA = 1006
    GET_BROKER_EPOCH_CACHE = 1007
    NOTIFY_BROKER_ROLE_CHANGED = 1008
    UPDATE_CONTROLLER_CONFIG = 1009
    GET_CONTROLLER_CONFIG = 1010
    CLEAN_BROKER_DATA = 1011
    CONTROLLER_GET_NEXT_BROKER_ID = 1012
    CONTROLLER_APPLY_BROKER_ID = 1013


class ControllerResponseCode(IntEnum):
    """Upstream ResponseCode values of controller mode (5.3.3)."""

    CONTROLLER_FENCED_MASTER_EPOCH = 2000
    CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH = 2001
    CONTROLLER_INVALID_MASTER = 2002
    CONTROLLER_INVALID_REPLICAS = 2003
    CONTROLLER_MASTER_NOT_AVAILABLE = 2004
    CONTROLLER_INVALID_REQUEST = 2005
    CONTROLLER_BROKER_NOT_ALIVE = 2006
    CONTROLLER_NOT_LEADER = 2007
    CONTROLLER_BROKER_METADATA_NOT_EXIST = 2008
    CONTROLLER_INVALID_CLEAN_BROKER_METADATA = 2009
    CONTROLLER_BROKER_NEED_TO_BE_REGISTERED = 2010
    CONTROLLER_MASTER_STILL_EXIST = 2011
    CONTROLLER_ELECT_MASTER_FAILED = 2012
    CONTROLLER_ALTER_SYNC_STATE_SET_FAILED = 2013
    CONTROLLER_BROKER_ID_INVALID = 2014
    CONTROLLER_JRAFT_INTERNAL_ERROR = 2015
    CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS = 2016


# ------------------------------------------------------------------------------------ headers
@dataclass(slots=True)
class AlterSyncStateSetRequestHeader:
    brokerName: str | None = None
    masterBrokerId: int | None = None
    masterEpoch: Int32 | None = None
    invokeTime: int = 0


@dataclass(slots=True)
class AlterSyncStateSetResponseHeader:
    newSyncStateSetEpoch: Int32 = 0


@dataclass(slots=True)
class ElectMasterRequestHeader:
    """``brokerId`` -1 with ``designateElect`` false is the controller's own trigger
    (ofControllerTrigger); a broker sends its own id (ofBrokerTrigger); an admin sends the
    designated id with ``designateElect`` true (ofAdminTrigger)."""

    clusterName: str
    brokerName: str
    brokerId: int
    designateElect: bool
    invokeTime: int | None = None


@dataclass(slots=True)
class ElectMasterResponseHeader:
    masterBrokerId: int | None = None
    masterAddress: str | None = None
    masterEpoch: Int32 | None = None
    syncStateSetEpoch: Int32 | None = None


@dataclass(slots=True)
class GetMetaDataResponseHeader:
    group: str | None = None
    controllerLeaderId: str | None = None
    controllerLeaderAddress: str | None = None
    isLeader: bool = False
    peers: str | None = None


@dataclass(slots=True)
class GetReplicaInfoRequestHeader:
    brokerName: str | None = None


@dataclass(slots=True)
class GetReplicaInfoResponseHeader:
    masterBrokerId: int | None = None
    masterAddress: str | None = None
    masterEpoch: Int32 | None = None


@dataclass(slots=True)
class CleanControllerBrokerDataRequestHeader:
    brokerName: str
    clusterName: str | None = None
    brokerControllerIdsToClean: str | None = None
    isCleanLivingBroker: bool = False
    invokeTime: int = 0


@dataclass(slots=True)
class ApplyBrokerIdRequestHeader:
    """``registerCheckCode`` is ``<brokerAddress>;<timestamp>`` (the broker's temp metadata)."""

    clusterName: str | None = None
    brokerName: str | None = None
    appliedBrokerId: int | None = None
    registerCheckCode: str | None = None


@dataclass(slots=True)
class ApplyBrokerIdResponseHeader:
    clusterName: str | None = None
    brokerName: str | None = None


@dataclass(slots=True)
class GetNextBrokerIdRequestHeader:
    clusterName: str | None = None
    brokerName: str | None = None


@dataclass(slots=True)
class GetNextBrokerIdResponseHeader:
    clusterName: str | None = None
    brokerName: str | None = None
    nextBrokerId: int | None = None


@dataclass(slots=True)
class RegisterBrokerToControllerRequestHeader:
    clusterName: str | None = None
    brokerName: str | None = None
    brokerId: int | None = None
    brokerAddress: str | None = None
    invokeTime: int = 0


@dataclass(slots=True)
class RegisterBrokerToControllerResponseHeader:
    clusterName: str | None = None
    brokerName: str | None = None
    masterBrokerId: int | None = None
    masterAddress: str | None = None
    masterEpoch: Int32 | None = None
    syncStateSetEpoch: Int32 | None = None


@dataclass(slots=True)
class BrokerHeartbeatRequestHeader:
    """BROKER_HEARTBEAT (904), sent by a broker in controller mode to the controller (and to
    name servers). A missing brokerId is refused with CONTROLLER_INVALID_REQUEST."""

    clusterName: str
    brokerAddr: str
    brokerName: str
    brokerId: int | None = None
    epoch: Int32 | None = None
    maxOffset: int | None = None
    confirmOffset: int | None = None
    heartbeatTimeoutMills: int | None = None
    electionPriority: Int32 | None = None


@dataclass(slots=True)
class NotifyBrokerRoleChangedRequestHeader:
    """NOTIFY_BROKER_ROLE_CHANGED (1008): controller -> broker, oneway, body a SyncStateSet."""

    masterAddress: str | None = None
    masterEpoch: Int32 | None = None
    syncStateSetEpoch: Int32 | None = None
    masterBrokerId: int | None = None


# ------------------------------------------------------------------------------------- bodies
def _object(data: bytes | bytearray | memoryview | None, name: str) -> dict[Any, Any]:
    if not data:
        raise ValueError(f"{name} body is empty")
    value = fastjson.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"{name} body is not a JSON object")
    return value


def _int(value: Any, name: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} is not an integer: {value!r}")
    return value


def _optional_int(value: Any, name: str) -> int | None:
    return None if value is None else _int(value, name)


def _id_set(value: Any, name: str) -> set[int]:
    if value is None:
        return set()
    if not isinstance(value, list):
        raise ValueError(f"{name} is not a list: {value!r}")
    return {_int(item, name) for item in value}


def _optional_str(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} is not a string: {value!r}")
    return value


@dataclass(slots=True)
class SyncStateSet:
    syncStateSet: set[int] = field(default_factory=set)
    syncStateSetEpoch: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"syncStateSet": sorted(self.syncStateSet), "syncStateSetEpoch": self.syncStateSetEpoch}

    def encode(self) -> bytes:
        return fastjson.dumps(self.to_json())

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview | None) -> "SyncStateSet":
        value = _object(data, "SyncStateSet")
        return cls(_id_set(value.get("syncStateSet"), "syncStateSet"),
                   _int(value.get("syncStateSetEpoch"), "syncStateSetEpoch", 0))


@dataclass(slots=True)
class BrokerMemberGroup:
    cluster: str | None = None
    brokerName: str | None = None
    brokerAddrs: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "brokerName": self.brokerName,
                "brokerAddrs": {int(k): v for k, v in sorted(self.brokerAddrs.items())}}

    def encode(self) -> bytes:
        return fastjson.dumps(self.to_json())

    @classmethod
    def from_json(cls, value: Any) -> "BrokerMemberGroup":
        if not isinstance(value, dict):
            raise ValueError(f"brokerMemberGroup is not an object: {value!r}")
        addrs = value.get("brokerAddrs") or {}
        if not isinstance(addrs, dict):
            raise ValueError("brokerAddrs is not an object")
        return cls(_optional_str(value.get("cluster"), "cluster"),
                   _optional_str(value.get("brokerName"), "brokerName"),
                   {int(k): str(v) for k, v in addrs.items()})

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview | None) -> "BrokerMemberGroup":
        return cls.from_json(_object(data, "BrokerMemberGroup"))


@dataclass(slots=True)
class ElectMasterResponseBody:
    brokerMemberGroup: BrokerMemberGroup | None = None
    syncStateSet: set[int] = field(default_factory=set)

    def encode(self) -> bytes:
        value: dict[str, Any] = {"syncStateSet": sorted(self.syncStateSet)}
        if self.brokerMemberGroup is not None:
            value["brokerMemberGroup"] = self.brokerMemberGroup.to_json()
        return fastjson.dumps(value)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview | None) -> "ElectMasterResponseBody":
        value = _object(data, "ElectMasterResponseBody")
        group = value.get("brokerMemberGroup")
        return cls(None if group is None else BrokerMemberGroup.from_json(group),
                   _id_set(value.get("syncStateSet"), "syncStateSet"))


@dataclass(slots=True)
class ReplicaIdentity:
    brokerName: str
    brokerId: int
    brokerAddress: str | None
    alive: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {"brokerName": self.brokerName, "brokerId": self.brokerId,
                "brokerAddress": self.brokerAddress, "alive": self.alive}

    @classmethod
    def from_json(cls, value: Any) -> "ReplicaIdentity":
        if not isinstance(value, dict):
            raise ValueError(f"replica is not an object: {value!r}")
        alive = value.get("alive")
        return cls(str(value.get("brokerName")), _int(value.get("brokerId"), "brokerId"),
                   _optional_str(value.get("brokerAddress"), "brokerAddress"),
                   None if alive is None else bool(alive))


@dataclass(slots=True)
class ReplicasInfo:
    masterBrokerId: int | None = None
    masterAddress: str | None = None
    masterEpoch: int = 0
    syncStateSetEpoch: int = 0
    inSyncReplicas: list[ReplicaIdentity] = field(default_factory=list)
    notInSyncReplicas: list[ReplicaIdentity] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"masterBrokerId": self.masterBrokerId, "masterAddress": self.masterAddress,
                "masterEpoch": self.masterEpoch, "syncStateSetEpoch": self.syncStateSetEpoch,
                "inSyncReplicas": [r.to_json() for r in self.inSyncReplicas],
                "notInSyncReplicas": [r.to_json() for r in self.notInSyncReplicas]}

    @classmethod
    def from_json(cls, value: Any) -> "ReplicasInfo":
        if not isinstance(value, dict):
            raise ValueError(f"replicas info is not an object: {value!r}")
        return cls(_optional_int(value.get("masterBrokerId"), "masterBrokerId"),
                   _optional_str(value.get("masterAddress"), "masterAddress"),
                   _int(value.get("masterEpoch"), "masterEpoch", 0),
                   _int(value.get("syncStateSetEpoch"), "syncStateSetEpoch", 0),
                   [ReplicaIdentity.from_json(r) for r in value.get("inSyncReplicas") or []],
                   [ReplicaIdentity.from_json(r) for r in value.get("notInSyncReplicas") or []])


@dataclass(slots=True)
class BrokerReplicasInfo:
    """Body of CONTROLLER_GET_SYNC_STATE_DATA's answer (its request body is a JSON list of
    broker names, see ``encode_broker_names``)."""

    replicasInfoTable: dict[str, ReplicasInfo] = field(default_factory=dict)

    def encode(self) -> bytes:
        return fastjson.dumps({"replicasInfoTable": {k: v.to_json() for k, v in self.replicasInfoTable.items()}})

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview | None) -> "BrokerReplicasInfo":
        value = _object(data, "BrokerReplicasInfo")
        table = value.get("replicasInfoTable") or {}
        if not isinstance(table, dict):
            raise ValueError("replicasInfoTable is not an object")
        return cls({str(k): ReplicasInfo.from_json(v) for k, v in table.items()})


def encode_broker_names(names: list[str]) -> bytes:
    return fastjson.dumps(list(names))


def decode_broker_names(data: bytes | bytearray | memoryview | None) -> list[str]:
    """The CONTROLLER_GET_SYNC_STATE_DATA request body; empty or absent -> []."""
    if not data:
        return []
    value = fastjson.loads(data)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("the body is not a JSON list of broker names")
    return value


JAVA_LONG_MAX = (1 << 63) - 1


@dataclass(slots=True)
class EpochEntry:
    epoch: int
    startOffset: int
    endOffset: int = JAVA_LONG_MAX

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "startOffset": self.startOffset, "endOffset": self.endOffset}

    @classmethod
    def from_json(cls, value: Any) -> "EpochEntry":
        if not isinstance(value, dict):
            raise ValueError(f"epoch entry is not an object: {value!r}")
        return cls(_int(value.get("epoch"), "epoch"), _int(value.get("startOffset"), "startOffset"),
                   _int(value.get("endOffset"), "endOffset", JAVA_LONG_MAX))


@dataclass(slots=True)
class EpochEntryCache:
    """Body of GET_BROKER_EPOCH_CACHE's answer (a broker's epoch file, for mqadmin)."""

    clusterName: str | None = None
    brokerName: str | None = None
    brokerId: int = 0
    epochList: list[EpochEntry] = field(default_factory=list)
    maxOffset: int = 0

    def encode(self) -> bytes:
        return fastjson.dumps({"clusterName": self.clusterName, "brokerName": self.brokerName,
                               "brokerId": self.brokerId, "maxOffset": self.maxOffset,
                               "epochList": [e.to_json() for e in self.epochList]})

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview | None) -> "EpochEntryCache":
        value = _object(data, "EpochEntryCache")
        return cls(_optional_str(value.get("clusterName"), "clusterName"),
                   _optional_str(value.get("brokerName"), "brokerName"),
                   _int(value.get("brokerId"), "brokerId", 0),
                   [EpochEntry.from_json(e) for e in value.get("epochList") or []],
                   _int(value.get("maxOffset"), "maxOffset", 0))


def register_check_code(broker_address: str, timestamp_ms: int) -> str:
    """The ``registerCheckCode`` a broker sends with APPLY_BROKER_ID: ``addr;timestamp``."""
    return f"{broker_address};{timestamp_ms}"
