"""Which replicas must hold a message before a controller-mode master acknowledges it
(allAckInSyncStateSet): the SyncStateSet the controller agreed to, and, while an expansion is
proposed and unanswered, its new members too. Found by the nemesis suite: a master whose
ALTER_SYNC_STATE_SET answer was lost (it was SIGSTOPped right after sending it) kept acking
alone while the controller had taken the bigger set and then elected the new member, whose log
lacked those messages; the rejoining replicas cut them off (313 SEND_OKs lost)."""

from types import SimpleNamespace

import pytest

from pocketmq.config import MessageStoreConfig
from pocketmq.store.ha.service import HAService
from pocketmq.store.message_store import MessageStore


@pytest.fixture
def ha(tmp_path):
    config = MessageStoreConfig(storePathRootDir=str(tmp_path), mappedFileSizeCommitLog=64 * 1024,
                                brokerRole="SYNC_MASTER", haListenPort=0, allAckInSyncStateSet=True)
    service = HAService(MessageStore(config, ("127.0.0.1", 10911)), config, controller_mode=True)
    service.local_broker_id = 2
    service.set_sync_state_set({2})  # just elected: the master alone
    return service


def slave(broker_id: int, acked: int) -> SimpleNamespace:
    return SimpleNamespace(broker_id=broker_id, slave_ack_offset=acked, last_caught_up=0.0)


def test_a_proposed_member_must_ack_until_the_controller_answers(ha) -> None:
    end = ha.store.get_max_phy_offset()
    assert ha.needed_acks() == 1 and ha.confirmed_offset() == end
    ha.mark_synchronizing({1, 2})  # ALTER_SYNC_STATE_SET {2} -> {1, 2} sent, no answer yet
    assert ha.ack_set() == {1, 2} and ha.needed_acks() == 2
    assert ha.confirmed_offset() == -1  # brokerId 1 holds nothing: nothing acknowledged
    ha.connections.append(slave(1, 4096))
    assert ha.confirmed_offset() == 4096
    assert ha.read_gate_active()


def test_the_controllers_answer_or_a_quiet_read_ends_the_proposal(ha) -> None:
    ha.mark_synchronizing({1, 2})
    ha.set_sync_state_set({1, 2})  # the answer: taken
    assert ha.ack_set() == {1, 2} and ha.proposed_sync_state_set == set()
    ha.set_sync_state_set({2})
    ha.mark_synchronizing({2, 3})
    ha.clear_proposal()  # the controller, asked after the request failed, still has {2}
    assert ha.ack_set() == {2} and ha.confirmed_offset() == ha.store.get_max_phy_offset()


def test_a_proposed_member_that_is_gone_is_shrunk_away(ha) -> None:
    ha.mark_synchronizing({1, 2})
    assert ha.shrunk_sync_state_set() == {2}
