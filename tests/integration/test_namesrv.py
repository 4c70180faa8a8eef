"""The name server as a real `mqnamesrv` process, spoken to over TCP."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import zlib

import orjson
import pytest

from pocketmq.protocol import fastjson
from pocketmq.protocol.route import RegisterBrokerBody, TopicConfig, TopicConfigWrapper, DataVersion
from pocketmq.remoting.codes import RequestCode as RC, ResponseCode
from pocketmq.remoting.command import make_request
from pocketmq.remoting.transport import RemotingClient
from tests.support.processes import BIN, start_namesrv, wait_until
from tests.support.rpc import RpcSession, call


@pytest.fixture(scope="module")
def namesrv(tmp_path_factory):
    server = start_namesrv(tmp_path_factory.mktemp("namesrv"))
    yield server
    server.kill()


@pytest.fixture
def broker_session():
    """Registrations go over a connection kept open, as a real broker's is."""
    with RpcSession() as session:
        yield session


def register_body(*topics: TopicConfig, version: DataVersion | None = None) -> bytes:
    wrapper = TopicConfigWrapper({tc.topicName: tc for tc in topics}, version or DataVersion())
    return RegisterBrokerBody(wrapper).encode()


def register_fields(name: str, addr: str, broker_id: int = 0, cluster: str = "DefaultCluster",
                    ha: str = "127.0.0.1:1") -> dict[str, str]:
    return {"brokerName": name, "brokerAddr": addr, "clusterName": cluster, "haServerAddr": ha,
            "brokerId": str(broker_id), "compressed": "false", "bodyCrc32": "0"}


def test_route_of_a_registered_topic_and_cluster_info(namesrv, broker_session):
    body = register_body(TopicConfig("RouteTopic", 4, 4))
    fields = register_fields("broker-r", "127.0.0.1:20911")
    fields["bodyCrc32"] = str(zlib.crc32(body) & 0x7FFFFFFF)
    assert broker_session.call(namesrv.addr, RC.REGISTER_BROKER, fields, body).code == ResponseCode.SUCCESS
    route = call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "RouteTopic"})
    assert route.code == ResponseCode.SUCCESS
    data = orjson.loads(route.body)  # strictly standard JSON, quoted brokerId keys
    assert data["brokerDatas"] == [{"brokerAddrs": {"0": "127.0.0.1:20911"}, "brokerName": "broker-r",
                                    "cluster": "DefaultCluster"}]
    assert data["queueDatas"] == [{"brokerName": "broker-r", "perm": 6, "readQueueNums": 4,
                                   "topicSysFlag": 0, "writeQueueNums": 4}]
    info = fastjson.loads(call(namesrv.addr, RC.GET_BROKER_CLUSTER_INFO).body)
    assert "broker-r" in info["clusterAddrTable"]["DefaultCluster"]
    assert info["brokerAddrTable"]["broker-r"]["brokerAddrs"] == {"0": "127.0.0.1:20911"}


def test_unknown_topic_is_topic_not_exist(namesrv):
    response = call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "NoSuchTopic"})
    assert response.code == ResponseCode.TOPIC_NOT_EXIST
    assert "No topic route info in name server for the topic: NoSuchTopic" in response.remark


def test_slave_learns_master_and_ha_address(namesrv, broker_session):
    body = register_body(TopicConfig("HaTopic", 2, 2))
    broker_session.call(namesrv.addr, RC.REGISTER_BROKER, register_fields("broker-h", "127.0.0.1:21911", 0, ha="127.0.0.1:21912"), body)
    slave = broker_session.call(namesrv.addr, RC.REGISTER_BROKER, register_fields("broker-h", "127.0.0.1:22911", 1, ha="127.0.0.1:22912"), body)
    assert slave.ext_fields == {"haServerAddr": "127.0.0.1:21912", "masterAddr": "127.0.0.1:21911"}
    route = orjson.loads(call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "HaTopic"}).body)
    assert route["brokerDatas"][0]["brokerAddrs"] == {"0": "127.0.0.1:21911", "1": "127.0.0.1:22911"}


