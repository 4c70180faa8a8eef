"""Replication secured (beyond upstream): with haSharedSecret a slave must prove it knows the
secret before the master streams the commit log; with tls.server.mode=enforcing on the master
and tls.enable on the slave the HA stream is TLS."""

from __future__ import annotations

import pytest

from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.cluster import commit_log_bytes, max_offset, runtime_info, send_raw, start_master, start_slave, \
    wait_replicated
from tests.support.processes import start_namesrv, wait_until
from tests.support.tls import make_cert, tls_args, tls_call

pytestmark = pytest.mark.timeout(180)


def broker_log(home) -> str:  # noqa: ANN001
    path = home / "logs" / "rocketmqlogs" / "broker.log"
    return path.read_text(errors="replace") if path.exists() else ""


def test_slave_with_the_secret_replicates_and_one_without_gets_nothing(tmp_path) -> None:
    secret = {"haSharedSecret": "replication-secret"}
    with start_namesrv(tmp_path / "ns") as ns, \
            start_master(tmp_path / "m", ns.addr, role="ASYNC_MASTER", extra=secret) as master:
        assert send_raw(master.addr, "HaSecretTopic", b"first").code == ResponseCode.SUCCESS
        with start_slave(tmp_path / "s", ns.addr, extra=secret) as slave:
            wait_replicated(master, slave)
            assert commit_log_bytes(slave) == commit_log_bytes(master)
        with start_slave(tmp_path / "intruder", ns.addr, extra={"haSharedSecret": "guessed"}) as intruder:
            wait_until(lambda: "wrong haSharedSecret" in broker_log(tmp_path / "m"), 30, 0.2,
                       "the master to refuse the intruder")
            assert max_offset(intruder) == 0
            assert runtime_info(master.addr).get("haConnectionCount", "0") == "0"


def test_slave_replicates_over_tls(tmp_path) -> None:
    cert, key = make_cert(tmp_path / "certs")
    server = tls_args("enforcing", cert, key)
    tls = {**server, "tls.enable": "true"}
    with start_namesrv(tmp_path / "ns", extra=[f"--{k}={v}" for k, v in server.items()]) as ns, \
            start_master(tmp_path / "m", ns.addr, role="SYNC_MASTER", extra=tls) as master, \
            start_slave(tmp_path / "s", ns.addr, extra=tls):
        fields = {"producerGroup": "PID_TLS", "topic": "HaTlsTopic", "defaultTopic": "TBW102",
                  "defaultTopicQueueNums": "4", "queueId": "0", "sysFlag": "0", "bornTimestamp": "0", "flag": "0",
                  "properties": "WAIT\x01true\x02", "reconsumeTimes": "0", "unitMode": "false", "batch": "false"}
        # A SYNC_MASTER answers SUCCESS only once the slave has the message: replication works.
        wait_until(lambda: tls_call(master.addr, RequestCode.SEND_MESSAGE, fields, b"over tls").code
                   == ResponseCode.SUCCESS, 60, 0.5, "a send the slave acknowledged over the TLS HA port")


def test_slave_syncs_from_a_master_with_acl_using_its_own_account(tmp_path) -> None:
    """Upstream's slaves send their syncs unsigned, so a master with ACL refuses them; ours sign
    with aclAccessKey/aclSecretKey and copy the master's topics."""
    from pocketmq.security.credentials import SessionCredentials
    from tests.support.acl import signed_call, write_acl

    acl_yml = "accounts:\n  - accessKey: broker-account\n    secretKey: broker-secret\n    admin: true\n"
    account = {"aclEnable": "true", "aclAccessKey": "broker-account", "aclSecretKey": "broker-secret"}
    admin = SessionCredentials("broker-account", "broker-secret")
    write_acl(tmp_path / "m", acl_yml)
    write_acl(tmp_path / "s", acl_yml)
    with start_namesrv(tmp_path / "ns") as ns, \
            start_master(tmp_path / "m", ns.addr, role="ASYNC_MASTER",
                         extra={**account, "rocketmqHome": tmp_path / "m"}) as master, \
            start_slave(tmp_path / "s", ns.addr, extra={**account, "rocketmqHome": tmp_path / "s"}) as slave:
        fields = {"topic": "SyncedUnderAcl", "defaultTopic": "TBW102", "readQueueNums": "2", "writeQueueNums": "2",
                  "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}
        assert signed_call(master.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, fields, credentials=admin).code == 0

        def slave_has_topic() -> bool:
            response = signed_call(slave.addr, RequestCode.GET_ALL_TOPIC_CONFIG, credentials=admin)
            return response.code == ResponseCode.SUCCESS and b"SyncedUnderAcl" in (response.body or b"")

        wait_until(slave_has_topic, 40, 0.5, "the slave to copy the master's topics")
