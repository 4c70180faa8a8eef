"""Allocation strategies: every queue owned exactly once across the group, the upstream
layouts for averaging and circle, and consistent hashing's stability when a client leaves."""

import pytest

from pocketmq.client.allocate import AllocateAveragely, AllocateAveragelyByCircle, AllocateConsistentHash, _md5_hash
from pocketmq.protocol.client_bodies import MessageQueue

MQS = [MessageQueue("T", b, i) for b in ("broker-a", "broker-b") for i in range(4)]


def _all(strategy, cids, mqs=MQS):
    return {cid: strategy.allocate("g", cid, mqs, cids) for cid in cids}


@pytest.mark.parametrize("strategy", [AllocateAveragely(), AllocateAveragelyByCircle(), AllocateConsistentHash()])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11])
def test_each_queue_exactly_once(strategy, n):
    cids = [f"c{i}" for i in range(n)]
    owned = [mq for mqs in _all(strategy, cids).values() for mq in mqs]
    assert sorted(owned) == sorted(MQS)


def test_averagely_layout():
    result = _all(AllocateAveragely(), ["c0", "c1", "c2"])
    assert [mq.queueId for mq in result["c0"]] == [0, 1, 2]  # 8 % 3 = 2 -> the first two get 3
    assert [(mq.brokerName, mq.queueId) for mq in result["c1"]] == [("broker-a", 3), ("broker-b", 0), ("broker-b", 1)]
    assert [mq.queueId for mq in result["c2"]] == [2, 3]
    many = _all(AllocateAveragely(), [f"c{i}" for i in range(10)])
    assert [len(many[f"c{i}"]) for i in range(10)] == [1] * 8 + [0, 0]


def test_circle_layout():
    result = _all(AllocateAveragelyByCircle(), ["c0", "c1", "c2"])
    assert result["c0"] == [MQS[0], MQS[3], MQS[6]]
    assert result["c2"] == [MQS[2], MQS[5]]


def test_unknown_client_gets_nothing():
    assert AllocateAveragely().allocate("g", "stranger", MQS, ["c0"]) == []


def test_md5_hash_matches_upstream_definition():
    # first four bytes of md5("a") = 0c c1 75 b9
    assert _md5_hash("a") == 0x0CC175B9


def test_consistent_hash_moves_only_the_leavers_queues():
    strategy = AllocateConsistentHash(virtual_nodes=10)
    mqs = [MessageQueue("T", "b", i) for i in range(64)]
    before = _all(strategy, ["c0", "c1", "c2"], mqs)
    after = _all(strategy, ["c0", "c1"], mqs)
    for cid in ("c0", "c1"):
        assert set(before[cid]) <= set(after[cid])
