"""PocketMQ's protected name server (beyond upstream): with aclEnable=true only signed requests
get answers, and only admin accounts may register brokers, change KV config, wipe or add write
permission, or delete topics. A broker signs its registrations with aclAccessKey/aclSecretKey."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from pocketmq.client import AsyncProducer, Message, SendStatus, SessionCredentials
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.acl import signed_call, write_acl
from tests.support.processes import start_broker, start_namesrv, wait_until

pytestmark = pytest.mark.timeout(180)

ACL_YML = """\
accounts:
  - accessKey: broker-account
    secretKey: broker-secret
    admin: true
  - accessKey: app-client
    secretKey: app-client-secret
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: SUB
"""

BROKER = SessionCredentials("broker-account", "broker-secret")
APP = SessionCredentials("app-client", "app-client-secret")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("ns-acl")
    ns_home, broker_home = root / "ns", root / "broker"
    write_acl(ns_home, ACL_YML)
    write_acl(broker_home, ACL_YML)
    with start_namesrv(ns_home, extra=["--aclEnable=true", f"--rocketmqHome={ns_home}"]) as ns, \
            start_broker(broker_home, ns.addr, extra={
                "aclEnable": "true", "rocketmqHome": broker_home, "aclAccessKey": "broker-account",
                "aclSecretKey": "broker-secret"}) as broker:
        yield ns, broker


def cluster_brokers(ns_addr: str, credentials: SessionCredentials | None):
    return signed_call(ns_addr, RequestCode.GET_BROKER_CLUSTER_INFO, credentials=credentials)


def test_signed_broker_registers_and_signed_queries_see_it(cluster) -> None:
    ns, broker = cluster
    response = wait_until(lambda: (r := cluster_brokers(ns.addr, APP)).code == ResponseCode.SUCCESS
                          and b"broker-a" in r.body and r, 20, 0.2, "the broker's registration")
    assert broker.addr.encode() in response.body


def test_unsigned_and_badly_signed_queries_are_refused(cluster) -> None:
    ns, _ = cluster
    unsigned = signed_call(ns.addr, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "TBW102"})
    assert unsigned.code == ResponseCode.SYSTEM_ERROR and "No accessKey is configured" in unsigned.remark
    wrong = signed_call(ns.addr, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "TBW102"},
                        credentials=SessionCredentials("app-client", "wrong-secret"))
    assert wrong.code == ResponseCode.SYSTEM_ERROR and "Check signature failed" in wrong.remark


@pytest.mark.parametrize("code, fields", [
    (RequestCode.WIPE_WRITE_PERM_OF_BROKER, {"brokerName": "broker-a"}),
    (RequestCode.ADD_WRITE_PERM_OF_BROKER, {"brokerName": "broker-a"}),
    (RequestCode.DELETE_TOPIC_IN_NAMESRV, {"topic": "TBW102"}),
    (RequestCode.PUT_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "k", "value": "v"}),
    (RequestCode.UNREGISTER_BROKER, {"brokerName": "broker-a", "brokerAddr": "x", "clusterName": "DefaultCluster",
                                     "brokerId": "0"}),
])
def test_changing_requests_need_an_admin_account(cluster, code, fields) -> None:
    ns, broker = cluster
    before = cluster_brokers(ns.addr, APP).body
    for credentials in (None, APP):
        response = signed_call(ns.addr, code, fields, credentials=credentials)
        assert response.code == ResponseCode.SYSTEM_ERROR
        assert ("Need admin permission for request code=" in response.remark if credentials
                else "No accessKey is configured" in response.remark)
    assert cluster_brokers(ns.addr, APP).body == before


def test_our_client_through_a_protected_name_server(cluster) -> None:
    ns, _ = cluster

    async def main() -> None:
        async with AsyncProducer("PID_ns_acl", ns.addr, credentials=APP) as producer:
            result = await producer.send(Message("ns-acl-topic", b"hello"))
            assert result.status is SendStatus.SEND_OK

    asyncio.run(main())

    def routed():  # the broker registers the auto-created topic a moment after the send
        route = signed_call(ns.addr, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": "ns-acl-topic"}, credentials=APP)
        return route.code == ResponseCode.SUCCESS and orjson.loads(route.body)["queueDatas"]

    wait_until(routed, 20, 0.2, "the new topic's route on the protected name server")


def test_a_broker_without_an_account_cannot_register(cluster, tmp_path) -> None:
    ns, _ = cluster
    home = tmp_path / "stranger"
    write_acl(home, ACL_YML)
    with start_broker(home, ns.addr, name="broker-stranger"):
        # It registers once before printing "boot success": that registration was refused.
        assert b"broker-stranger" not in cluster_brokers(ns.addr, APP).body