def test_bad_crc_is_refused(namesrv, broker_session):
    body = register_body(TopicConfig("CrcTopic"))
    fields = register_fields("broker-c", "127.0.0.1:23911")
    fields["bodyCrc32"] = str((zlib.crc32(body) + 1) & 0x7FFFFFFF)
    response = broker_session.call(namesrv.addr, RC.REGISTER_BROKER, fields, body)
    assert (response.code, response.remark) == (ResponseCode.SYSTEM_ERROR, "crc32 not match")


def test_compressed_registration(namesrv, broker_session):
    wrapper = TopicConfigWrapper({"Zipped": TopicConfig("Zipped", 3, 3)}, DataVersion())
    body = RegisterBrokerBody(wrapper).encode(compressed=True)
    fields = register_fields("broker-z", "127.0.0.1:24911")
    fields["compressed"] = "true"
    assert broker_session.call(namesrv.addr, RC.REGISTER_BROKER, fields, body).code == ResponseCode.SUCCESS
    route = orjson.loads(call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "Zipped"}).body)
    assert route["queueDatas"][0]["readQueueNums"] == 3


def test_broker_dropped_when_its_connection_closes(namesrv):
    async def main():
        client = RemotingClient()
        body = register_body(TopicConfig("ConnTopic"))
        response = await client.invoke(namesrv.addr, make_request(
            RC.REGISTER_BROKER, register_fields("broker-conn", "127.0.0.1:25911"), body))
        assert response.code == 0
        assert (await client.invoke(namesrv.addr, make_request(RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "ConnTopic"}))).code == 0
        await client.close()

    asyncio.run(main())
    wait_until(lambda: call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "ConnTopic"}).code
               == ResponseCode.TOPIC_NOT_EXIST, message="route removed after the broker's connection closed")


def test_broker_expires_without_heartbeat(tmp_path):
    with start_namesrv(tmp_path, extra=["--brokerChannelExpiredTime=1500", "--scanNotActiveBrokerInterval=300"]) as ns:
        async def main():
            client = RemotingClient()
            await client.invoke(ns.addr, make_request(RC.REGISTER_BROKER, register_fields("broker-x", "127.0.0.1:26911"),
                                                      register_body(TopicConfig("ExpTopic"))))
            assert (await client.invoke(ns.addr, make_request(RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "ExpTopic"}))).code == 0
            # Keep the connection open: only the missing heartbeat can drop the broker.
            for _ in range(100):
                response = await client.invoke(ns.addr, make_request(RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "ExpTopic"}))
                if response.code == ResponseCode.TOPIC_NOT_EXIST:
                    break
                await asyncio.sleep(0.1)
            assert response.code == ResponseCode.TOPIC_NOT_EXIST
            await client.close()

        asyncio.run(main())


def test_unregister_and_data_version(namesrv, broker_session):
    version = DataVersion(timestamp=1234, counter=7)
    body = register_body(TopicConfig("UnregTopic"), version=version)
    fields = register_fields("broker-u", "127.0.0.1:27911")
    broker_session.call(namesrv.addr, RC.REGISTER_BROKER, fields, body)
    query = {k: fields[k] for k in ("brokerName", "brokerAddr", "clusterName", "brokerId")}
    same = call(namesrv.addr, RC.QUERY_DATA_VERSION, query, orjson.dumps(version.to_dict()))
    assert same.ext_fields["changed"] == "false"
    other = call(namesrv.addr, RC.QUERY_DATA_VERSION, query, orjson.dumps({"timestamp": 1, "counter": 1}))
    assert other.ext_fields["changed"] == "true"
    assert call(namesrv.addr, RC.UNREGISTER_BROKER, query).code == 0
    assert call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "UnregTopic"}).code == ResponseCode.TOPIC_NOT_EXIST


