"""The admin requests dashboards and exporters call (issue 14), through the official 4.9.7
``DefaultMQAdminExt`` (our Java driver's ``admin`` actions), against PocketMQ and against Apache
RocketMQ 4.9.7 in the same test, comparing the shape and the figures of the answers:
VIEW_BROKER_STATS_DATA (315), GET_ALL_PRODUCER_INFO (328), QUERY_CONSUME_QUEUE (321),
QUERY_CONSUME_TIME_SPAN (303), GET_BROKER_CLUSTER_ACL_INFO/CONFIG (52/54) with ACL off, and the
clean-ups CLEAN_EXPIRED_CONSUMEQUEUE (306), CLEAN_UNUSED_TOPIC (316), DELETE_EXPIRED_COMMITLOG (329).
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass

import pytest

from clients import java_mqadmin, run_java_driver, start_java_driver  # type: ignore[import-not-found]
from pocketmq.tools import mqadmin
from tests.support.processes import start_broker, start_namesrv, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]

SENT = 6


@dataclass
class Side:
    name: str
    ns: str
    broker: str


def admin(side: Side, *args: object, timeout_ms: int = 5000) -> dict:
    """One admin action; returns its event (or the broker-error / timeout-error event)."""
    events = run_java_driver(["admin", *[str(a) for a in args], "--timeout-ms", timeout_ms], namesrv=side.ns,
                             check=False)
    return [e for e in events if e["event"] != "done"][-1]


def stats(side: Side, name: str, key: str) -> dict:
    return admin(side, "stats-data", "--broker-addr", side.broker, "--stats-name", name, "--stats-key", key)


@pytest.fixture(scope="module")
def pocket(tmp_path_factory, interop_ready):
    home = tmp_path_factory.mktemp("inspect")
    ns = start_namesrv(home / "ns")
    broker = start_broker(home / "broker", ns.addr, extra={"brokerClusterName": "DefaultCluster"})
    try:
        yield Side("pocketmq", ns.addr, broker.addr)
    finally:
        broker.kill()
        ns.kill()


@pytest.fixture(scope="module")
def apache(apache_cluster):
    return Side("apache", apache_cluster.namesrv_addr, apache_cluster.broker.addr)


def scenario(side: Side) -> dict[str, dict]:
    """The same traffic on either side, then every inspecting call; returns the answers by name."""
    topic, group, producer_group = f"Insp{int(time.time() * 1000)}", "InspGroup", "InspProducers"
    admin(side, "create-topic", "--topic", topic, "--broker-addr", side.broker, "--queues", 4)
    answers: dict[str, dict] = {"topic": {"name": topic}}
    with start_java_driver(["produce", "--topic", topic, "--count", SENT, "--group", producer_group,
                            "--queue-id", 0, "--linger-ms", 60000], namesrv=side.ns) as producer:
        events = producer.wait_for("lingering", 90)
        msg_id = next(e["msgId"] for e in events if e["event"] == "send")
        answers["producers"] = wait_until(
            lambda: (a := admin(side, "producer-info", "--broker-addr", side.broker))["data"].get(producer_group) and a,
            40, interval=1.0, message="producer registered")
    consumed = run_java_driver(["push-consume", "--topic", topic, "--group", group, "--count", SENT, "--timeout", 90,
                                "--from", "first", "--commit-sync"], namesrv=side.ns)
    [committed] = [e["offsets"] for e in consumed if e["event"] == "committed"]
    assert committed.get("0") == SENT, committed
    # Both brokers sample every 10 s: wait for the minute window to hold the traffic.
    answers["put_nums"] = wait_until(lambda: (a := stats(side, "TOPIC_PUT_NUMS", topic)).get("statsMinute", {})
                                     .get("sum") == SENT and a, 60, interval=2.0, message="TOPIC_PUT_NUMS")
    answers["get_nums"] = wait_until(lambda: (a := stats(side, "GROUP_GET_NUMS", f"{topic}@{group}"))
                                     .get("statsMinute", {}).get("sum") == SENT and a, 60, interval=2.0,
                                     message="GROUP_GET_NUMS")
    answers["put_size"] = stats(side, "TOPIC_PUT_SIZE", topic)
    answers["get_size"] = stats(side, "GROUP_GET_SIZE", f"{topic}@{group}")
    answers["broker_put"] = stats(side, "BROKER_PUT_NUMS", "DefaultCluster")
    answers["missing_stats"] = stats(side, "TOPIC_PUT_NUMS", "NoSuchTopic")
    answers["cq"] = admin(side, "query-cq", "--broker-addr", side.broker, "--topic", topic, "--queue-id", 0,
                          "--index", 1, "--count", 3, "--group", group)
    answers["cq_missing_queue"] = admin(side, "query-cq", "--broker-addr", side.broker, "--topic", "NoSuchTopic",
                                        "--queue-id", 0, "--index", 0, "--count", 3)
    answers["cq_past_end"] = admin(side, "query-cq", "--broker-addr", side.broker, "--topic", topic,
                                   "--queue-id", 0, "--index", 100, "--count", 3)
    # The consumer committed queue 0's offset with an answered request before it stopped.
    answers["span"] = admin(side, "time-span", "--topic", topic, "--group", group)
    answers["acl_info"] = admin(side, "acl-info", "--broker-addr", side.broker, timeout_ms=3000)
    answers["acl_config"] = admin(side, "acl-config", "--broker-addr", side.broker, timeout_ms=3000)
    for action in ("clean-expired-cq", "clean-unused-topic", "delete-expired-commitlog"):
        answers[action] = admin(side, action, "--broker-addr", side.broker)
    answers["resume-half"] = admin(side, "resume-half", "--topic", topic, "--msg-id", msg_id)
    return answers


def shape(value: object) -> object:
    """Keys and value types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def test_inspecting_admin_requests_answer_as_apache(pocket, apache):
    ours, theirs = scenario(pocket), scenario(apache)

    # 328: one live Java producer in the group, same fields.
    [mine] = ours["producers"]["data"]["InspProducers"]
    [upstream] = theirs["producers"]["data"]["InspProducers"]
    assert shape(mine) == shape(upstream)
    assert mine["language"] == upstream["language"] == "JAVA" and mine["remoteIP"].startswith("/127.0.0.1:")
    assert abs(mine["lastUpdateTimestamp"] - time.time() * 1000) < 120_000

    # 315: the windows, their figures and the "not exist" refusal.
    for name in ("put_nums", "get_nums", "put_size", "get_size", "broker_put"):
        assert shape(ours[name]) == shape(theirs[name]), name
    for name in ("put_nums", "get_nums"):
        assert ours[name]["statsMinute"]["sum"] == theirs[name]["statsMinute"]["sum"] == SENT
        assert ours[name]["statsMinute"]["tps"] > 0 and ours[name]["statsMinute"]["avgpt"] > 0
    assert ours["put_size"]["statsMinute"]["sum"] > SENT * 10
    assert ours["broker_put"]["statsMinute"]["sum"] >= SENT and ours["broker_put"]["statsMinute"]["avgpt"] == 0
    assert ours["missing_stats"] == theirs["missing_stats"] == {
        "event": "broker-error", "code": 1, "message": "The stats <TOPIC_PUT_NUMS> <NoSuchTopic> not exist"}

    # 321: max/min index and the 20-byte units from index 1 on (all SENT went to queue 0).
    for answers in (ours, theirs):
        cq = answers["cq"]
        assert (cq["minQueueIndex"], cq["maxQueueIndex"]) == (0, SENT)
        assert len(cq["queueData"]) == 3 and all(u["physicSize"] > 0 for u in cq["queueData"])
        assert cq["filterData"] == f"InspGroup@{answers['topic']['name']} is not online!"
        assert cq["subscriptionData"] is None
    assert shape(ours["cq"]["queueData"]) == shape(theirs["cq"]["queueData"])
    assert [u["physicSize"] for u in ours["cq"]["queueData"]] == [u["physicSize"] for u in theirs["cq"]["queueData"]]
    assert ours["cq_missing_queue"] == theirs["cq_missing_queue"] == {
        "event": "broker-error", "code": 1, "message": "0@NoSuchTopic is not exist!"}
    # Past the end a 4.9.7 broker answers success with no body, which its own client cannot decode.
    assert ours["cq_past_end"]["event"] == theirs["cq_past_end"]["event"] == "error"
    assert "NullPointerException" in ours["cq_past_end"]["error"] and "NullPointerException" in theirs["cq_past_end"]["error"]

    # 303: one span per queue, the consumed queue 0 fully caught up.
    assert shape(ours["span"]) == shape(theirs["span"])
    for answers in (ours, theirs):
        spans = sorted(answers["span"]["spans"], key=lambda s: s["messageQueue"]["queueId"])
        assert len(spans) == 4 and spans[0]["delayTime"] == 0 and spans[0]["minTimeStamp"] > 0

    # 52/54 with ACL off: a 4.9.7 broker never answers (the call times out); PocketMQ says why.
    for name in ("acl_info", "acl_config"):
        assert theirs[name]["event"] == "timeout-error", theirs[name]
        assert ours[name]["event"] == "broker-error" and "aclEnable=false" in ours[name]["message"]

    for action in ("clean-expired-cq", "clean-unused-topic", "delete-expired-commitlog", "resume-half"):
        assert ours[action]["ok"] is True and theirs[action]["ok"] is True, (action, ours[action], theirs[action])


