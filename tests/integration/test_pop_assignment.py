"""`mqadmin setConsumeMode` (SET_MESSAGE_REQUEST_MODE, 401) and QUERY_ASSIGNMENT (400) against a
real broker: a group set to POP gets every broker of the topic with queue id -1 in POP mode, a
PULL group the averaged share of the queues; the mode survives a restart; bad input gets
upstream's codes."""

from __future__ import annotations

import io
import time
from pathlib import Path

import orjson

from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.tools import mqadmin
from tests.support.cluster import create_topic
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import RpcSession

TOPIC = "AssignTopic"


def mq(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return mqadmin.run([str(a) for a in args], out, err), out.getvalue(), err.getvalue()


def heartbeat(rpc: RpcSession, addr: str, client_id: str, group: str) -> None:
    body = {"clientID": client_id, "consumerDataSet": [{
        "groupName": group, "consumeType": "CONSUME_PASSIVELY", "messageModel": "CLUSTERING",
        "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET", "unitMode": False, "subscriptionDataSet": [{
            "topic": TOPIC, "subString": "*", "tagsSet": [], "codeSet": [], "subVersion": int(time.time() * 1000),
            "expressionType": "TAG", "classFilterMode": False}]}], "producerDataSet": []}
    assert rpc.call(addr, RequestCode.HEART_BEAT, body=orjson.dumps(body)).code == ResponseCode.SUCCESS


def assignment(rpc: RpcSession, addr: str, client_id: str, group: str) -> list[tuple[str, int, str]]:
    body = {"topic": TOPIC, "consumerGroup": group, "clientId": client_id, "strategyName": "AVG",
            "messageModel": "CLUSTERING"}
    response = rpc.call(addr, RequestCode.QUERY_ASSIGNMENT, body=orjson.dumps(body))
    assert response.code == ResponseCode.SUCCESS, response.remark
    found = orjson.loads(response.body)["messageQueueAssignments"] or []
    return sorted((a["messageQueue"]["brokerName"], a["messageQueue"]["queueId"], a["mode"]) for a in found)


def test_set_consume_mode_and_query_assignment(tmp_path: Path) -> None:
    with start_namesrv(tmp_path / "ns") as ns:
        home = tmp_path / "b"
        with start_broker(home, ns.addr) as broker, RpcSession() as rpc:
            port = broker.port
            create_topic(broker.addr, TOPIC, queues=4)
            wait_until(lambda: mq("topicRoute", "-t", TOPIC, "-n", ns.addr)[0] == 0, 30, 0.3, "the route")
            rc, out, err = mq("setConsumeMode", "-c", "DefaultCluster", "-t", TOPIC, "-g", "GPOP", "-m", "POP",
                              "-n", ns.addr)
            assert rc == 0, err
            assert out == (f"set consume mode to {broker.addr} success.\n"
                           f"topic[{TOPIC}] group[GPOP] consume mode[POP] popShareQueueNum[0]")
            with RpcSession() as other:  # a consumer is one per connection
                for client, session in (("c1", rpc), ("c2", other)):
                    heartbeat(session, broker.addr, client, "GPOP")
                    heartbeat(session, broker.addr, client, "GPULL")
                assert assignment(rpc, broker.addr, "c1", "GPOP") == [("broker-a", -1, "POP")]
                assert assignment(rpc, broker.addr, "c1", "GPULL") == [("broker-a", 0, "PULL"),
                                                                       ("broker-a", 1, "PULL")]
                assert assignment(rpc, broker.addr, "c2", "GPULL") == [("broker-a", 2, "PULL"),
                                                                       ("broker-a", 3, "PULL")]
            rc, _, err = mq("setConsumeMode", "-b", broker.addr, "-t", "NoSuchTopicHere", "-g", "GPOP", "-m", "POP",
                            "-n", ns.addr)
            assert rc != 0 and "topic[NoSuchTopicHere] not exist" in err, err
            retry = rpc.call(broker.addr, RequestCode.SET_MESSAGE_REQUEST_MODE, body=orjson.dumps(
                {"topic": "%RETRY%GPOP", "consumerGroup": "GPOP", "mode": "POP", "popShareQueueNum": 0}))
            assert retry.code == ResponseCode.NO_PERMISSION
            bad = rpc.call(broker.addr, RequestCode.SET_MESSAGE_REQUEST_MODE, body=b"[1,2")
            assert bad.code == ResponseCode.SYSTEM_ERROR
            assert mq("setConsumeMode", "-b", broker.addr, "-t", TOPIC, "-g", "GPOP", "-m", "PUSH",
                      "-n", ns.addr)[0] != 0
        with start_broker(home, ns.addr, port=port) as broker, RpcSession() as rpc:
            heartbeat(rpc, broker.addr, "c1", "GPOP")
            assert assignment(rpc, broker.addr, "c1", "GPOP") == [("broker-a", -1, "POP")]
