"""A topic created with UPDATE_AND_CREATE_TOPIC (mqadmin updateTopic) has its consume-queue files
made by the broker before the first message arrives, off the event loop; sends then land in them."""

from __future__ import annotations

import struct
import time

from pocketmq.protocol.message import properties_to_string
from pocketmq.remoting.codes import RequestCode as RC, ResponseCode
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call


def test_update_topic_makes_each_queue_file_before_the_first_send(tmp_path):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr)
    try:
        created = call(broker.addr, RC.UPDATE_AND_CREATE_TOPIC,
                       {"topic": "Prepared", "defaultTopic": "TBW102", "readQueueNums": "6", "writeQueueNums": "6",
                        "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"})
        assert created.code == ResponseCode.SUCCESS, created.remark
        files = [broker.store_root / "consumequeue" / "Prepared" / str(q) / ("0" * 20) for q in range(6)]
        wait_until(lambda: all(f.exists() for f in files), 10, message="queue files created")
        sent = call(broker.addr, RC.SEND_MESSAGE, {
            "producerGroup": "PG", "topic": "Prepared", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
            "queueId": "5", "sysFlag": "0", "bornTimestamp": str(int(time.time() * 1000)), "flag": "0",
            "properties": properties_to_string({"WAIT": "true"}), "reconsumeTimes": "0", "unitMode": "false",
            "batch": "false"}, b"first")
        assert sent.code == ResponseCode.SUCCESS and sent.ext_fields["queueOffset"] == "0"
        offset, size, _tags_code = struct.unpack(">qiq", files[5].read_bytes()[:20])  # its consume-queue unit
        assert offset >= 0 and size > len(b"first")
    finally:
        broker.kill()
        namesrv.kill()