def test_kv_config_persists_across_restart(tmp_path):
    with start_namesrv(tmp_path) as ns:
        fields = {"namespace": "ORDER_TOPIC_CONFIG", "key": "OrderT", "value": "broker-a:4"}
        assert call(ns.addr, RC.PUT_KV_CONFIG, fields).code == 0
        assert call(ns.addr, RC.GET_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "OrderT"}).ext_fields == {"value": "broker-a:4"}
        listing = orjson.loads(call(ns.addr, RC.GET_KVLIST_BY_NAMESPACE, {"namespace": "ORDER_TOPIC_CONFIG"}).body)
        assert listing == {"table": {"OrderT": "broker-a:4"}}
        assert ns.terminate() == 0
    assert (tmp_path / "namesrv" / "kvConfig.json").exists()
    with start_namesrv(tmp_path) as ns:
        assert call(ns.addr, RC.GET_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "OrderT"}).ext_fields == {"value": "broker-a:4"}
        assert call(ns.addr, RC.DELETE_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "OrderT"}).code == 0
        missing = call(ns.addr, RC.GET_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "OrderT"})
        assert missing.code == ResponseCode.QUERY_NOT_FOUND


def test_topic_lists_perm_and_delete(namesrv, broker_session):
    body = register_body(TopicConfig("ListA"), TopicConfig("ListB"))
    broker_session.call(namesrv.addr, RC.REGISTER_BROKER, register_fields("broker-l", "127.0.0.1:28911", cluster="ListCluster"), body)
    all_topics = orjson.loads(call(namesrv.addr, RC.GET_ALL_TOPIC_LIST_FROM_NAMESERVER).body)["topicList"]
    assert {"ListA", "ListB"} <= set(all_topics)
    by_cluster = orjson.loads(call(namesrv.addr, RC.GET_TOPICS_BY_CLUSTER, {"cluster": "ListCluster"}).body)
    assert by_cluster["topicList"] == ["ListA", "ListB"]
    system = orjson.loads(call(namesrv.addr, RC.GET_SYSTEM_TOPIC_LIST_FROM_NS).body)
    assert {"ListCluster", "broker-l"} <= set(system["topicList"]) and system["brokerAddr"]
    wiped = call(namesrv.addr, RC.WIPE_WRITE_PERM_OF_BROKER, {"brokerName": "broker-l"})
    assert wiped.ext_fields == {"wipeTopicCount": "2"}
    route = orjson.loads(call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "ListA"}).body)
    assert route["queueDatas"][0]["perm"] == 4
    added = call(namesrv.addr, RC.ADD_WRITE_PERM_OF_BROKER, {"brokerName": "broker-l"})
    assert added.ext_fields == {"addTopicCount": "2"}
    assert call(namesrv.addr, RC.DELETE_TOPIC_IN_NAMESRV, {"topic": "ListB"}).code == 0
    assert call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {"topic": "ListB"}).code == ResponseCode.TOPIC_NOT_EXIST


def test_config_get_update_and_black_list(namesrv):
    config = call(namesrv.addr, RC.GET_NAMESRV_CONFIG).body.decode()
    assert f"listenPort={namesrv.port}" in config.splitlines()
    assert call(namesrv.addr, RC.UPDATE_NAMESRV_CONFIG, body=b"orderMessageEnable=true\n").code == 0
    assert "orderMessageEnable=true" in call(namesrv.addr, RC.GET_NAMESRV_CONFIG).body.decode().splitlines()
    refused = call(namesrv.addr, RC.UPDATE_NAMESRV_CONFIG, body=b"kvConfigPath=/tmp/evil\n")
    assert (refused.code, refused.remark) == (ResponseCode.NO_PERMISSION, "Can not update config in black list.")
    call(namesrv.addr, RC.UPDATE_NAMESRV_CONFIG, body=b"orderMessageEnable=false\n")


