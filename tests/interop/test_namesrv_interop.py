"""The official Java admin API and the C++ client read what our name server serves: cluster info
and routes registered by a test, parsed by fastjson and librocketmq themselves."""

from __future__ import annotations

import pytest

from clients import cpp_produce, run_java_driver  # type: ignore[import-not-found]
from pocketmq.protocol.route import DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigWrapper
from pocketmq.remoting.codes import RequestCode
from tests.support.processes import start_broker, start_namesrv
from tests.support.rpc import RpcSession

pytestmark = pytest.mark.interop


def register(session: RpcSession, namesrv: str, name: str, addr: str, broker_id: int, topics: dict[str, int]) -> None:
    wrapper = TopicConfigWrapper({t: TopicConfig(t, n, n) for t, n in topics.items()}, DataVersion())
    fields = {"brokerName": name, "brokerAddr": addr, "clusterName": "InteropCluster",
              "haServerAddr": addr.replace("911", "912"), "brokerId": str(broker_id), "compressed": "false",
              "bodyCrc32": "0"}
    assert session.call(namesrv, RequestCode.REGISTER_BROKER, fields, RegisterBrokerBody(wrapper).encode()).code == 0


def test_java_admin_reads_cluster_info_and_routes(tmp_path, interop_ready):
    namesrv = start_namesrv(tmp_path)
    try:
        with RpcSession() as session:
            register(session, namesrv.addr, "broker-x", "127.0.0.1:30911", 0, {"RoutedTopic": 4})
            register(session, namesrv.addr, "broker-x", "127.0.0.1:31911", 1, {"RoutedTopic": 4})
            register(session, namesrv.addr, "broker-y", "127.0.0.1:32911", 0, {"RoutedTopic": 2})
            [info] = [e for e in run_java_driver(["admin", "cluster-info"], namesrv=namesrv.addr)
                      if e["event"] == "cluster-info"]
            assert sorted(info["clusterAddrTable"]["InteropCluster"]) == ["broker-x", "broker-y"]
            assert info["brokerAddrTable"]["broker-x"]["brokerAddrs"] == {"0": "127.0.0.1:30911", "1": "127.0.0.1:31911"}
            [route] = [e for e in run_java_driver(["admin", "topic-route", "--topic", "RoutedTopic"], namesrv=namesrv.addr)
                       if e["event"] == "topic-route"]
            route = route["route"]
            queues = {q["brokerName"]: (q["readQueueNums"], q["writeQueueNums"], q["perm"]) for q in route["queueDatas"]}
            assert queues == {"broker-x": (4, 4, 6), "broker-y": (2, 2, 6)}
            assert {b["brokerName"] for b in route["brokerDatas"]} == {"broker-x", "broker-y"}
    finally:
        namesrv.kill()


def test_cpp_client_routes_through_our_name_server(tmp_path, interop_ready):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "b", namesrv.addr)
    try:
        run_java_driver(["admin", "create-topic", "--topic", "CppRouted", "--queues", "3"], namesrv=namesrv.addr)
        events = cpp_produce(namesrv.addr, "CppRouted", 6)
        sent = [e for e in events if e["event"] == "send"]
        assert [e["status"] for e in sent] == ["SEND_OK"] * 6
    finally:
        broker.kill()
        namesrv.kill()
