"""mqadmin against real PocketMQ processes (one name server + one broker for the module): every
subcommand runs, prints upstream's rows, and exits 0 on success and 1 on any failure."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pocketmq.client.config import ClientConfig
from pocketmq.client.consumer import PushConsumer
from pocketmq.client.producer import Producer
from pocketmq.remoting.codes import RequestCode
from pocketmq.tools import mqadmin
from tests.support.processes import ROOT, free_port, start_broker, start_namesrv, wait_until
from tests.support.rpc import call

pytestmark = pytest.mark.timeout(300)


class Cluster:
    def __init__(self, ns, broker) -> None:  # noqa: ANN001
        self.ns, self.broker = ns, broker


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("mqadmin")
    ns = start_namesrv(home / "ns")
    broker = start_broker(home / "broker", ns.addr)
    try:
        yield Cluster(ns, broker)
    finally:
        broker.kill()
        ns.kill()


def mq(*args: str, ns: str | None = None, env: dict | None = None) -> tuple[int, str, str]:
    """Run mqadmin in-process; returns (exit code, stdout, stderr)."""
    argv = [str(a) for a in args] + (["-n", ns] if ns else [])
    out, err = io.StringIO(), io.StringIO()
    old = dict(os.environ)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    try:
        rc = mqadmin.run(argv, out, err)
    finally:
        if env is not None:
            os.environ.clear()
            os.environ.update(old)
    return rc, out.getvalue(), err.getvalue()


def ok(*args: str, ns: str) -> str:
    rc, out, err = mq(*args, ns=ns)
    assert rc == 0, f"{args} -> {rc}\n{out}\n{err}"
    return out


def rows(text: str, first: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.startswith(first)]


@pytest.fixture(scope="module")
def topic(cluster) -> str:
    """TopicM with 4 queues and 3 messages (keys k0..k2, tag TagA)."""
    ok("updateTopic", "-c", "DefaultCluster", "-t", "TopicM", "-r", "4", "-w", "4", ns=cluster.ns.addr)
    for i in range(3):
        out = ok("sendMessage", "-t", "TopicM", "-p", f"body-{i}", "-k", f"k{i}", "-c", "TagA", "-b", "broker-a",
                 "-i", str(i), ns=cluster.ns.addr)
        assert rows(out, "broker-a")[0][:3] == ["broker-a", str(i), "SEND_OK"]
    return "TopicM"


# ------------------------------------------------------------------------------ frame
def test_command_list_help_and_usage_errors():
    rc, out, _ = mq()
    assert rc == 0 and out.startswith("The most commonly used mqadmin commands are:")
    for name in ("clusterList", "topicList", "queryMsgById", "getNamesrvConfig", "consumeMessage"):
        assert f"   {name:<20} " in out
    rc, out, _ = mq("help", "updateTopic")
    assert rc == 0
    assert out.splitlines()[0].startswith("usage: mqadmin updateTopic [-a <arg>] (-b <arg> | -c <arg>) [-h]")  # 5.x
    assert " -t,--topic <arg>" in out and " -n,--namesrvAddr <arg>" in out
    rc, _, err = mq("noSuchCommand")
    assert rc == 1 and "The sub command noSuchCommand not exist." in err
    rc, out, err = mq("topicRoute", ns="127.0.0.1:1")
    assert rc == 1 and "Missing required option: t" in err and out.startswith("usage: mqadmin topicRoute")
    rc, out, err = mq("updateTopic", "-t", "X", ns="127.0.0.1:1")
    assert rc == 1 and "Missing required option" in err


def test_no_name_server_is_one_line_and_exit_1(cluster):
    env = {k: v for k, v in os.environ.items() if k != "NAMESRV_ADDR"}
    rc, out, err = mq("clusterList", env=env)
    assert rc == 1 and out == ""
    assert err.strip().splitlines() == ["mqadmin: no name server address: give -n <addr[;addr]> or set NAMESRV_ADDR"]
    dead = f"127.0.0.1:{free_port()}"
    rc, out, err = mq("topicList", ns=f"{dead},{dead}")
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "no name server answered" in err
    # NAMESRV_ADDR works, and a dead first name server is skipped
    rc, out, _ = mq("topicList", env={**env, "NAMESRV_ADDR": f"{dead};{cluster.ns.addr}"})
    assert rc == 0 and "TBW102" in out.split()


def test_bin_mqadmin_script_exit_codes(cluster):
    env = {k: v for k, v in os.environ.items() if k != "NAMESRV_ADDR"}
    cp = subprocess.run(["bash", str(ROOT / "bin" / "mqadmin"), "clusterList", "-n", cluster.ns.addr],
                        capture_output=True, text=True, timeout=60, env=env)
    assert cp.returncode == 0 and rows(cp.stdout, "DefaultCluster")[0][1] == "broker-a"
    cp = subprocess.run(["bash", str(ROOT / "bin" / "mqadmin"), "clusterList"], capture_output=True, text=True,
                        timeout=60, env=env)
    assert cp.returncode == 1 and "no name server address" in cp.stderr


# ------------------------------------------------------------------------------ cluster / broker
def test_cluster_list(cluster):
    out = ok("clusterList", ns=cluster.ns.addr)
    header, *lines = out.splitlines()
    assert header.split()[:5] == ["#Cluster", "Name", "#Broker", "Name", "#BID"]
    assert header == mqadmin.cmd_cluster.HEADER.replace("%n", "") % (
        "#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Version", "#InTPS(LOAD)", "#OutTPS(LOAD)",
        "#PCWait(ms)", "#Hour", "#SPACE")
    [row] = rows(out, "DefaultCluster")
    assert row[:5] == ["DefaultCluster", "broker-a", "0", cluster.broker.addr, "V4_9_8"]
    assert row[5].endswith("(0,0ms)") and float(row[-1]) >= 0
    [more] = rows(ok("clusterList", "-m", ns=cluster.ns.addr), "DefaultCluster")
    assert more[:2] == ["DefaultCluster", "broker-a"] and len(more) == 6
    [record] = json.loads(ok("clusterList", "--json", ns=cluster.ns.addr))
    assert record["addr"] == cluster.broker.addr and record["masterDown"] is False


def test_broker_status_and_config(cluster):
    out = ok("brokerStatus", "-b", cluster.broker.addr, ns=cluster.ns.addr)
    table = dict(line.split(": ", 1) for line in out.splitlines())
    assert table["brokerVersionDesc".ljust(32)] == "V4_9_8"
    assert list(table) == sorted(table)
    out = ok("brokerStatus", "-c", "DefaultCluster", ns=cluster.ns.addr)
    assert all(line.startswith(cluster.broker.addr) for line in out.splitlines())
    out = ok("getBrokerConfig", "-b", cluster.broker.addr, ns=cluster.ns.addr)
    assert out.startswith(f"============{cluster.broker.addr}============\n")
    assert "brokerName".ljust(50) + "=  broker-a" in out.splitlines()
    out = ok("updateBrokerConfig", "-b", cluster.broker.addr, "-k", "maxMessageSize", "-v", "4194305",
             ns=cluster.ns.addr)
    assert out == f"update broker config success, {cluster.broker.addr}\n"
    assert json.loads(ok("getBrokerConfig", "-c", "DefaultCluster", "--json",
                         ns=cluster.ns.addr))[cluster.broker.addr]["maxMessageSize"] == "4194305"
    rc, _, err = mq("updateBrokerConfig", "-b", cluster.broker.addr, "-k", "brokerConfigPath", "-v", "/x",
                    ns=cluster.ns.addr)
    assert rc == 1 and "CODE:" in err


# ------------------------------------------------------------------------------ topics
def test_topic_commands(cluster, topic):
    ns = cluster.ns.addr
    assert topic in ok("topicList", ns=ns).split()
    listed = {r[1]: r for r in rows(ok("topicList", "-c", ns=ns), "DefaultCluster")}
    assert listed[topic] == ["DefaultCluster", topic]
    route = ok("topicRoute", "-t", topic, ns=ns)
    assert route.startswith('{\n\t"brokerDatas":[\n\t\t{\n\t\t\t"brokerAddrs":{0:"' + cluster.broker.addr + '"\n\t\t\t},')
    assert '\t\t\t"readQueueNums":4,\n' in route
    listing = ok("topicRoute", "-t", topic, "-l", ns=ns)
    assert rows(listing, "DefaultCluster") == [["DefaultCluster", "broker-a", "{0=" + cluster.broker.addr + "}",
                                                  "4", "4", "6"]]
    assert rows(listing, "Total:") == [["Total:", "1", "4", "4"]]
    status = rows(ok("topicStatus", "-t", topic, ns=ns), "broker-a")
    assert [r[:4] for r in status] == [["broker-a", "0", "0", "1"], ["broker-a", "1", "0", "1"],
                                       ["broker-a", "2", "0", "1"], ["broker-a", "3", "0", "0"]]
    assert len(status[0]) == 6 and len(status[3]) == 4  # date + time only where something was stored
    assert ok("topicClusterList", "-t", topic, ns=ns) == "DefaultCluster\n"
    assert json.loads(ok("topicClusterList", "-t", topic, "--json", ns=ns)) == ["DefaultCluster"]


def test_update_topic_perm_and_delete_topic(cluster):
    ns, addr = cluster.ns.addr, cluster.broker.addr
    out = ok("updateTopic", "-b", addr, "-t", "TopicPerm", "-r", "2", "-w", "2", ns=ns)
    assert out == (f"create topic to {addr} success.\nTopicConfig [topicName=TopicPerm, readQueueNums=2, "
                   "writeQueueNums=2, perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false]")
    wait_until(lambda: mq("topicRoute", "-t", "TopicPerm", ns=ns)[0] == 0, 10, message="route of TopicPerm")
    out = ok("updateTopicPerm", "-b", addr, "-t", "TopicPerm", "-p", "4", ns=ns)
    assert out.splitlines()[0] == f"update topic perm from 6 to 4 in {addr} success."
    assert "perm=R--" in out
    wait_until(lambda: json.loads(ok("topicRoute", "-t", "TopicPerm", "--json", ns=ns))["queueDatas"][0]["perm"] == 4,
               10, message="perm 4 in the route")
    assert ok("updateTopicPerm", "-b", addr, "-t", "TopicPerm", "-p", "4", ns=ns) == "new perm equals to the old one!\n"
    out = ok("updateTopicPerm", "-c", "DefaultCluster", "-t", "TopicPerm", "-p", "6", ns=ns)
    assert out == f"update topic perm from 4 to 6 in {addr} success.\n"
    out = ok("deleteTopic", "-c", "DefaultCluster", "-t", "TopicPerm", ns=ns)
    assert out == ("delete topic [TopicPerm] from cluster [DefaultCluster] success.\n"
                   "delete topic [TopicPerm] from NameServer success.\n")
    rc, _, err = mq("topicRoute", "-t", "TopicPerm", ns=ns)
    assert rc == 1 and "CODE: 17" in err


def test_order_topic_sets_order_conf(cluster):
    ns = cluster.ns.addr
    out = ok("updateTopic", "-c", "DefaultCluster", "-t", "TopicOrd", "-w", "2", "-r", "2", "-o", "true", ns=ns)
    assert "set cluster orderConf. isOrder=true, orderConf=[broker-a:2]" in out
    response = call(ns, RequestCode.GET_KV_CONFIG, {"namespace": "ORDER_TOPIC_CONFIG", "key": "TopicOrd"})
    assert response.ext_fields["value"] == "broker-a:2"


# ------------------------------------------------------------------------------ groups
def test_sub_group_create_and_delete(cluster):
    ns, addr = cluster.ns.addr, cluster.broker.addr
    out = ok("updateSubGroup", "-c", "DefaultCluster", "-g", "GroupSub", "-r", "3", "-m", "true", ns=ns)
    assert out == (f"create subscription group to {addr} success.\nSubscriptionGroupConfig [groupName=GroupSub, "
                   "consumeEnable=true, consumeFromMinEnable=true, consumeBroadcastEnable=false, retryQueueNums=1, "
                   "retryMaxTimes=3, brokerId=0, whichBrokerWhenConsumeSlowly=1, notifyConsumerIdsChangedEnable=true]")
    groups = json.loads(call(addr, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG).body)["subscriptionGroupTable"]
    assert groups["GroupSub"]["retryMaxTimes"] == 3
    out = ok("deleteSubGroup", "-b", addr, "-g", "GroupSub", ns=ns)
    assert out == f"delete subscription group [GroupSub] from broker [{addr}] success.\n"
    groups = json.loads(call(addr, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG).body)["subscriptionGroupTable"]
    assert "GroupSub" not in groups


@pytest.fixture(scope="module")
def consumer(cluster, topic):
    """A live push consumer of GroupM that consumed the 3 messages of TopicM, and a live producer."""
    got: list = []
    config = ClientConfig(namesrv_addr=cluster.ns.addr, persist_consumer_offset_interval=0.3, instance_name="mqa")
    c = PushConsumer("GroupM", config=config, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    c.subscribe(topic, "*")
    c.register_listener(lambda msgs, ctx: got.extend(msgs))
    c.start()
    producer = Producer("PGroupM", config=ClientConfig(namesrv_addr=cluster.ns.addr, heartbeat_broker_interval=0.3,
                                                       instance_name="mqp")).start()
    try:
        producer.fetch_publish_queues(topic)  # learns the broker, so heartbeats reach it
        wait_until(lambda: len(got) >= 3, 30, message="3 messages consumed")
        wait_until(lambda: mq("producerConnection", "-g", "PGroupM", "-t", topic, ns=cluster.ns.addr)[0] == 0, 30,
                   message="producer heartbeat")
        wait_until(lambda: "Diff Total: 0" in mq("consumerProgress", "-g", "GroupM", ns=cluster.ns.addr)[1], 30,
                   message="offsets committed")
        yield c
    finally:
        producer.shutdown()
        c.shutdown()


def test_consumer_progress_connection_status(cluster, topic, consumer):
    ns = cluster.ns.addr
    out = ok("consumerProgress", "-g", "GroupM", ns=ns)
    queue_rows = rows(out, topic)
    assert [r[:6] for r in queue_rows] == [[topic, "broker-a", str(i), "1" if i < 3 else "0",
                                            "1" if i < 3 else "0", "0"] for i in range(4)]
    assert queue_rows[3][6] == "N/A" and out.endswith("Diff Total: 0\n") and "Consume TPS: " in out
    listing = {r[0]: r for r in rows(ok("consumerProgress", ns=ns), "GroupM")}
    assert listing["GroupM"][1:5] == ["1", "V4_9_8", "PUSH", "CLUSTERING"]
    out = ok("consumerConnection", "-g", "GroupM", ns=ns)
    [conn] = [line.split() for line in out.splitlines() if "@mqa" in line]
    assert conn[2:] == ["PYTHON", "V4_9_8"]
    assert rows(out, topic) == [[topic, "*"]] and "ConsumeType: CONSUME_PASSIVELY" in out
    assert "MessageModel: CLUSTERING" in out
    out = ok("consumerStatus", "-g", "GroupM", "-i", conn[0], ns=ns)
    assert out.startswith("#Consumer Properties#\n") and "#Consumer Offset#" in out
    rc, _, err = mq("consumerConnection", "-g", "NoSuchGroup", ns=ns)
    assert rc == 1 and "mqadmin: consumerConnection:" in err


def test_producer_connection_and_broker_consume_stats(cluster, topic, consumer):
    ns = cluster.ns.addr
    out = ok("producerConnection", "-g", "PGroupM", "-t", topic, ns=ns)
    [row] = [line.split() for line in out.splitlines()]
    assert row[0] == "0001" and row[3:] == ["PYTHON", "V4_9_8"]
    out = ok("brokerConsumeStats", "-b", cluster.broker.addr, ns=ns)
    assert out.splitlines()[0].split() == ["#Topic", "#Group", "#Broker", "Name", "#QID", "#Broker", "Offset",
                                           "#Consumer", "Offset", "#Diff", "#LastTime"]
    assert [r[:7] for r in rows(out, topic)] == [[topic, "GroupM", "broker-a", str(i), "1", "1", "0"] for i in range(3)]
    assert out.endswith("Diff Total: 0\n")


def test_reset_offset_and_clone_group_offset(cluster, topic, consumer):
    ns = cluster.ns.addr
    out = ok("cloneGroupOffset", "-s", "GroupM", "-d", "GroupClone", "-t", topic, ns=ns)
    assert out == f"clone group offset success. srcGroup[GroupM], destGroup=[GroupClone], topic[{topic}]"
    offsets = json.loads(call(cluster.broker.addr, RequestCode.GET_ALL_CONSUMER_OFFSET).body)["offsetTable"]
    assert offsets[f"{topic}@GroupClone"] == {"0": 1, "1": 1, "2": 1, "3": 0}
    # GroupClone has no consumer online: the old method (write offsets to the broker) is used
    out = ok("resetOffsetByTime", "-g", "GroupClone", "-t", topic, "-s", "0", ns=ns)
    assert out.startswith("rollback consumer offset by specified consumerGroup[GroupClone], topic[TopicM], force[true]")
    assert [r for r in rows(out, "broker-a")] == [["broker-a", str(i), "1" if i < 3 else "0", "1" if i < 3 else "0",
                                                   "0", "0"] for i in range(4)]
    # GroupM is online: the broker resets and tells the consumer
    out = ok("resetOffsetByTime", "-g", "GroupM", "-t", topic, "-s", "now", ns=ns)
    assert out.startswith("rollback consumer offset by specified group[GroupM], topic[TopicM], force[true], "
                          "timestamp(string)[now], timestamp(long)[-1]")
    assert sorted(rows(out, "broker-a")) == [["broker-a", str(i), "1" if i < 3 else "0"] for i in range(4)]


def test_stats_all(cluster, topic, consumer):
    out = ok("statsAll", "-t", topic, ns=cluster.ns.addr)
    header, *lines = out.splitlines()
    assert header.split() == ["#Topic", "#Consumer", "Group", "#Accumulation", "#InTPS", "#OutTPS", "#InMsg24Hour",
                              "#OutMsg24Hour"]
    by_group = {line.split()[1]: line.split() for line in lines}
    assert by_group["GroupM"][:3] == [topic, "GroupM", "0"]  # GroupClone (reset to 0 above) may be listed too


# ------------------------------------------------------------------------------ messages
def _offset_id(ns: str, topic: str, key: str) -> dict:
    [found] = json.loads(ok("queryMsgByKey", "-t", topic, "-k", key, "--json", ns=ns))
    return found


def test_query_messages(cluster, topic):
    ns = cluster.ns.addr
    out = ok("queryMsgByKey", "-t", topic, "-k", "k1", ns=ns)
    [row] = rows(out, "")[1:]
    found = _offset_id(ns, topic, "k1")
    assert row == [found["msgId"], "1", "0"]
    out = ok("queryMsgById", "-i", found["offsetMsgId"], ns=ns)
    detail = dict((line[:20].strip(), line[21:]) for line in out.splitlines() if len(line) > 21 and line[20] == " ")
    assert detail["OffsetID:"] == found["offsetMsgId"] and detail["Topic:"] == topic
    assert detail["Tags:"] == "[TagA]" and detail["Keys:"] == "[k1]" and detail["Queue ID:"] == "1"
    assert detail["Store Host:"] == cluster.broker.addr
    assert detail["Message Body Path:"] == f"/tmp/rocketmq/msgbodys/{found['msgId']}"
    assert Path(detail["Message Body Path:"]).read_bytes() == b"body-1"
    assert f"UNIQ_KEY={found['msgId']}" in detail["Properties:"]
    out = ok("queryMsgByUniqueKey", "-t", topic, "-i", found["msgId"], ns=ns)
    assert out.startswith(f"{'Topic:':<20} {topic}\n") and "OffsetID:" not in out
    out = ok("queryMsgByOffset", "-t", topic, "-b", "broker-a", "-i", "2", "-o", "0", ns=ns)
    assert f"{'Keys:':<20} [k2]\n" in out and f"{'Queue Offset:':<20} 0\n" in out
    rc, _, err = mq("queryMsgById", "-i", "7F00000100002A9F0000000000FFFFFF", ns=ns)
    assert rc == 1 and len(err.splitlines()) == 1


def test_print_and_consume_messages(cluster, topic):
    ns = cluster.ns.addr
    ok("updateTopic", "-c", "DefaultCluster", "-t", "TopicPrint", "-r", "2", "-w", "2", ns=ns)
    for i in range(2):
        ok("sendMessage", "-t", "TopicPrint", "-p", f"print-{i}", "-c", "TagP", "-b", "broker-a", "-i", str(i), ns=ns)
    out = ok("printMsg", "-t", "TopicPrint", "-d", "true", ns=ns)
    bodies = sorted(line.rsplit("BODY: ", 1)[1] for line in out.splitlines() if line.startswith("MSGID: "))
    assert bodies == ["print-0", "print-1"]
    assert out.count("--------------------------------------------------------\n") == 2
    assert "minOffset=0, maxOffset=1, MessageQueue [topic=TopicPrint, brokerName=broker-a, queueId=0]" in out
    assert "toString()=Message{topic='TopicPrint', flag=0, properties={" in out
    out = ok("printMsgByQueue", "-t", topic, "-a", "broker-a", "-i", "1", "-p", "true", "-d", "true", "-f", "true",
             ns=ns)
    assert out.splitlines()[-1].split() == ["Tag:", "TagA", "Count:", "1"] and "BODY: body-1" in out
    out = ok("consumeMessage", "-t", topic, "-b", "broker-a", "-i", "0", ns=ns)
    assert out.startswith("Consume ok\nMSGID: ") and "BODY: body-0" in out
    assert "print msg finished. status=NO_NEW_MSG, offset=1" in out
    out = ok("consumeMessage", "-t", "TopicPrint", "-c", "2", ns=ns)
    assert out.count("Consume ok") == 1  # upstream counts each queue range one message too many


def test_print_msg_over_an_empty_queue(cluster, topic):
    assert mq("printMsg", "-t", topic, ns=cluster.ns.addr)[0] == 0


def test_cluster_rt_reports_each_broker(cluster):
    env = {k: v for k, v in os.environ.items() if k != "NAMESRV_ADDR"}
    proc = subprocess.Popen([sys.executable, "-m", "pocketmq.tools.mqadmin", "clusterRT", "-a", "3", "-i", "60",
                             "-n", cluster.ns.addr], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split() == ["#Cluster", "Name", "#Broker", "Name", "#RT", "#successCount", "#failCount"]
        row = proc.stdout.readline().split()
        assert row[:2] == ["DefaultCluster", "broker-a"] and row[3:] == ["3", "0"]
    finally:
        proc.kill()
        proc.wait(10)


# ------------------------------------------------------------------------------ name server
def test_kv_and_namesrv_config(cluster):
    ns = cluster.ns.addr
    assert ok("updateKvConfig", "-s", "NS1", "-k", "k", "-v", "v1", ns=ns) == \
        "create or update kv config to namespace success.\n"
    assert call(ns, RequestCode.GET_KV_CONFIG, {"namespace": "NS1", "key": "k"}).ext_fields["value"] == "v1"
    assert ok("deleteKvConfig", "-s", "NS1", "-k", "k", ns=ns) == "delete kv config from namespace success.\n"
    assert call(ns, RequestCode.GET_KV_CONFIG, {"namespace": "NS1", "key": "k"}).code == 22
    out = ok("getNamesrvConfig", ns=ns)
    assert out.startswith(f"============{ns}============\n") and "listenPort".ljust(50) + "=  " in out
    out = ok("updateNamesrvConfig", "-k", "orderMessageEnable", "-v", "true", ns=ns)
    assert out == f"update name server config success![{ns}]\norderMessageEnable : true\n"
    assert json.loads(ok("getNamesrvConfig", "--json", ns=ns))[ns]["orderMessageEnable"] == "true"
    rc, _, err = mq("updateNamesrvConfig", "-k", "kvConfigPath", "-v", "/tmp/x", ns=ns)
    assert rc == 1 and "CODE: " in err


def test_wipe_and_add_write_perm(cluster, topic):
    ns = cluster.ns.addr
    out = ok("wipeWritePerm", "-b", "broker-a", ns=ns)
    assert out.startswith(f"wipe write perm of broker[broker-a] in name server[{ns}] OK, ")
    assert int(out.split(", ")[-1]) > 0
    assert json.loads(ok("topicRoute", "-t", topic, "--json", ns=ns))["queueDatas"][0]["perm"] == 4
    out = ok("addWritePerm", "-b", "broker-a", ns=ns)
    assert out.startswith(f"add write perm of broker[broker-a] in name server[{ns}] OK, ")
    assert json.loads(ok("topicRoute", "-t", topic, "--json", ns=ns))["queueDatas"][0]["perm"] == 6
    dead = f"127.0.0.1:{free_port()}"
    rc, out, err = mq("wipeWritePerm", "-b", "broker-a", ns=f"{dead};{ns}")
    assert rc == 1 and out.splitlines()[0] == f"wipe write perm of broker[broker-a] in name server[{dead}] Failed"
    ok("addWritePerm", "-b", "broker-a", ns=ns)
