"""The controller-mode epoch handshake on the HA port (sans-IO encode/decode), and what a master
does with a peer that does not speak it."""

import asyncio
import logging

import pytest

from pocketmq.config import MessageStoreConfig
from pocketmq.store.ha.protocol import (
    MASTER_EPOCHS_HEAD, SLAVE_HELLO_SIZE, ProtocolError, decode_master_epochs_head, decode_master_epochs_tail,
    decode_slave_hello, encode_master_epochs, encode_offset, encode_slave_hello, master_epochs_tail_size,
)
from pocketmq.store.ha.client import HAClient
from pocketmq.store.ha.service import HAService
from pocketmq.store.message_store import MessageStore


def test_slave_hello_round_trip():
    raw = encode_slave_hello(3)
    assert len(raw) == SLAVE_HELLO_SIZE
    assert decode_slave_hello(raw) == 3


def test_master_epochs_round_trip():
    raw = encode_master_epochs([(1, 0), (2, 4096), (7, 2**40)], 2**40 + 500)
    count = decode_master_epochs_head(raw[:MASTER_EPOCHS_HEAD])
    tail = raw[MASTER_EPOCHS_HEAD:]
    assert len(tail) == master_epochs_tail_size(count)
    assert decode_master_epochs_tail(tail, count) == ([(1, 0), (2, 4096), (7, 2**40)], 2**40 + 500)


@pytest.mark.parametrize("raw", [encode_offset(0) + b"\0" * (SLAVE_HELLO_SIZE - 8), b"x" * SLAVE_HELLO_SIZE, b""])
def test_a_4x_slave_is_not_a_controller_mode_slave(raw):
    with pytest.raises(ProtocolError):
        decode_slave_hello(raw)


def test_bad_master_answers_are_refused():
    with pytest.raises(ProtocolError):
        decode_master_epochs_head(b"\0" * MASTER_EPOCHS_HEAD)
    with pytest.raises(ProtocolError, match="count"):
        decode_master_epochs_head(encode_master_epochs([], 0)[: MASTER_EPOCHS_HEAD - 4] + b"\xff\xff\xff\xff")
    negative = encode_master_epochs([(1, 0)], 0)[MASTER_EPOCHS_HEAD:-8] + encode_offset(-5)
    with pytest.raises(ProtocolError, match="negative"):
        decode_master_epochs_tail(negative, 1)


def test_master_closes_a_peer_without_the_handshake(tmp_path):
    """A 4.x slave (it reports an offset first) gets the connection closed, no commit-log byte."""
    async def main() -> bytes:
        config = MessageStoreConfig(storePathRootDir=str(tmp_path), mappedFileSizeCommitLog=64 * 1024,
                                    brokerRole="SYNC_MASTER", haListenPort=0)
        store = MessageStore(config, ("127.0.0.1", 10911))
        await store.start()
        store.epoch_file.append(1, 0)
        ha = HAService(store, config, host="127.0.0.1", controller_mode=True)
        await ha.start()
        assert ha._server is not None
        port = ha._server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(encode_offset(0) * 3)  # 24 bytes: not "PMQ-HA-EPOCH\x01" + id
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return data
        finally:
            await ha.shutdown()
            await store.shutdown()

    assert asyncio.run(main()) == b""


def test_master_answers_a_controller_mode_slave_with_its_epochs(tmp_path):
    async def main() -> tuple[list[tuple[int, int]], int, int]:
        config = MessageStoreConfig(storePathRootDir=str(tmp_path), mappedFileSizeCommitLog=64 * 1024,
                                    brokerRole="SYNC_MASTER", haListenPort=0)
        store = MessageStore(config, ("127.0.0.1", 10911))
        await store.start()
        store.epoch_file.append(1, 0)
        store.epoch_file.append(3, 0)
        ha = HAService(store, config, host="127.0.0.1", controller_mode=True)
        await ha.start()
        assert ha._server is not None
        port = ha._server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(encode_slave_hello(2))
            head = await asyncio.wait_for(reader.readexactly(MASTER_EPOCHS_HEAD), 10)
            count = decode_master_epochs_head(head)
            entries, master_max = decode_master_epochs_tail(
                await asyncio.wait_for(reader.readexactly(master_epochs_tail_size(count)), 10), count)
            writer.write(encode_offset(0))
            await writer.drain()
            for _ in range(100):
                if ha.connections and ha.connections[0].slave_ack_offset == 0:
                    break
                await asyncio.sleep(0.05)
            broker_id = ha.connections[0].broker_id
            writer.close()
            return entries, master_max, broker_id
        finally:
            await ha.shutdown()
            await store.shutdown()

    assert asyncio.run(main()) == ([(1, 0), (3, 0)], 0, 2)


def test_a_slave_refused_by_a_slave_retries_once_a_second_not_in_a_busy_loop(tmp_path, caplog):
    """After a late election a slave may still follow the old master, now a slave itself, which
    closes every connection during the handshake. The nemesis suite saw 1,579 refusals in three
    bursts of a second: the client reconnected at once each time."""
    async def main() -> int:
        config = MessageStoreConfig(storePathRootDir=str(tmp_path / "old-master"), mappedFileSizeCommitLog=64 * 1024,
                                    brokerRole="SLAVE", haListenPort=0)
        store = MessageStore(config, ("127.0.0.1", 10911))
        await store.start()
        ha = HAService(store, config, host="127.0.0.1", controller_mode=True)
        await ha.start()
        assert ha._server is not None
        port = ha._server.sockets[0].getsockname()[1]
        slave_config = MessageStoreConfig(storePathRootDir=str(tmp_path / "slave"), mappedFileSizeCommitLog=64 * 1024,
                                          brokerRole="SLAVE")
        slave_store = MessageStore(slave_config, ("127.0.0.1", 10921))
        await slave_store.start()
        client = HAClient(slave_store, slave_config, lambda: f"127.0.0.1:{port}", local_broker_id=lambda: 2)
        client.start()
        try:
            await asyncio.sleep(2.5)
        finally:
            await client.shutdown()
            await ha.shutdown()
            await store.shutdown()
            await slave_store.shutdown()
        return sum("wants to follow this broker" in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.WARNING, logger="pocketmq.store.ha"):
        refusals = asyncio.run(main())
    assert 2 <= refusals <= 4
