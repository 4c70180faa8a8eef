"""RocketMQ 5's topic attributes on a real broker: `mqadmin updateTopic -a +message.type=FIFO`
stores the type with the topic (printed back as 5.x's mqadmin does), GET_TOPIC_CONFIG and
GET_ALL_TOPIC_CONFIG show it, it survives a restart (topics.json), and a bad value is refused
with upstream's code and remark."""

from __future__ import annotations

import json
from pathlib import Path

from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.integration.test_mqadmin import mq
from tests.support.processes import start_broker, start_namesrv
from tests.support.rpc import call


def attributes_of(addr: str, topic: str) -> dict:
    response = call(addr, RequestCode.GET_TOPIC_CONFIG, {"topic": topic})
    assert response.code == ResponseCode.SUCCESS, response.remark
    return json.loads(response.body_bytes())["attributes"]


def test_message_type_is_stored_shown_and_kept(tmp_path: Path) -> None:
    with start_namesrv(tmp_path / "ns") as ns:
        home = tmp_path / "b"
        with start_broker(home, ns.addr) as broker:
            port = broker.port
            rc, out, err = mq("updateTopic", "-b", broker.addr, "-t", "TypedTopic", "-a", "+message.type=FIFO",
                              ns=ns.addr)
            assert rc == 0, err
            assert out.splitlines()[-1] == ("TopicConfig [topicName=TypedTopic, readQueueNums=8, writeQueueNums=8, "
                                            "perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false, "
                                            "attributes={+message.type=FIFO}]")
            assert attributes_of(broker.addr, "TypedTopic") == {"message.type": "FIFO"}
            every = json.loads(call(broker.addr, RequestCode.GET_ALL_TOPIC_CONFIG).body_bytes())
            assert every["topicConfigTable"]["TypedTopic"]["attributes"] == {"message.type": "FIFO"}
            rc, out, err = mq("updateTopic", "-b", broker.addr, "-t", "TypedTopic", "-a", "+message.type=SOMETIMES",
                              ns=ns.addr)
            assert rc != 0 and "value is not in set" in out + err
            missing = call(broker.addr, RequestCode.GET_TOPIC_CONFIG, {"topic": "NoSuchTypedTopic"})
            assert (missing.code, missing.remark) == (ResponseCode.TOPIC_NOT_EXIST,
                                                      "No topic in this broker. topic: NoSuchTypedTopic")
            assert broker.terminate() == 0
        with start_broker(home, ns.addr, port=port) as broker:
            assert attributes_of(broker.addr, "TypedTopic") == {"message.type": "FIFO"}
