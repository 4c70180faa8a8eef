"""Master/slave replication with real processes: a name server, a master and its slave on
loopback. The slave's commit log must be byte-identical to the master's, it must serve pulls
of what it received, refuse sends, copy the master's metadata, and catch up after a restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.cluster import (
    commit_log_bytes, create_topic, max_offset, pull_all, runtime_info, send_raw, start_master, start_slave,
    wait_replicated,
)
from tests.support.processes import start_namesrv, wait_until
from tests.support.rpc import call

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def namesrv(tmp_path: Path):
    ns = start_namesrv(tmp_path / "ns")
    yield ns
    ns.kill()


def _send_many(addr: str, topic: str, count: int, start: int = 0, expect: int = ResponseCode.SUCCESS) -> None:
    for i in range(start, start + count):
        response = send_raw(addr, topic, f"body-{i}-".encode() + b"x" * (i % 300), queue_id=i % 4,
                            props={"KEYS": f"k{i}", "TAGS": "t"})
        assert response.code == expect, (i, response.code, response.remark)


def test_sync_master_replicates_byte_for_byte_and_slave_serves_reads(tmp_path: Path, namesrv) -> None:
    master = start_master(tmp_path / "a", namesrv.addr, role="SYNC_MASTER")
    slave = None
    try:
        create_topic(master.addr, "RepT")
        # No slave yet: stored on the master, answered SLAVE_NOT_AVAILABLE (11).
        response = send_raw(master.addr, "RepT", b"before-slave")
        assert response.code == ResponseCode.SLAVE_NOT_AVAILABLE
        assert response.ext_fields["msgId"]

        slave = start_slave(tmp_path / "a-s", namesrv.addr)
        wait_replicated(master, slave)
        _send_many(master.addr, "RepT", 300)  # every one SEND_OK: a slave acknowledged it
        end = wait_replicated(master, slave)
        assert commit_log_bytes(slave, end) == commit_log_bytes(master, end)

        # The slave rebuilt its consume queues: pulls give the master's messages, in order.
        wait_until(lambda: pull_all(slave.addr, "RepT", 1), 20, 0.5, "slave to know topic RepT")
        for queue_id in range(4):
            on_master = [(m.queue_offset, m.commit_log_offset, m.body) for m in pull_all(master.addr, "RepT", queue_id)]
            on_slave = [(m.queue_offset, m.commit_log_offset, m.body) for m in pull_all(slave.addr, "RepT", queue_id)]
            assert on_slave == on_master and len(on_master) >= 75

        # Read-only: a send to the slave is refused with SERVICE_NOT_AVAILABLE (14).
        refused = send_raw(slave.addr, "RepT", b"to-slave")
        assert refused.code == ResponseCode.SERVICE_NOT_AVAILABLE
        assert max_offset(slave) == end

        info = runtime_info(master.addr)
        assert info["haConnectionCount"] == "1" and int(info["haPush2SlaveMaxOffset"]) == end
    finally:
        for broker in (slave, master):
            if broker is not None:
                broker.kill()


def test_slave_copies_master_metadata(tmp_path: Path, namesrv) -> None:
    master = start_master(tmp_path / "a", namesrv.addr, role="ASYNC_MASTER")
    slave = start_slave(tmp_path / "a-s", namesrv.addr)
    try:
        create_topic(master.addr, "MetaT", queues=3)
        group = {"groupName": "CID_META", "consumeEnable": True, "consumeFromMinEnable": True,
                 "consumeBroadcastEnable": True, "retryQueueNums": 1, "retryMaxTimes": 5, "brokerId": 0,
                 "whichBrokerWhenConsumeSlowly": 1, "notifyConsumerIdsChangedEnable": True}
        import orjson
        assert call(master.addr, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
                    body=orjson.dumps(group)).code == ResponseCode.SUCCESS
        _send_many(master.addr, "MetaT", 3)
        commit = call(master.addr, RequestCode.UPDATE_CONSUMER_OFFSET,
                      {"consumerGroup": "CID_META", "topic": "MetaT", "queueId": "1", "commitOffset": "2"})
        assert commit.code == ResponseCode.SUCCESS

        def synced() -> bool:
            topics = orjson.loads(call(slave.addr, RequestCode.GET_ALL_TOPIC_CONFIG).body)["topicConfigTable"]
            groups = orjson.loads(call(slave.addr, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG).body)
            offset = call(slave.addr, RequestCode.QUERY_CONSUMER_OFFSET,
                          {"consumerGroup": "CID_META", "topic": "MetaT", "queueId": "1"})
            return ("MetaT" in topics and topics["MetaT"]["readQueueNums"] == 3
                    and groups["subscriptionGroupTable"].get("CID_META", {}).get("retryMaxTimes") == 5
                    and offset.code == ResponseCode.SUCCESS and offset.ext_fields["offset"] == "2")

        wait_until(synced, 30, 0.5, "slave to copy topics, groups and offsets from its master")
    finally:
        slave.kill()
        master.kill()


def test_slave_catches_up_after_restart_and_kill(tmp_path: Path, namesrv) -> None:
    master = start_master(tmp_path / "a", namesrv.addr, role="ASYNC_MASTER")
    slave = start_slave(tmp_path / "a-s", namesrv.addr)
    try:
        create_topic(master.addr, "CatchT")
        _send_many(master.addr, "CatchT", 50)
        wait_replicated(master, slave)

        slave.terminate()  # clean stop, then the master goes on alone
        _send_many(master.addr, "CatchT", 100, start=50)
        slave = start_slave(tmp_path / "a-s", namesrv.addr, port=slave.port)
        end = wait_replicated(master, slave)
        assert commit_log_bytes(slave, end) == commit_log_bytes(master, end)

        slave.kill()  # kill -9 this time
        _send_many(master.addr, "CatchT", 100, start=150)
        slave = start_slave(tmp_path / "a-s", namesrv.addr, port=slave.port)
        end = wait_replicated(master, slave)
        assert commit_log_bytes(slave, end) == commit_log_bytes(master, end)
        expected = [(m.queue_offset, m.body) for m in pull_all(master.addr, "CatchT", 2)]
        assert [offset for offset, _ in expected] == list(range(62))
        wait_until(lambda: [(m.queue_offset, m.body) for m in pull_all(slave.addr, "CatchT", 2)] == expected,
                   20, 0.5, "slave to serve every entry of queue 2 exactly once")
    finally:
        slave.kill()
        master.kill()


def test_new_slave_starts_at_the_masters_last_file(tmp_path: Path, namesrv) -> None:
    """A slave reporting 0 gets the master's last commit-log file onwards (upstream rule)."""
    master = start_master(tmp_path / "a", namesrv.addr, role="ASYNC_MASTER",
                          extra={"mappedFileSizeCommitLog": 64 * 1024})
    slave = None
    try:
        create_topic(master.addr, "FileT")
        _send_many(master.addr, "FileT", 700)  # ~300 KiB: several 64 KiB files
        master_files = sorted(os.listdir(master.store_root / "commitlog"))
        last_start = max(int(name) for name in master_files if int(name) <= max_offset(master))
        assert last_start > 0
        slave = start_slave(tmp_path / "a-s", namesrv.addr, extra={"mappedFileSizeCommitLog": 64 * 1024})
        end = wait_replicated(master, slave)
        slave_files = sorted(os.listdir(slave.store_root / "commitlog"))
        assert int(slave_files[0]) == last_start
        with open(master.store_root / "commitlog" / slave_files[0], "rb") as f:
            expected = f.read(end - last_start)
        with open(slave.store_root / "commitlog" / slave_files[0], "rb") as f:
            assert f.read(end - last_start) == expected
    finally:
        if slave is not None:
            slave.kill()
        master.kill()


def test_slave_started_before_its_master_attaches_without_waiting_for_a_registration_period(
        tmp_path: Path, namesrv) -> None:
    """The slave asks the name servers every second until one names its master, so a SYNC_MASTER
    started after it takes acknowledged sends at once, not after the slave's next periodic
    registration (first after 10 s, then every registerNameServerPeriod)."""
    slow = {"registerNameServerPeriod": 60000}
    slave = start_slave(tmp_path / "a-s", namesrv.addr, extra=slow)
    master = None
    try:
        master = start_master(tmp_path / "a", namesrv.addr, role="SYNC_MASTER", extra=slow)
        create_topic(master.addr, "AttachT")
        wait_until(lambda: send_raw(master.addr, "AttachT", b"x").code == ResponseCode.SUCCESS, 20, 0.2,
                   "a SYNC_MASTER send acknowledged by the slave")
        log = (tmp_path / "a-s" / "logs" / "rocketmqlogs" / "broker.log").read_text()
        assert f"slave found its master at {master.addr}" in log
    finally:
        if master is not None:
            master.kill()
        slave.kill()