# ---- mqadmin: statsAll, queryCq, producer and the clean-ups, official vs ours ------------------

def official_mqadmin(args: list[str], ns: str) -> str:
    cp = java_mqadmin(args, namesrv=ns, timeout=60)
    assert cp.returncode == 0 and "Exception" not in cp.stdout + cp.stderr, cp.stdout + cp.stderr
    return cp.stdout


def our_mqadmin(args: list[str], ns: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert mqadmin.run([*args, "-n", ns], out, err) == 0, err.getvalue()
    return out.getvalue()


def comparable(command: str, text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not re.match(r"^\d\d:\d\d:\d\d\.\d+ \[", line)]  # client logs
    if command == "statsAll":  # #InTPS and #OutTPS are live rates
        return [" ".join(p for i, p in enumerate(line.split()) if i not in (3, 4)) for line in lines]
    if command == "producer":  # the heartbeat time moves between the two calls
        return [re.sub(r"lastUpdateTimestamp=\d+", "lastUpdateTimestamp=T", line) for line in lines]
    return lines


def test_mqadmin_inspecting_commands_print_as_upstream(pocket, apache):
    for side in (pocket, apache):
        topic, group = f"InspCmd{int(time.time() * 1000)}", "InspCmdGroup"
        admin(side, "create-topic", "--topic", topic, "--broker-addr", side.broker, "--queues", 2)
        with start_java_driver(["produce", "--topic", topic, "--count", 4, "--group", "InspCmdProducers",
                                "--queue-id", 1, "--tags", "TagA", "--linger-ms", 90000], namesrv=side.ns) as producer:
            producer.wait_for("lingering", 90)
            with start_java_driver(["push-consume", "--topic", topic, "--group", group, "--count", 4, "--timeout",
                                    90, "--from", "first", "--linger-ms", 90000], namesrv=side.ns) as consumer:
                consumer.wait_for(lambda evs: sum(e["event"] == "msg" for e in evs) >= 4, 90)
                wait_until(lambda: stats(side, "GROUP_GET_NUMS", f"{topic}@{group}").get("statsMinute", {})
                           .get("sum") == 4, 60, interval=2.0, message="GROUP_GET_NUMS")
                wait_until(lambda: "InspCmdProducers" in our_mqadmin(["producer", "-b", side.broker], side.ns), 40,
                           interval=1.0, message="producer registered")
                # statsAll's #Accumulation counts committed offsets (the client commits every 5 s)
                wait_until(lambda: admin(side, "consume-stats", "--group", group).get("diffTotal") == 0, 40,
                           interval=1.0, message="offsets committed")
                commands = [["statsAll", "-t", topic], ["producer", "-b", side.broker],
                            ["queryCq", "-t", topic, "-q", "1", "-i", "1", "-c", "2", "-g", group, "-b", side.broker],
                            ["queryCq", "-t", topic, "-q", "1", "-i", "0", "-b", side.broker],
                            ["cleanExpiredCQ", "-b", side.broker], ["deleteExpiredCommitLog", "-b", side.broker],
                            ["cleanUnusedTopic", "-b", side.broker]]
                for args in commands:
                    upstream, mine = official_mqadmin(args, side.ns), our_mqadmin(args, side.ns)
                    assert comparable(args[0], mine) == comparable(args[0], upstream), (side.name, args, mine, upstream)
                # 223: the broker asks the live Java consumer for its offsets (221) and relays them.
                status = admin(side, "consume-status", "--topic", topic, "--group", group)
                [(client_id, offsets)] = status["consumerTable"].items()
                assert "@" in client_id and offsets[f"{topic}@broker-a@1"] == 4, (side.name, status)
                stats_row = our_mqadmin(["statsAll", "-t", topic], side.ns).splitlines()[1].split()
                assert stats_row[0] == topic and stats_row[1] == group and stats_row[-2:] == ["4", "4"], stats_row
                assert "Subscription data: " in our_mqadmin(commands[2], side.ns)


PLAIN_ACL = """\
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
    groupPerms:
      - groupA=DENY
  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
dataVersion:
  - timestamp: 1700000000000
    counter: 3
"""


def test_acl_read_outs_with_acl_enabled(tmp_path, interop_ready):
    """52/54 with aclEnable=true: the versions, accounts and white list of plain_acl.yml, as the
    official admin API decodes them, asked with an account of that file (the broker enforces it)."""
    home = tmp_path / "rocketmq-home"
    (home / "conf").mkdir(parents=True)
    (home / "conf" / "plain_acl.yml").write_text(PLAIN_ACL)
    ns = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", ns.addr, extra={"aclEnable": "true", "rocketmqHome": home,
                                                               "brokerClusterName": "AclCluster"})
    try:
        side = Side("pocketmq", ns.addr, broker.addr)
        signed = ("--access-key", "rocketmq2", "--secret-key", "12345678")
        info = admin(side, "acl-info", "--broker-addr", broker.addr, *signed)
        assert (info["clusterName"], info["brokerName"], info["brokerAddr"]) == ("AclCluster", "broker-a", broker.addr)
        assert info["aclConfigDataVersion"]["counter"] == 3
        assert info["aclConfigDataVersion"]["timestamp"] == 1700000000000
        [(path, version)] = info["allAclConfigDataVersion"].items()
        assert path.endswith("conf/plain_acl.yml") and version["counter"] == 3
        config = admin(side, "acl-config", "--broker-addr", broker.addr, *signed)
        assert config["globalWhiteAddrs"] == ["10.10.103.*", "192.168.0.*"]
        accounts = {a["accessKey"]: a for a in config["plainAccessConfigs"]}
        assert accounts["RocketMQ"]["topicPerms"] == ["topicA=DENY", "topicB=PUB|SUB"]
        assert accounts["RocketMQ"]["defaultGroupPerm"] == "SUB" and accounts["rocketmq2"]["admin"] is True
        assert accounts["rocketmq2"]["whiteRemoteAddress"] == "192.168.1.*"
    finally:
        broker.kill()
        ns.kill()
