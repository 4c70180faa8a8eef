"""POP checkpoints are messages of the revive topic, so they reach the slave as every message
does, and a master killed with -9 after a pop that was never acked still redelivers the message
(reconsumeTimes 1) once it is back. A group's POP mode (setConsumeMode) is copied to the slave. Also the orderly case: the group's offset, replicated, still
points at the message in flight, which comes back first after the restart."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from pocketmq.protocol import message as pm
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.cluster import create_topic, pull_all, send_raw, start_master, start_slave, wait_replicated
from tests.support.processes import start_namesrv, wait_until
from tests.support.rpc import call

TOPIC = "PopHaTopic"
REVIVE = "rmq_sys_REVIVE_LOG_DefaultCluster"


def pop(addr: str, group: str, invisible_ms: int, order: bool = False):
    fields = {"consumerGroup": group, "topic": TOPIC, "queueId": "-1", "maxMsgNums": "32",
              "invisibleTime": str(invisible_ms), "pollTime": "0", "bornTime": str(int(time.time() * 1000)),
              "initMode": "0", "expType": "TAG", "exp": "*", "order": "true" if order else "false"}
    response = call(addr, RequestCode.POP_MESSAGE, fields, timeout=10)
    return pm.decode_messages(response.body) if response.code == ResponseCode.SUCCESS else []


def test_checkpoint_on_the_slave_and_redelivery_after_kill_9_of_the_master(tmp_path: Path) -> None:
    with start_namesrv(tmp_path / "ns") as ns:
        master = start_master(tmp_path / "m", ns.addr)
        slave = start_slave(tmp_path / "s", ns.addr)
        try:
            create_topic(master.addr, TOPIC, queues=1)
            create_topic(master.addr, "PopHaProbe", queues=1)
            wait_until(lambda: send_raw(master.addr, "PopHaProbe", b"probe").code == ResponseCode.SUCCESS, 30, 0.3,
                       "the slave to connect (SYNC_MASTER)")
            assert send_raw(master.addr, TOPIC, b"in-flight").code == ResponseCode.SUCCESS
            assert send_raw(master.addr, TOPIC, b"ordered").code == ResponseCode.SUCCESS
            assert [bytes(m.body) for m in pop(master.addr, "GH", 4000)] == [b"in-flight", b"ordered"]
            assert [bytes(m.body) for m in pop(master.addr, "GHO", 600_000, order=True)] == [b"in-flight", b"ordered"]
            wait_replicated(master, slave)
            mode = {"topic": TOPIC, "consumerGroup": "GH", "mode": "POP", "popShareQueueNum": 0}
            assert call(master.addr, RequestCode.SET_MESSAGE_REQUEST_MODE,
                        body=orjson.dumps(mode)).code == ResponseCode.SUCCESS
            wait_until(lambda: b'"GH"' in (call(slave.addr, RequestCode.GET_ALL_MESSAGE_REQUEST_MODE).body or b""),
                       30, 0.5, "the slave to copy the POP mode")
            checkpoints = wait_until(lambda: [m for m in pull_all(slave.addr, REVIVE, 0)
                                              if m.properties.get("TAGS") == "ck"] or None,
                                     20, 0.3, "the checkpoint on the slave")
            assert any(b'"c":"GH"' in bytes(m.body) for m in checkpoints)
            port = master.port
            master.kill()
            master = start_master(tmp_path / "m", ns.addr, port=port)

            def revived():
                got = [m for m in pop(master.addr, "GH", 60_000) if m.reconsume_times == 1]
                return got or None

            back = wait_until(revived, 30, 0.3, "the un-acked message, revived after the restart")
            assert {bytes(m.body) for m in back} == {b"in-flight", b"ordered"}
            # orderly: nothing was acked, so the queue is delivered again from its first message
            again = wait_until(lambda: pop(master.addr, "GHO", 60_000, order=True) or None, 20, 0.3,
                               "the orderly messages again")
            assert [bytes(m.body) for m in again] == [b"in-flight", b"ordered"]
        finally:
            slave.kill()
            master.kill()
