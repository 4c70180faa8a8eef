"""Random request sequences against the replica decisions (the pure functions the controller
commits): epochs never go back, a master is always an in-sync registered broker, an accepted
ALTER_SYNC_STATE_SET always carried the current epochs, and a replica outside the SyncStateSet
never becomes master while enableElectUncleanMaster is off."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from pocketmq.controller import replicas as r
from pocketmq.controller.elect import BrokerLiveInfo
from pocketmq.protocol import controller as p

CLUSTER, SET = "c", "s"
IDS = st.integers(min_value=-1, max_value=5)

operation = st.one_of(
    st.tuples(st.just("apply"), IDS),
    st.tuples(st.just("elect"), IDS, st.booleans()),
    st.tuples(st.just("alter"), IDS, st.integers(0, 6), st.frozensets(IDS, max_size=4), st.integers(0, 8)),
    st.tuples(st.just("alive"), st.frozensets(IDS, max_size=5)),
    st.tuples(st.just("clean"), st.frozensets(st.integers(1, 5), max_size=2)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(operation, max_size=40), st.booleans())
def test_epochs_and_masters_stay_sound(ops: list[tuple], unclean: bool) -> None:
    state: r.BrokerSet | None = None
    alive: frozenset[int] = frozenset()
    is_alive = lambda cluster, name, broker_id: broker_id in alive  # noqa: E731
    live = lambda cluster, name, broker_id: BrokerLiveInfo(CLUSTER, SET, "a", broker_id, 0.0, 10_000,  # noqa: E731
                                                           1, broker_id * 10)
    for op in ops:
        before = state
        if op[0] == "apply":
            out = r.apply_broker_id(state, p.ApplyBrokerIdRequestHeader(CLUSTER, SET, op[1], f"127.0.0.1:{op[1]};1"))
        elif op[0] == "elect":
            out = r.elect_master(state, p.ElectMasterRequestHeader(CLUSTER, SET, op[1], op[2]), is_alive, live, unclean)
        elif op[0] == "alter":
            out = r.alter_sync_state_set(state, p.AlterSyncStateSetRequestHeader(SET, op[1], op[2]),
                                         p.SyncStateSet(set(op[3]), op[4]), is_alive)
            if out.code == 0:
                assert before is not None
                assert (op[2], op[4]) == (before.masterEpoch, before.syncStateSetEpoch)
                assert op[1] == before.masterBrokerId and op[1] in op[3]
        elif op[0] == "alive":
            alive = op[1]
            continue
        else:
            out = r.clean_broker_data(state, p.CleanControllerBrokerDataRequestHeader(
                SET, CLUSTER, ";".join(map(str, sorted(op[1]))) or None), is_alive)
        if out.writes:
            state = out.new_state
        if state is None or before is None or op[0] == "clean":
            continue
        assert state.masterEpoch >= before.masterEpoch
        assert state.syncStateSetEpoch >= before.syncStateSetEpoch
        if state.masterBrokerId is not None:
            assert state.masterBrokerId in state.brokers
            assert state.masterBrokerId in state.syncStateSet
        if state.masterBrokerId != before.masterBrokerId:
            assert state.masterEpoch == before.masterEpoch + 1
            new = state.masterBrokerId
            if new is not None and before.masterEpoch > 0 and not unclean:
                assert new in before.syncStateSet  # only an in-sync replica takes over
        assert state.syncStateSet <= set(state.brokers)
