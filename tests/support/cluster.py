"""Broker sets for replication tests: a master and its slave as real `mqbroker` processes, and
small probes over the wire (runtime info, raw sends and pulls, commit-log comparison).

    ns = start_namesrv(tmp / "ns")
    master = start_master(tmp / "a", ns.addr, role="SYNC_MASTER")
    slave = start_slave(tmp / "a-s", ns.addr)
    wait_replicated(master, slave)
    assert commit_log_bytes(master) == commit_log_bytes(slave)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson

from pocketmq.protocol import message as pm
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.processes import Broker, start_broker, wait_until
from tests.support.rpc import call

# Small files and short HA timers keep fault tests quick; the protocol is unchanged.
FAST_HA = {"mappedFileSizeCommitLog": 1024 * 1024, "haHousekeepingInterval": 6000,
           "haSendHeartbeatInterval": 1000, "registerNameServerPeriod": 10000}


def start_master(home: Path, namesrv: str, name: str = "broker-a", role: str = "SYNC_MASTER",
                 extra: dict[str, object] | None = None, port: int | None = None) -> Broker:
    values: dict[str, object] = {**FAST_HA, "brokerRole": role, "brokerId": 0}
    values.update(extra or {})
    return start_broker(home, namesrv, name=name, port=port, extra=values)


def start_slave(home: Path, namesrv: str, name: str = "broker-a", extra: dict[str, object] | None = None,
                port: int | None = None) -> Broker:
    values: dict[str, object] = {**FAST_HA, "brokerRole": "SLAVE", "brokerId": 1}
    values.update(extra or {})
    return start_broker(home, namesrv, name=name, port=port, extra=values)


def runtime_info(addr: str, timeout: float = 5.0) -> dict[str, str]:
    response = call(addr, RequestCode.GET_BROKER_RUNTIME_INFO, timeout=timeout)
    assert response.code == ResponseCode.SUCCESS, response.remark
    return orjson.loads(response.body)["table"]


def max_offset(broker: Broker) -> int:
    return max_offset_of(broker.addr)


def max_offset_of(addr: str) -> int:
    return int(runtime_info(addr)["commitLogMaxOffset"])


def wait_replicated(master: Broker, slave: Broker, timeout: float = 20.0) -> int:
    """Wait until the slave's commit log ends where the master's does; returns that offset."""
    def same() -> tuple[int] | None:
        info = runtime_info(master.addr)
        m, s = int(info["commitLogMaxOffset"]), max_offset(slave)
        return (m,) if m == s and int(info.get("haConnectionCount", "0")) > 0 else None

    return wait_until(same, timeout, 0.1, "slave to reach the master's max offset")[0]


def commit_log_bytes(broker: Broker, end: int | None = None) -> bytes:
    """The commit log as one byte string, from offset 0 (or the first file) to ``end`` (default:
    the broker's max offset), read from its files."""
    end = max_offset(broker) if end is None else end
    folder = broker.store_root / "commitlog"
    chunks = []
    for name in sorted(os.listdir(folder)):
        start = int(name)
        if start >= end:
            break
        with open(folder / name, "rb") as f:
            chunks.append(f.read(end - start))
    return b"".join(chunks)


def send_fields(topic: str, queue_id: int = 0, props: dict[str, str] | None = None) -> dict[str, str]:
    """The V1 header fields of a SEND_MESSAGE (WAIT true unless ``props`` says otherwise)."""
    properties = {"WAIT": "true", **(props or {})}
    return {"producerGroup": "PID_TEST", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
            "queueId": str(queue_id), "sysFlag": "0", "bornTimestamp": str(int(time.time() * 1000)), "flag": "0",
            "properties": pm.properties_to_string(properties), "reconsumeTimes": "0", "unitMode": "false",
            "batch": "false"}


def send_raw(addr: str, topic: str, body: bytes, queue_id: int = 0, props: dict[str, str] | None = None,
             timeout: float = 10.0):
    """One SEND_MESSAGE (V1 header) straight to a broker; returns the response."""
    return call(addr, RequestCode.SEND_MESSAGE, send_fields(topic, queue_id, props), body, timeout=timeout)


def create_topic(addr: str, topic: str, queues: int = 4) -> None:
    fields = {"topic": topic, "defaultTopic": "TBW102", "readQueueNums": str(queues),
              "writeQueueNums": str(queues), "perm": "6", "topicFilterType": "SINGLE_TAG",
              "topicSysFlag": "0", "order": "false"}
    response = call(addr, RequestCode.UPDATE_AND_CREATE_TOPIC, fields)
    assert response.code == ResponseCode.SUCCESS, response.remark


def pull_all(addr: str, topic: str, queue_id: int, group: str = "CID_TEST", start: int = 0,
             timeout: float = 10.0) -> list[pm.MessageExt]:
    """Every message of one queue from ``start`` on, with plain PULL_MESSAGE calls (no suspend)."""
    messages: list[pm.MessageExt] = []
    offset = start
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fields = {"consumerGroup": group, "topic": topic, "queueId": str(queue_id), "queueOffset": str(offset),
                  "maxMsgNums": "32", "sysFlag": "4", "commitOffset": "0", "suspendTimeoutMillis": "0",
                  "subscription": "*", "subVersion": "0", "expressionType": "TAG"}
        response = call(addr, RequestCode.PULL_MESSAGE, fields)
        if response.code != ResponseCode.SUCCESS:
            break
        batch = pm.decode_messages(response.body)
        messages += batch
        offset = int(response.ext_fields["nextBeginOffset"])
    return messages


def wait_topic(addr: str, topic: str, timeout: float = 30.0) -> None:
    """Wait until a broker (a slave copies topics every 10 s) serves pulls of ``topic``."""
    def known() -> bool:
        fields = {"consumerGroup": "CID_TEST", "topic": topic, "queueId": "0", "queueOffset": "0",
                  "maxMsgNums": "1", "sysFlag": "4", "commitOffset": "0", "suspendTimeoutMillis": "0",
                  "subscription": "*", "subVersion": "0", "expressionType": "TAG"}
        return call(addr, RequestCode.PULL_MESSAGE, fields).code != ResponseCode.TOPIC_NOT_EXIST

    wait_until(known, timeout, 0.5, f"{addr} to serve topic {topic}")
