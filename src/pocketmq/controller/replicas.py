"""Per-broker-set replica state and upstream ReplicasInfoManager's decisions, as pure functions.

Owns: ``BrokerSet`` (the brokers of one brokerName with their ids, addresses and register check
codes, the next brokerId to hand out, the master, masterEpoch, SyncStateSet and its epoch), its
JSON form for the stores, and one function per controller request that takes the current state
and answers an ``Outcome``: the response code, remark, header and body, and, when the request
changes the state, the new ``BrokerSet`` (or its deletion) to commit. Nothing here does I/O or
reads a clock: liveness comes in as a predicate, so the election rules can be tested alone.
Epochs only grow: every master change (or loss) adds one to masterEpoch, every SyncStateSet change
one to syncStateSetEpoch; a request carrying another epoch than the current one is refused.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from pocketmq.controller.elect import BrokerLiveInfoGetter, elect as elect_policy
from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerResponseCode as Code
from pocketmq.remoting.codes import ResponseCode

AlivePredicate = Callable[[str, str, int], bool]
"""(clusterName, brokerName, brokerId) -> is the broker alive (heartbeat not timed out)."""

INT32_MAX = (1 << 31) - 1


@dataclass(slots=True)
class BrokerEntry:
    address: str
    registerCheckCode: str


@dataclass(slots=True)
class BrokerSet:
    clusterName: str
    brokerName: str
    brokers: dict[int, BrokerEntry] = field(default_factory=dict)
    nextAssignBrokerId: int = p.FIRST_BROKER_CONTROLLER_ID
    masterBrokerId: int | None = None
    masterEpoch: int = 0
    syncStateSet: set[int] = field(default_factory=set)
    syncStateSetEpoch: int = 0

    def address_of(self, broker_id: int | None) -> str | None:
        entry = self.brokers.get(broker_id) if broker_id is not None else None
        return entry.address if entry is not None else None

    def add_broker(self, broker_id: int, address: str, check_code: str) -> None:
        self.brokers[broker_id] = BrokerEntry(address, check_code)
        self.nextAssignBrokerId += 1

    def set_master(self, master: int | None) -> None:
        """A master change or loss: masterEpoch grows by one (refused at the Java int limit)."""
        if self.masterEpoch >= INT32_MAX:
            raise OverflowError(f"masterEpoch of {self.brokerName} is at the Java int limit")
        self.masterBrokerId = master
        self.masterEpoch += 1

    def set_sync_state_set(self, members: set[int]) -> None:
        if self.syncStateSetEpoch >= INT32_MAX:
            raise OverflowError(f"syncStateSetEpoch of {self.brokerName} is at the Java int limit")
        self.syncStateSet = set(members)
        self.syncStateSetEpoch += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "clusterName": self.clusterName, "brokerName": self.brokerName,
            "brokers": {str(k): {"address": v.address, "registerCheckCode": v.registerCheckCode}
                        for k, v in sorted(self.brokers.items())},
            "nextAssignBrokerId": self.nextAssignBrokerId, "masterBrokerId": self.masterBrokerId,
            "masterEpoch": self.masterEpoch, "syncStateSet": sorted(self.syncStateSet),
            "syncStateSetEpoch": self.syncStateSetEpoch,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "BrokerSet":
        return cls(
            clusterName=str(value["clusterName"]), brokerName=str(value["brokerName"]),
            brokers={int(k): BrokerEntry(str(v["address"]), str(v["registerCheckCode"]))
                     for k, v in value.get("brokers", {}).items()},
            nextAssignBrokerId=int(value.get("nextAssignBrokerId", p.FIRST_BROKER_CONTROLLER_ID)),
            masterBrokerId=None if value.get("masterBrokerId") is None else int(value["masterBrokerId"]),
            masterEpoch=int(value.get("masterEpoch", 0)),
            syncStateSet={int(x) for x in value.get("syncStateSet", [])},
            syncStateSetEpoch=int(value.get("syncStateSetEpoch", 0)),
        )


_KEEP = object()


@dataclass(slots=True)
class Outcome:
    """What a request answers, and the state to commit when it changes one."""

    header: Any = None
    code: int = ResponseCode.SUCCESS
    remark: str | None = None
    body: bytes | None = None
    new_state: Any = _KEEP  # a BrokerSet to write, None to delete the set, _KEEP for no change

    @property
    def writes(self) -> bool:
        return self.new_state is not _KEEP

    def fail(self, code: int, remark: str) -> "Outcome":
        self.code, self.remark = code, remark
        return self


def _copy(state: BrokerSet) -> BrokerSet:
    return copy.deepcopy(state)


# -------------------------------------------------------------------------------- broker ids
def get_next_broker_id(state: BrokerSet | None, header: p.GetNextBrokerIdRequestHeader) -> Outcome:
    next_id = p.FIRST_BROKER_CONTROLLER_ID if state is None else state.nextAssignBrokerId
    return Outcome(p.GetNextBrokerIdResponseHeader(header.clusterName, header.brokerName, next_id))


def apply_broker_id(state: BrokerSet | None, header: p.ApplyBrokerIdRequestHeader) -> Outcome:
    out = Outcome(p.ApplyBrokerIdResponseHeader(header.clusterName, header.brokerName))
    if header.brokerName is None or header.appliedBrokerId is None or header.registerCheckCode is None:
        return out.fail(Code.CONTROLLER_INVALID_REQUEST, "brokerName, appliedBrokerId and registerCheckCode are required")
    broker_id, code = header.appliedBrokerId, header.registerCheckCode
    address = code.split(";")[0]
    if state is None:
        if broker_id != p.FIRST_BROKER_CONTROLLER_ID:
            return out.fail(Code.CONTROLLER_BROKER_ID_INVALID,
                            f"Broker-set: {header.brokerName} hasn't been registered in controller, "
                            f"but broker try to apply brokerId: {broker_id}")
        new = BrokerSet(header.clusterName or "", header.brokerName)
        new.add_broker(broker_id, address, code)
        out.new_state = new
        return out
    existing = state.brokers.get(broker_id)
    if existing is None:
        new = _copy(state)
        new.add_broker(broker_id, address, code)
        out.new_state = new
        return out
    if existing.registerCheckCode == code:
        return out  # the same broker applying again (it crashed before persisting): already done
    return out.fail(Code.CONTROLLER_BROKER_ID_INVALID,
                    f"Fail to apply brokerId: {broker_id} in broker-set: {header.brokerName}")


# ------------------------------------------------------------------------------ registration
def register_broker(state: BrokerSet | None, header: p.RegisterBrokerToControllerRequestHeader,
                    is_alive: AlivePredicate) -> Outcome:
    out = Outcome(p.RegisterBrokerToControllerResponseHeader(header.clusterName, header.brokerName))
    if state is None:
        return out.fail(Code.CONTROLLER_BROKER_NEED_TO_BE_REGISTERED,
                        f"Broker-set: {header.brokerName} hasn't been registered in controller")
    broker_id = header.brokerId
    if broker_id is None or broker_id not in state.brokers:
        return out.fail(Code.CONTROLLER_BROKER_NEED_TO_BE_REGISTERED,
                        f"BrokerId: {broker_id} hasn't been registered in broker-set: {header.brokerName}")
    master = state.masterBrokerId
    if master is not None and is_alive(state.clusterName, state.brokerName, master):
        out.header.masterBrokerId = master
        out.header.masterAddress = state.address_of(master)
        out.header.masterEpoch = state.masterEpoch
        out.header.syncStateSetEpoch = state.syncStateSetEpoch
    out.body = p.SyncStateSet(set(state.syncStateSet), state.syncStateSetEpoch).encode()
    if header.brokerAddress is not None and header.brokerAddress != state.address_of(broker_id):
        new = _copy(state)
        new.brokers[broker_id].address = header.brokerAddress
        out.new_state = new
    return out


# -------------------------------------------------------------------------------- sync state
def alter_sync_state_set(state: BrokerSet | None, header: p.AlterSyncStateSetRequestHeader,
                         proposed: p.SyncStateSet, is_alive: AlivePredicate) -> Outcome:
    out = Outcome(p.AlterSyncStateSetResponseHeader())
    if state is None:
        return out.fail(Code.CONTROLLER_ALTER_SYNC_STATE_SET_FAILED, "Broker metadata is not existed")
    new_set = set(proposed.syncStateSet)
    if new_set == state.syncStateSet:
        return out.fail(Code.CONTROLLER_ALTER_SYNC_STATE_SET_FAILED,
                        "The newSyncStateSet is equal with oldSyncStateSet, no needed to update syncStateSet")
    if state.masterBrokerId is None or state.masterBrokerId != header.masterBrokerId:
        return out.fail(Code.CONTROLLER_INVALID_MASTER,
                        f"Rejecting alter syncStateSet request because the current leader is:"
                        f"{{{state.masterBrokerId}}}, not {{{header.masterBrokerId}}}")
    if header.masterEpoch != state.masterEpoch:
        return out.fail(Code.CONTROLLER_FENCED_MASTER_EPOCH,
                        f"Rejecting alter syncStateSet request because the current master epoch is:"
                        f"{{{state.masterEpoch}}}, not {{{header.masterEpoch}}}")
    if proposed.syncStateSetEpoch != state.syncStateSetEpoch:
        return out.fail(Code.CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH,
                        f"Rejecting alter syncStateSet request because the current syncStateSet epoch is:"
                        f"{{{state.syncStateSetEpoch}}}, not {{{proposed.syncStateSetEpoch}}}")
    for replica in sorted(new_set):
        if replica not in state.brokers:
            return out.fail(Code.CONTROLLER_INVALID_REPLICAS,
                            f"Rejecting alter syncStateSet request because the replicas {{{replica}}} don't exist")
        if not is_alive(state.clusterName, state.brokerName, replica):
            return out.fail(Code.CONTROLLER_BROKER_NOT_ALIVE,
                            f"Rejecting alter syncStateSet request because the replicas {{{replica}}} don't alive")
    if state.masterBrokerId not in new_set:
        return out.fail(Code.CONTROLLER_ALTER_SYNC_STATE_SET_FAILED,
                        f"Rejecting alter syncStateSet request because the newSyncStateSet don't contains "
                        f"origin leader {{{state.masterBrokerId}}}")
    new = _copy(state)
    new.set_sync_state_set(new_set)
    out.header.newSyncStateSetEpoch = new.syncStateSetEpoch
    out.body = p.SyncStateSet(new_set, new.syncStateSetEpoch).encode()
    out.new_state = new
    return out


# --------------------------------------------------------------------------------- elections
def member_group(state: BrokerSet) -> p.BrokerMemberGroup:
    return p.BrokerMemberGroup(state.clusterName, state.brokerName,
                               {k: v.address for k, v in state.brokers.items()})


def elect_master(state: BrokerSet | None, header: p.ElectMasterRequestHeader, is_alive: AlivePredicate,
                 live_info: BrokerLiveInfoGetter | None, enable_elect_unclean_master: bool) -> Outcome:
    """ELECT_MASTER as upstream: the first election of a set takes the requester; later ones
    take the old master if it is still alive, else the best alive SyncStateSet member (ranked by
    epoch, max offset, then electionPriority), else, only with enableElectUncleanMaster, the
    best alive replica of all. No candidate: the master is dropped (masterEpoch still grows)
    when the controller itself asked, CONTROLLER_ELECT_MASTER_FAILED when a broker or admin did."""
    out = Outcome(p.ElectMasterResponseHeader())
    if state is None:
        return out.fail(Code.CONTROLLER_BROKER_NEED_TO_BE_REGISTERED, "Broker hasn't been registered")
    old_master = state.masterBrokerId
    requested = header.brokerId
    new_master: int | None = None
    if state.masterEpoch == 0 and requested is not None and requested != -1:
        new_master = requested if requested in state.brokers else None
    if new_master is None:
        prefer = requested if header.designateElect else None
        alive = lambda broker_id: is_alive(state.clusterName, state.brokerName, broker_id)  # noqa: E731
        all_replicas = set(state.brokers) if enable_elect_unclean_master else None
        new_master = elect_policy(state.syncStateSet, all_replicas, old_master, prefer, alive,
                                  None if live_info is None else
                                  (lambda broker_id: live_info(state.clusterName, state.brokerName, broker_id)))
    if new_master is not None and new_master == old_master:
        out.header.masterEpoch = state.masterEpoch
        out.header.syncStateSetEpoch = state.syncStateSetEpoch
        out.header.masterBrokerId = old_master
        out.header.masterAddress = state.address_of(old_master)
        out.body = p.ElectMasterResponseBody(None, set(state.syncStateSet)).encode()
        return out.fail(Code.CONTROLLER_MASTER_STILL_EXIST,
                        f"The old master {old_master} is still alive, not need to elect new master for broker "
                        f"{state.brokerName}")
    if new_master is not None:
        new = _copy(state)
        new.set_master(new_master)
        new.set_sync_state_set({new_master})
        out.header.masterBrokerId = new_master
        out.header.masterAddress = new.address_of(new_master)
        out.header.masterEpoch = new.masterEpoch
        out.header.syncStateSetEpoch = new.syncStateSetEpoch
        out.body = p.ElectMasterResponseBody(member_group(new), {new_master}).encode()
        out.new_state = new
        return out
    if requested is None or requested == -1:
        if old_master is not None:
            new = _copy(state)
            new.set_master(None)
            out.new_state = new
        return out.fail(Code.CONTROLLER_MASTER_NOT_AVAILABLE,
                        "Old master has down and failed to elect a new broker master")
    return out.fail(Code.CONTROLLER_ELECT_MASTER_FAILED, "Failed to elect a new master")


def needs_reelect(state: BrokerSet, is_alive: AlivePredicate) -> bool:
    """upstream scanNeedReelectBrokerSets: the master is dead and some replica of the set lives."""
    master = state.masterBrokerId
    if master is None or is_alive(state.clusterName, state.brokerName, master):
        return False
    return any(is_alive(state.clusterName, state.brokerName, b) for b in state.brokers)


# ---------------------------------------------------------------------------------- queries
def get_replica_info(state: BrokerSet | None, header: p.GetReplicaInfoRequestHeader) -> Outcome:
    out = Outcome(p.GetReplicaInfoResponseHeader())
    if state is None:
        return out.fail(Code.CONTROLLER_BROKER_METADATA_NOT_EXIST, "Broker metadata is not existed")
    out.header.masterBrokerId = state.masterBrokerId
    out.header.masterAddress = state.address_of(state.masterBrokerId)
    out.header.masterEpoch = state.masterEpoch
    out.body = p.SyncStateSet(set(state.syncStateSet), state.syncStateSetEpoch).encode()
    return out


def sync_state_data(states: list[BrokerSet], is_alive: AlivePredicate) -> p.BrokerReplicasInfo:
    info = p.BrokerReplicasInfo()
    for state in states:
        in_sync, not_in_sync = [], []
        for broker_id, entry in sorted(state.brokers.items()):
            replica = p.ReplicaIdentity(state.brokerName, broker_id, entry.address,
                                        is_alive(state.clusterName, state.brokerName, broker_id))
            (in_sync if broker_id in state.syncStateSet else not_in_sync).append(replica)
        info.replicasInfoTable[state.brokerName] = p.ReplicasInfo(
            state.masterBrokerId, state.address_of(state.masterBrokerId), state.masterEpoch,
            state.syncStateSetEpoch, in_sync, not_in_sync)
    return info


def clean_broker_data(state: BrokerSet | None, header: p.CleanControllerBrokerDataRequestHeader,
                      is_alive: AlivePredicate) -> Outcome:
    out = Outcome()
    ids: set[int] | None = None
    text = (header.brokerControllerIdsToClean or "").strip()
    if not header.isCleanLivingBroker:
        if not text and state is not None and state.masterBrokerId is not None:
            return out.fail(Code.CONTROLLER_INVALID_CLEAN_BROKER_METADATA,
                            f"Broker {header.brokerName} is still alive, clean up failure")
        if text:
            try:
                ids = {int(x) for x in text.split(";") if x.strip()}
            except ValueError as exc:
                return out.fail(Code.CONTROLLER_INVALID_CLEAN_BROKER_METADATA,
                                "Please set the option <brokerControllerIdsToClean> according to the format, "
                                f"exception: {exc}")
            for broker_id in sorted(ids):
                if is_alive(header.clusterName or "", header.brokerName, broker_id):
                    return out.fail(Code.CONTROLLER_INVALID_CLEAN_BROKER_METADATA,
                                    f"Broker [{header.brokerName},  {broker_id}] is still alive, clean up failure")
    if state is None:
        return out.fail(Code.CONTROLLER_INVALID_CLEAN_BROKER_METADATA,
                        f"Broker {header.brokerName} is not existed,clean broker data failure.")
    if not ids:
        out.new_state = None
        return out
    new = _copy(state)
    for broker_id in ids:
        new.brokers.pop(broker_id, None)
        new.syncStateSet.discard(broker_id)
    out.new_state = new if new.brokers and new.syncStateSet else None
    return out
