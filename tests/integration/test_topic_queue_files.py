"""A topic created with UPDATE_AND_CREATE_TOPIC (mqadmin updateTopic) has its consume-queue files
made by the broker before the first message arrives, off the event loop; sends then land in them."""

from __future__ import annotations

import struct

from pocketmq.remoting.codes import ResponseCode
from tests.support.cluster import create_topic, send_raw
from tests.support.processes import start_broker, start_namesrv, wait_until


def test_update_topic_makes_each_queue_file_before_the_first_send(tmp_path):
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr)
    try:
        create_topic(broker.addr, "Prepared", queues=6)
        files = [broker.store_root / "consumequeue" / "Prepared" / str(q) / ("0" * 20) for q in range(6)]
        wait_until(lambda: all(f.exists() for f in files), 10, message="queue files created")
        sent = send_raw(broker.addr, "Prepared", b"first", queue_id=5)
        assert sent.code == ResponseCode.SUCCESS and sent.ext_fields["queueOffset"] == "0"
        offset, size, _tags_code = struct.unpack(">qiq", files[5].read_bytes()[:20])  # its consume-queue unit
        assert offset >= 0 and size > len(b"first")
    finally:
        broker.kill()
        namesrv.kill()
