"""Custom headers of the name server requests (upstream common/protocol/header/namesrv)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RegisterBrokerRequestHeader:
    brokerName: str
    brokerAddr: str
    clusterName: str
    haServerAddr: str
    brokerId: int
    compressed: bool = False
    bodyCrc32: int = 0


@dataclass(slots=True)
class RegisterBrokerResponseHeader:
    haServerAddr: str | None = None
    masterAddr: str | None = None


@dataclass(slots=True)
class UnRegisterBrokerRequestHeader:
    brokerName: str
    brokerAddr: str
    clusterName: str
    brokerId: int


@dataclass(slots=True)
class QueryDataVersionRequestHeader:
    brokerName: str
    brokerAddr: str
    clusterName: str
    brokerId: int


@dataclass(slots=True)
class GetRouteInfoRequestHeader:
    topic: str
    acceptStandardJsonOnly: bool = False


@dataclass(slots=True)
class PutKVConfigRequestHeader:
    namespace: str
    key: str
    value: str


@dataclass(slots=True)
class GetKVConfigRequestHeader:
    namespace: str
    key: str


@dataclass(slots=True)
class GetKVListByNamespaceRequestHeader:
    namespace: str


@dataclass(slots=True)
class GetTopicsByClusterRequestHeader:
    cluster: str


@dataclass(slots=True)
class WipeWritePermOfBrokerRequestHeader:
    brokerName: str


@dataclass(slots=True)
class DeleteTopicFromNamesrvRequestHeader:
    topic: str
    clusterName: str | None = None