def test_unknown_code_and_missing_header_field(namesrv):
    unknown = call(namesrv.addr, 9999)
    assert unknown.code == ResponseCode.REQUEST_CODE_NOT_SUPPORTED
    missing = call(namesrv.addr, RC.GET_ROUTEINFO_BY_TOPIC, {})
    assert missing.code == ResponseCode.SYSTEM_ERROR and "<topic>" in missing.remark
    bad = call(namesrv.addr, RC.REGISTER_BROKER, {**register_fields("b", "127.0.0.1:1"), "brokerId": "x"})
    assert bad.code == ResponseCode.SYSTEM_ERROR and "<brokerId>" in bad.remark


@pytest.mark.parametrize("garbage", [
    b"\x00\x00\x00\x04\x00\x00\x00\x00",            # empty header: no code
    b"\x7f\xff\xff\xff",                             # huge length
    b"\xff\xff\xff\xf0",                             # negative length
    b"\x00\x00\x00\x10\x00\x00\x00\x40" + b"x" * 12,  # header longer than frame
    b"\x00\x00\x00\x08\x00\x00\x00\x04{bad",           # bad JSON
    b"\x00\x00\x00\x06\x05\x00\x00\x02{}",            # unknown serialize type
    bytes(range(256)) * 4,                            # noise
])
def test_bad_input_closes_connection_and_server_survives(namesrv, garbage):
    host, port = namesrv.addr.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""  # closed by the server, nothing answered
    assert call(namesrv.addr, RC.GET_BROKER_CLUSTER_INFO).code == 0
    assert "closing connection" in (namesrv.home / "logs" / "rocketmqlogs" / "namesrv.log").read_text()


def test_half_sent_frame_does_not_block_others(namesrv):
    host, port = namesrv.addr.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as stalled:
        stalled.sendall(b"\x00\x00\x01\x00\x00\x00\x00\x10{\"code\":")
        assert call(namesrv.addr, RC.GET_BROKER_CLUSTER_INFO).code == 0


def test_cli_print_config_and_config_file(tmp_path):
    conf = tmp_path / "namesrv.properties"
    conf.write_text("listenPort = 19999\norderMessageEnable=true\n")
    printed = subprocess.run(["bash", str(BIN / "mqnamesrv"), "-c", str(conf), "-p"], capture_output=True, text=True,
                             timeout=60)
    assert printed.returncode == 0
    lines = printed.stdout.splitlines()
    assert "listenPort=19999" in lines and "orderMessageEnable=true" in lines
    important = subprocess.run(["bash", str(BIN / "mqnamesrv"), "-m", "--listenPort=18888"], capture_output=True,
                               text=True, timeout=60)
    assert "listenPort=18888" in important.stdout.splitlines()
    assert "serverWorkerThreads" not in important.stdout
    helped = subprocess.run(["bash", str(BIN / "mqnamesrv"), "-h"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "-c" in helped.stdout


def test_sigterm_stops_cleanly_and_logs_to_file(tmp_path):
    ns = start_namesrv(tmp_path)
    assert ns.terminate() == 0
    log = (tmp_path / "logs" / "rocketmqlogs" / "namesrv.log").read_text()
    assert "The Name Server boot success" in log and "The Name Server shutdown." in log


def test_run_from_bin_directory(tmp_path):
    port_ns = start_namesrv(tmp_path)  # started by path; now the `cd bin && bash mqnamesrv` form
    port_ns.kill()
    proc = subprocess.Popen(["bash", "mqnamesrv", f"--listenPort={port_ns.port}"], cwd=str(BIN),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**__import__("os").environ, "HOME": str(tmp_path)})
    try:
        line = proc.stdout.readline()
        assert "The Name Server boot success. serializeType=JSON" in line
    finally:
        proc.terminate()
        proc.wait(10)
