"""Admin requests hardened (beyond upstream): updateBrokerConfig / updateNamesrvConfig refuse
path, port, role and ACL keys unless the caller is an admin account (ACL on), and entirely with
sensitiveConfigUpdateEnable=false; topic names from group names never reach the file system."""

from __future__ import annotations

import orjson
import pytest

from pocketmq.client import SessionCredentials
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.acl import signed_call, write_acl
from tests.support.cluster import send_raw
from tests.support.processes import start_broker, start_namesrv

pytestmark = pytest.mark.timeout(180)

ADMIN = SessionCredentials("ops-admin", "ops-admin-secret")
ACL_YML = "accounts:\n  - accessKey: ops-admin\n    secretKey: ops-admin-secret\n    admin: true\n"


def broker_config(addr: str, credentials: SessionCredentials | None = None) -> str:
    response = signed_call(addr, RequestCode.GET_BROKER_CONFIG, credentials=credentials)
    assert response.code == ResponseCode.SUCCESS, response.remark
    return response.body.decode()


@pytest.mark.parametrize("body", [b"storePathRootDir=/tmp/evil\n", b"listenPort=1\n", b"brokerRole=SLAVE\n",
                                  b"aclEnable=false\n", b"namesrvAddr=10.0.0.1:9876\n"])
def test_without_acl_sensitive_keys_are_refused(tmp_path, body) -> None:
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as broker:
        before = broker_config(broker.addr)
        response = signed_call(broker.addr, RequestCode.UPDATE_BROKER_CONFIG, body=body)
        assert response.code == ResponseCode.NO_PERMISSION
        assert "over the network without an admin account" in response.remark
        assert broker_config(broker.addr) == before
        assert signed_call(broker.addr, RequestCode.UPDATE_BROKER_CONFIG, body=b"traceOn=false\n").code == 0
        refused = signed_call(ns.addr, RequestCode.UPDATE_NAMESRV_CONFIG, body=b"listenPort=1\n")
        assert refused.code == ResponseCode.NO_PERMISSION and "listenPort" in refused.remark


def test_with_acl_an_admin_may_unless_switched_off(tmp_path) -> None:
    with start_namesrv(tmp_path / "ns") as ns:
        for name, enabled in (("b1", "true"), ("b2", "false")):
            home = tmp_path / name
            write_acl(home, ACL_YML)
            extra = {"aclEnable": "true", "rocketmqHome": home, "sensitiveConfigUpdateEnable": enabled,
                     "aclAccessKey": "ops-admin", "aclSecretKey": "ops-admin-secret"}
            with start_broker(home, ns.addr, name=name, extra=extra) as broker:
                response = signed_call(broker.addr, RequestCode.UPDATE_BROKER_CONFIG, body=b"brokerIP2=127.0.0.1\n",
                                       credentials=ADMIN)
                if enabled == "true":
                    assert response.code == ResponseCode.SUCCESS, response.remark
                else:
                    assert response.code == ResponseCode.NO_PERMISSION
                    assert "sensitiveConfigUpdateEnable=false" in response.remark
                config = broker_config(broker.addr, ADMIN)
                assert "aclSecretKey=******\n" in config and "ops-admin-secret" not in config


def test_group_names_never_reach_the_file_system(tmp_path) -> None:
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "b", ns.addr) as broker:
        sent = send_raw(broker.addr, "TraversalTopic", b"payload")
        assert sent.code == ResponseCode.SUCCESS, sent.remark
        # The message's commit log offset: the first (and only) message starts at 0. Sent back
        # for a group named "../../../../evil", its DLQ topic would be a folder outside the store.
        response = signed_call(broker.addr, RequestCode.CONSUMER_SEND_MSG_BACK, {
            "offset": "0", "group": "../../../../evil", "delayLevel": "-1", "originMsgId": "x",
            "originTopic": "TraversalTopic", "unitMode": "false"})
        assert response.code != ResponseCode.SUCCESS
        pull = signed_call(broker.addr, RequestCode.PULL_MESSAGE, {
            "consumerGroup": "g", "topic": "../../../../evil2", "queueId": "0", "queueOffset": "0",
            "maxMsgNums": "1", "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0",
            "subscription": "*", "subVersion": "0", "expressionType": "TAG"})
        assert pull.code != ResponseCode.SUCCESS
        runtime = signed_call(broker.addr, RequestCode.GET_BROKER_RUNTIME_INFO)
        assert runtime.code == ResponseCode.SUCCESS  # still serving
        assert orjson.loads(runtime.body)["table"]["commitLogMaxOffset"] != "0"
        leaked = [p for p in tmp_path.rglob("*evil*")]
        assert not leaked, leaked
