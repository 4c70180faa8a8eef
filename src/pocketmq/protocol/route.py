"""Route and registration bodies: DataVersion, TopicConfig, QueueData, BrokerData,
TopicRouteData, ClusterInfo and RegisterBrokerBody (plain and compressed), with upstream's
JSON field names (reference section 3.11)."""

from __future__ import annotations

import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from pocketmq.protocol import fastjson

PERM_PRIORITY = 8
PERM_READ = 4
PERM_WRITE = 2
PERM_INHERIT = 1

MASTER_ID = 0


def perm_to_string(perm: int) -> str:
    return ("R" if perm & PERM_READ else "-") + ("W" if perm & PERM_WRITE else "-") + (
        "X" if perm & PERM_INHERIT else "-")


def is_readable(perm: int) -> bool:
    return bool(perm & PERM_READ)


def is_writeable(perm: int) -> bool:
    return bool(perm & PERM_WRITE)


@dataclass(slots=True)
class DataVersion:
    timestamp: int = field(default_factory=lambda: int(time.time() * 1000))
    counter: int = 0

    def next_version(self) -> None:
        self.timestamp = int(time.time() * 1000)
        self.counter += 1

    def to_dict(self) -> dict[str, Any]:
        return {"counter": self.counter, "timestamp": self.timestamp}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "DataVersion":
        data = data or {}
        return cls(timestamp=int(data.get("timestamp", 0)), counter=int(data.get("counter", 0)))


@dataclass(slots=True)
class TopicConfig:
    topicName: str
    readQueueNums: int = 16
    writeQueueNums: int = 16
    perm: int = PERM_READ | PERM_WRITE
    topicFilterType: str = "SINGLE_TAG"
    topicSysFlag: int = 0
    order: bool = False
    attributes: dict[str, str] = field(default_factory=dict)  # RocketMQ 5, e.g. {"message.type": "FIFO"}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"order": self.order, "perm": self.perm, "readQueueNums": self.readQueueNums,
                               "topicFilterType": self.topicFilterType, "topicName": self.topicName,
                               "topicSysFlag": self.topicSysFlag, "writeQueueNums": self.writeQueueNums}
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TopicConfig":
        return cls(topicName=str(data["topicName"]), readQueueNums=int(data.get("readQueueNums", 16)),
                   writeQueueNums=int(data.get("writeQueueNums", 16)), perm=int(data.get("perm", 6)),
                   topicFilterType=str(data.get("topicFilterType", "SINGLE_TAG")),
                   topicSysFlag=int(data.get("topicSysFlag", 0)), order=bool(data.get("order", False)),
                   attributes={str(k): str(v) for k, v in (data.get("attributes") or {}).items()})


@dataclass(slots=True)
class QueueData:
    brokerName: str
    readQueueNums: int
    writeQueueNums: int
    perm: int
    topicSysFlag: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"brokerName": self.brokerName, "perm": self.perm, "readQueueNums": self.readQueueNums,
                "topicSysFlag": self.topicSysFlag, "writeQueueNums": self.writeQueueNums}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QueueData":
        return cls(brokerName=str(data["brokerName"]), readQueueNums=int(data.get("readQueueNums", 0)),
                   writeQueueNums=int(data.get("writeQueueNums", 0)), perm=int(data.get("perm", 6)),
                   topicSysFlag=int(data.get("topicSysFlag", 0)))


@dataclass(slots=True)
class BrokerData:
    cluster: str
    brokerName: str
    brokerAddrs: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"brokerAddrs": {str(k): v for k, v in sorted(self.brokerAddrs.items())},
                "brokerName": self.brokerName, "cluster": self.cluster}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BrokerData":
        addrs = {int(k): str(v) for k, v in (data.get("brokerAddrs") or {}).items()}
        return cls(cluster=str(data.get("cluster", "")), brokerName=str(data["brokerName"]), brokerAddrs=addrs)

    def master_addr(self) -> str | None:
        return self.brokerAddrs.get(MASTER_ID)


