"""Sends to a SYNC_FLUSH broker: the group commit answers each one over the wire once it is on
disk (SUCCESS), or with FLUSH_DISK_TIMEOUT when the flush misses syncFlushTimeout, as upstream;
a send whose WAIT is false is answered at once."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pocketmq.broker.controller import BrokerController
from pocketmq.config import BrokerConfig, MessageStoreConfig
from pocketmq.remoting.codes import RequestCode as RC, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_request
from pocketmq.remoting.transport import RemotingClient
from tests.support.cluster import pull_all, send_fields
from tests.support.processes import free_port, start_broker, start_namesrv
from tests.support.rpc import RpcSession


def send_request(topic: str, body: bytes) -> RemotingCommand:
    return make_request(RC.SEND_MESSAGE, send_fields(topic), body)


@pytest.fixture(scope="module")
def sync_flush_broker(tmp_path_factory):
    home = tmp_path_factory.mktemp("syncflush")
    namesrv = start_namesrv(home / "ns")
    broker = start_broker(home / "broker", namesrv.addr, extra={"flushDiskType": "SYNC_FLUSH"})
    yield broker
    broker.kill()
    namesrv.kill()


def test_concurrent_sends_on_one_connection_are_each_answered_once_flushed(sync_flush_broker):
    addr = sync_flush_broker.addr
    session = RpcSession()
    try:
        first = session.call(addr, RC.SEND_MESSAGE, send_fields("SyncFlushSends"), b"m0")
        assert first.code == ResponseCode.SUCCESS, first.remark

        async def many():
            return await asyncio.gather(*(session.client.invoke(addr, send_request("SyncFlushSends", f"m{i}".encode()),
                                                                10) for i in range(1, 65)))
        answers = asyncio.run_coroutine_threadsafe(many(), session.loop).result(30)
        no_wait = session.call(addr, RC.SEND_MESSAGE, send_fields("SyncFlushSends", props={"WAIT": "false"}), b"m65")
    finally:
        session.close()
    assert [a.code for a in answers] == [ResponseCode.SUCCESS] * 64, [a.remark for a in answers]
    assert sorted(int(a.ext_fields["queueOffset"]) for a in answers) == list(range(1, 65))
    assert no_wait.code == ResponseCode.SUCCESS and no_wait.ext_fields["queueOffset"] == "65"
    bodies = [m.body for m in pull_all(addr, "SyncFlushSends", 0)]
    by_offset = {int(a.ext_fields["queueOffset"]): f"m{i}".encode() for i, a in enumerate(answers, start=1)}
    assert bodies == [b"m0", *(by_offset[o] for o in range(1, 65)), b"m65"]


def test_a_send_whose_flush_misses_the_timeout_is_answered_flush_disk_timeout(tmp_path):
    async def main():
        port = free_port()
        broker = BrokerController(
            BrokerConfig(brokerIP1="127.0.0.1", listenPort=port, namesrvAddr=""),
            MessageStoreConfig(storePathRootDir=str(tmp_path / "store"), flushDiskType="SYNC_FLUSH",
                               syncFlushTimeout=200, mappedFileSizeCommitLog=1024 * 1024))
        await broker.start()
        client = RemotingClient()
        addr = f"127.0.0.1:{port}"
        try:
            created = await client.invoke(addr, send_request("SyncFlushLate", b"first"), 5)
            assert created.code == ResponseCode.SUCCESS, created.remark
            gate = threading.Event()
            flush = broker.store.flush_commit_log_until
            broker.store.flush_commit_log_until = lambda target: (gate.wait(10), flush(target))[1]
            late = await client.invoke(addr, send_request("SyncFlushLate", b"late"), 5)
            assert late.code == ResponseCode.FLUSH_DISK_TIMEOUT
            assert late.ext_fields["queueOffset"] == "1" and late.ext_fields["msgId"]  # stored all the same
            gate.set()
            after = await client.invoke(addr, send_request("SyncFlushLate", b"after"), 5)
            assert after.code == ResponseCode.SUCCESS and after.ext_fields["queueOffset"] == "2"
        finally:
            await client.close()
            await broker.shutdown()
    asyncio.run(asyncio.wait_for(main(), 60))
