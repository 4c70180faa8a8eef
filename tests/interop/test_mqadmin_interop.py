"""mqadmin interop both ways.

1. The official mqadmin (rocketmq-tools 4.9.7) runs clusterList, topicList, topicRoute, topicStatus,
   updateTopic, updateSubGroup, consumerProgress, brokerStatus and queryMsgById against PocketMQ and
   succeeds, printing what ours prints.
2. Our mqadmin runs the same against a real Apache RocketMQ 4.9.7 and prints the same rows as the
   official one (timestamps, TPS and other live counters aside).

The official mqadmin costs a JVM start per call, so each side runs every command once.
"""

from __future__ import annotations

import io
import re
import time

import pytest

from clients import java_mqadmin, run_java_driver  # type: ignore[import-not-found]
from pocketmq.tools import mqadmin
from tests.support.processes import start_broker, start_namesrv, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]


def ours(args: list[str], ns: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = mqadmin.run([*args, "-n", ns], out, err)
    return rc, out.getvalue(), err.getvalue()


def official(args: list[str], ns: str) -> str:
    cp = java_mqadmin(args, namesrv=ns, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert "Exception" not in cp.stdout + cp.stderr, cp.stdout + cp.stderr
    return cp.stdout


# Values that legitimately differ between two runs a few seconds apart.
_LIVE_KEYS = re.compile(r"^(\S*(Tps|TPS|runtime|Ratio|Capacity|Time\w*Max|DistributeTime|Latency|ratio)\S*)\s*:")


def comparable(command: str, text: str) -> list[str]:
    lines = text.splitlines()
    if command == "clusterList":  # #InTPS ... #SPACE are live
        return [" ".join(line.split()[:5]) for line in lines]
    if command == "brokerStatus":
        return [line.split(":")[0].rstrip() if _LIVE_KEYS.match(line) else line for line in lines]
    if command == "topicStatus":  # "#Last Updated" is a timestamp
        return [" ".join(line.split()[:4]) for line in lines]
    if command == "consumerProgress":
        return [" ".join(line.split()[:6]) for line in lines if not line.startswith("Consume TPS")]
    if command == "queryMsgById":  # the track's exceptionDesc is a Java exception text upstream
        return [line for line in lines if not line.startswith("MessageTrack")]
    return lines


@pytest.fixture(scope="module")
def pocket(tmp_path_factory, interop_ready):
    home = tmp_path_factory.mktemp("mqadmin-interop")
    ns = start_namesrv(home / "ns")
    broker = start_broker(home / "broker", ns.addr)
    try:
        yield ns, broker
    finally:
        broker.kill()
        ns.kill()


def _setup_messages(ns: str, topic: str, group: str) -> str:
    """A topic with 3 messages consumed by ``group``; returns the offset id of the message with key k1."""
    rc, out, err = ours(["updateTopic", "-c", "DefaultCluster", "-t", topic, "-r", "4", "-w", "4"], ns)
    assert rc == 0, err
    wait_until(lambda: ours(["topicRoute", "-t", topic], ns)[0] == 0, 20, message="topic route")
    for i in range(3):
        rc, _, err = ours(["sendMessage", "-t", topic, "-p", f"b{i}", "-k", f"k{i}", "-c", "TagA", "-b",
                           "broker-a", "-i", str(i)], ns)
        assert rc == 0, err
    run_java_driver(["push-consume", "--topic", topic, "--group", group, "--count", 3, "--timeout", 60], namesrv=ns)
    import json

    [found] = json.loads(ours(["queryMsgByKey", "-t", topic, "-k", "k1", "--json"], ns)[1])
    return found["offsetMsgId"]


def _commands(topic: str, group: str, broker_addr: str, msg_id: str) -> list[list[str]]:
    return [["clusterList"], ["topicList"], ["topicRoute", "-t", topic], ["topicStatus", "-t", topic],
            ["updateTopic", "-c", "DefaultCluster", "-t", topic + "_U", "-r", "2", "-w", "2"],
            ["updateSubGroup", "-c", "DefaultCluster", "-g", group + "_U"],
            ["consumerProgress", "-g", group], ["brokerStatus", "-b", broker_addr], ["queryMsgById", "-i", msg_id]]


def test_official_mqadmin_against_pocketmq(pocket):
    ns, broker = pocket
    topic, group = f"MqaTopic{int(time.time())}", "MqaGroup"
    msg_id = _setup_messages(ns.addr, topic, group)
    for args in _commands(topic, group, broker.addr, msg_id):
        text = official(args, ns.addr)
        rc, mine, err = ours(args, ns.addr)
        assert rc == 0, f"{args}: {err}"
        assert comparable(args[0], text) == comparable(args[0], mine), args
    assert f"{'Topic:':<20} {topic}" in text and f"{'Keys:':<20} [k1]" in text


def test_our_mqadmin_against_apache(apache_cluster):
    ns, broker = apache_cluster.namesrv_addr, apache_cluster.broker.addr
    # A fresh Apache broker fails GET_BROKER_RUNTIME_INFO for its first seconds (empty stats history).
    wait_until(lambda: ours(["clusterList"], ns)[1].count("V4_9_7") == 1, 60, interval=1.0,
               message="Apache runtime info")
    topic, group = f"MqaApache{int(time.time())}", "MqaApacheGroup"
    msg_id = _setup_messages(ns, topic, group)
    for args in _commands(topic, group, broker, msg_id):
        rc, mine, err = ours(args, ns)
        assert rc == 0, f"{args}: {err}"
        text = official(args, ns)
        assert comparable(args[0], mine) == comparable(args[0], text), args