@dataclass(slots=True)
class TopicRouteData:
    queueDatas: list[QueueData] = field(default_factory=list)
    brokerDatas: list[BrokerData] = field(default_factory=list)
    orderTopicConf: str | None = None
    filterServerTable: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "brokerDatas": [b.to_dict() for b in self.brokerDatas],
            "filterServerTable": self.filterServerTable,
            "queueDatas": [q.to_dict() for q in self.queueDatas],
        }
        if self.orderTopicConf is not None:
            data["orderTopicConf"] = self.orderTopicConf
        return data

    def encode(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def decode(cls, body: bytes) -> "TopicRouteData":
        data = fastjson.loads(body)
        return cls(queueDatas=[QueueData.from_dict(q) for q in data.get("queueDatas") or []],
                   brokerDatas=[BrokerData.from_dict(b) for b in data.get("brokerDatas") or []],
                   orderTopicConf=data.get("orderTopicConf"),
                   filterServerTable=data.get("filterServerTable") or {})


@dataclass(slots=True)
class ClusterInfo:
    brokerAddrTable: dict[str, BrokerData] = field(default_factory=dict)
    clusterAddrTable: dict[str, list[str]] = field(default_factory=dict)

    def encode(self) -> bytes:
        return orjson.dumps({
            "brokerAddrTable": {name: b.to_dict() for name, b in self.brokerAddrTable.items()},
            "clusterAddrTable": {name: sorted(brokers) for name, brokers in self.clusterAddrTable.items()},
        })

    @classmethod
    def decode(cls, body: bytes) -> "ClusterInfo":
        data = fastjson.loads(body)
        return cls(brokerAddrTable={name: BrokerData.from_dict(b) for name, b in (data.get("brokerAddrTable") or {}).items()},
                   clusterAddrTable={name: list(v) for name, v in (data.get("clusterAddrTable") or {}).items()})


@dataclass(slots=True)
class TopicConfigWrapper:
    """TopicConfigSerializeWrapper: the topic table a broker registers, with its data version."""

    topicConfigTable: dict[str, TopicConfig] = field(default_factory=dict)
    dataVersion: DataVersion = field(default_factory=DataVersion)

    def to_dict(self) -> dict[str, Any]:
        return {"dataVersion": self.dataVersion.to_dict(),
                "topicConfigTable": {name: tc.to_dict() for name, tc in self.topicConfigTable.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TopicConfigWrapper":
        table = {name: TopicConfig.from_dict(tc) for name, tc in (data.get("topicConfigTable") or {}).items()}
        return cls(topicConfigTable=table, dataVersion=DataVersion.from_dict(data.get("dataVersion")))


@dataclass(slots=True)
class RegisterBrokerBody:
    topicConfigSerializeWrapper: TopicConfigWrapper = field(default_factory=TopicConfigWrapper)
    filterServerList: list[str] = field(default_factory=list)

    def encode(self, compressed: bool = False) -> bytes:
        if compressed:
            return self._encode_compressed()
        return orjson.dumps({"filterServerList": self.filterServerList,
                             "topicConfigSerializeWrapper": self.topicConfigSerializeWrapper.to_dict()})

    @classmethod
    def decode(cls, body: bytes, compressed: bool = False) -> "RegisterBrokerBody":
        if compressed:
            return cls._decode_compressed(body)
        data = fastjson.loads(body)
        if "topicConfigSerializeWrapper" not in data and "topicConfigTable" in data:
            # Brokers older than V3_0_11 send a bare TopicConfigSerializeWrapper.
            return cls(topicConfigSerializeWrapper=TopicConfigWrapper.from_dict(data))
        return cls(topicConfigSerializeWrapper=TopicConfigWrapper.from_dict(data.get("topicConfigSerializeWrapper") or {}),
                   filterServerList=list(data.get("filterServerList") or []))

    def _encode_compressed(self) -> bytes:
        wrapper = self.topicConfigSerializeWrapper
        out = bytearray()
        _put_sized(out, orjson.dumps(wrapper.dataVersion.to_dict()))
        out += struct.pack(">i", len(wrapper.topicConfigTable))
        for tc in wrapper.topicConfigTable.values():
            text = f"{tc.topicName} {tc.readQueueNums} {tc.writeQueueNums} {tc.perm} {tc.topicFilterType}"
            _put_sized(out, text.encode())
        _put_sized(out, orjson.dumps(self.filterServerList))
        return zlib.compress(bytes(out), 9)

    @classmethod
    def _decode_compressed(cls, body: bytes) -> "RegisterBrokerBody":
        data = memoryview(zlib.decompress(body))
        version_json, pos = _get_sized(data, 0)
        (count,) = struct.unpack_from(">i", data, pos)
        pos += 4
        table: dict[str, TopicConfig] = {}
        for _ in range(count):
            text, pos = _get_sized(data, pos)
            name, read, write, perm, filter_type = text.decode().split(" ")
            table[name] = TopicConfig(name, int(read), int(write), int(perm), filter_type)
        filters_json, pos = _get_sized(data, pos)
        return cls(TopicConfigWrapper(table, DataVersion.from_dict(orjson.loads(version_json))),
                   list(orjson.loads(filters_json)))


def _put_sized(out: bytearray, data: bytes) -> None:
    out += struct.pack(">i", len(data)) + data


def _get_sized(data: memoryview, pos: int) -> tuple[bytes, int]:
    (size,) = struct.unpack_from(">i", data, pos)
    if size < 0 or pos + 4 + size > len(data):
        raise ValueError("compressed register body is truncated")
    return bytes(data[pos + 4:pos + 4 + size]), pos + 4 + size


def kv_table(table: dict[str, str]) -> bytes:
    return orjson.dumps({"table": table})


def topic_list(topics: list[str] | set[str], broker_addr: str | None = None) -> bytes:
    data: dict[str, Any] = {"topicList": sorted(topics)}
    if broker_addr is not None:
        data["brokerAddr"] = broker_addr
    return orjson.dumps(data)
