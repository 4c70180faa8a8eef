"""A controller-mode slave serves consumers only what its master said the whole SyncStateSet
holds. Found by the nemesis suite (seed 512495942): with the master gone, the Java push
consumer pulled from a slave that held messages never acknowledged; the next election cut them
away and the acknowledged messages later stored at those queue offsets were never consumed
(224 skipped). The master now sends its confirm offset in every block header of the
controller-mode stream, as upstream's AutoSwitchHAConnection transfer header does."""

import asyncio

import pytest

from pocketmq.config import MessageStoreConfig
from pocketmq.store.ha.protocol import BlockReader, ProtocolError, encode_ctl_header, encode_header
from pocketmq.store.ha.service import HAService
from pocketmq.store.message_store import MessageStore


def service(tmp_path, role: str, **extra: object) -> HAService:
    settings: dict[str, object] = {"allAckInSyncStateSet": True, **extra}
    config = MessageStoreConfig(storePathRootDir=str(tmp_path), mappedFileSizeCommitLog=64 * 1024,
                                brokerRole=role, haListenPort=0, **settings)
    return HAService(MessageStore(config, ("127.0.0.1", 10911)), config, controller_mode=True)


def test_blocks_carry_the_confirm_offset_in_controller_mode() -> None:
    reader = BlockReader(with_confirm=True)
    stream = encode_ctl_header(100, 3, 90) + b"abc" + encode_ctl_header(103, 0, 103)
    assert reader.feed(stream[:10]) == [] and reader.confirm_offset == -1
    assert reader.feed(stream[10:]) == [(100, b"abc"), (103, b"")]
    assert reader.confirm_offset == 103
    plain = BlockReader()
    assert plain.feed(encode_header(5, 2) + b"xy") == [(5, b"xy")] and plain.confirm_offset == -1
    with pytest.raises(ProtocolError):
        BlockReader(with_confirm=True).feed(encode_ctl_header(0, 0, -7))


def test_a_slave_reads_up_to_its_masters_confirm_offset_and_forgets_it_on_a_role_change(tmp_path) -> None:
    slave = service(tmp_path, "SLAVE")
    assert slave.read_limit() == -1  # nothing heard from a master yet: nothing served
    slave._on_master_confirm(4096)
    assert slave.read_limit() == 4096

    async def follow_another_master() -> None:
        await slave.change_to_slave()
        assert slave.client is not None
        await slave.client.shutdown()

    asyncio.run(follow_another_master())
    assert slave.read_limit() == -1  # the old master's word is not the new one's


def test_read_uncommitted_or_no_all_ack_leaves_slave_reads_ungated(tmp_path) -> None:
    assert service(tmp_path / "a", "SLAVE", readUnCommitted=True).read_limit() is None
    assert service(tmp_path / "b", "SLAVE", allAckInSyncStateSet=False).read_limit() is None


def test_a_master_tells_slaves_all_it_has_unless_reads_are_gated(tmp_path) -> None:
    master = service(tmp_path, "SYNC_MASTER")
    master.local_broker_id = 1
    master.set_sync_state_set({1})
    assert master.confirm_for_slaves() == master.store.get_max_phy_offset()
    master.set_sync_state_set({1, 2})  # brokerId 2 holds nothing yet
    assert master.read_gate_active() and master.confirm_for_slaves() == -1
