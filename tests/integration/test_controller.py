"""The controller as real processes (``mqcontroller``, and ``mqnamesrv`` with
enableControllerInNamesrv=true), spoken to with raw remoting requests as brokers in controller
mode send them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerRequestCode as Req, ControllerResponseCode as Code
from pocketmq.remoting.codes import RequestCode
from pocketmq.remoting.header import decode_header
from tests.support.controller import ControllerBroker, replica_info, start_controller
from tests.support.processes import free_port, start_namesrv, wait_until
from tests.support.rpc import call

CLUSTER = "DefaultCluster"


@pytest.fixture
def brokers():
    made: list[ControllerBroker] = []

    def make(name: str = "broker-a") -> ControllerBroker:
        broker = ControllerBroker(CLUSTER, name)
        made.append(broker)
        return broker
    yield make
    for broker in made:
        broker.close()


def form_set(controller: str, members: list[ControllerBroker]) -> None:
    """Each broker joins, heartbeats and registers; the first one asks to be elected."""
    for broker in members:
        broker.join(controller)
        broker.heartbeat(controller)
        answer = broker.register(controller)
        assert answer.code == 0, answer.remark
    first = members[0].elect(controller)
    assert first.code == 0, first.remark


def test_register_elect_alter_and_failover_on_a_standalone_controller(tmp_path: Path, brokers) -> None:
    controller = start_controller(tmp_path / "c0", extra=["--scanNotActiveBrokerInterval=1000"])
    try:
        addr = controller.addr
        meta = call(addr, Req.CONTROLLER_GET_METADATA_INFO)
        header = decode_header(p.GetMetaDataResponseHeader, meta.ext_fields)
        assert (header.isLeader, header.controllerLeaderAddress, header.group) == (True, addr, "group1")

        a1, a2, a3 = brokers(), brokers(), brokers()
        form_set(addr, [a1, a2, a3])
        assert [b.broker_id for b in (a1, a2, a3)] == [1, 2, 3]
        info, sss = replica_info(a2, addr)
        assert (info.masterBrokerId, info.masterAddress, info.masterEpoch) == (1, a1.addr, 1)
        assert sss == p.SyncStateSet({1}, 1)

        # the master widens its SyncStateSet; a forged request with a stale epoch is refused
        alter = lambda master_epoch, members, sss_epoch: a1.call(  # noqa: E731
            addr, Req.CONTROLLER_ALTER_SYNC_STATE_SET, p.AlterSyncStateSetRequestHeader("broker-a", 1, master_epoch),
            p.SyncStateSet(members, sss_epoch).encode())
        assert alter(1, {1, 2, 3}, 1).code == 0
        stale_sss = alter(1, {1, 2}, 1)
        assert stale_sss.code == Code.CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH, stale_sss.remark
        stale_master = alter(0, {1, 2}, 2)
        assert stale_master.code == Code.CONTROLLER_FENCED_MASTER_EPOCH, stale_master.remark
        garbage = a1.call(addr, Req.CONTROLLER_ALTER_SYNC_STATE_SET,
                          p.AlterSyncStateSetRequestHeader("broker-a", 1, 1), b"{not json")
        assert garbage.code == Code.CONTROLLER_INVALID_REQUEST

        unknown = a1.call(addr, Req.CONTROLLER_ELECT_MASTER, p.ElectMasterRequestHeader(CLUSTER, "no-such-set", 1, False))
        assert unknown.code == Code.CONTROLLER_BROKER_NEED_TO_BE_REGISTERED
        data = a1.call(addr, Req.CONTROLLER_GET_SYNC_STATE_DATA, None, p.encode_broker_names(["broker-a"]))
        table = p.BrokerReplicasInfo.decode(data.body_bytes()).replicasInfoTable["broker-a"]
        assert {r.brokerId for r in table.inSyncReplicas} == {1, 2, 3}
        assert all(r.alive for r in table.inSyncReplicas)

        # the master dies (its connection closes): a slave of the SyncStateSet takes over at
        # once, and the living brokers are told
        a2.heartbeat(addr, epoch=1, max_offset=100)
        a3.heartbeat(addr, epoch=1, max_offset=200)
        a1.drop_connections()
        new_master = wait_until(lambda: next((h for h, _ in a2.notifications if h.masterEpoch == 2), None),
                                timeout=30, message="a role-change notification to broker 2")
        assert (new_master.masterBrokerId, new_master.masterAddress) == (3, a3.addr)
        wait_until(lambda: any(h.masterEpoch == 2 for h, _ in a3.notifications), timeout=30,
                   message="a role-change notification to broker 3")
        info, sss = replica_info(a2, addr)
        assert (info.masterBrokerId, info.masterEpoch) == (3, 2)
        assert sss == p.SyncStateSet({3}, 3)
        # the old master comes back: it registers (as a slave now) and learns the new master
        a1.heartbeat(addr)
        again = decode_header(p.RegisterBrokerToControllerResponseHeader, a1.register(addr).ext_fields)
        assert (again.masterBrokerId, again.masterAddress, again.masterEpoch) == (3, a3.addr, 2)
    finally:
        assert controller.terminate() == 0

    # the state is on disk: a restarted controller knows the master and its epochs
    restarted = start_controller(tmp_path / "c0", port=controller.port)
    try:
        info, sss = replica_info(a2, restarted.addr)
        assert (info.masterBrokerId, info.masterEpoch) == (3, 2)
        assert sss.syncStateSetEpoch == 3
    finally:
        restarted.kill()


def test_heartbeat_timeout_elects_without_a_closed_connection(tmp_path: Path, brokers) -> None:
    controller = start_controller(tmp_path / "c1", extra=["--scanNotActiveBrokerInterval=500",
                                                          "--scanInactiveMasterInterval=500"])
    try:
        addr = controller.addr
        b1, b2 = brokers("broker-b"), brokers("broker-b")
        form_set(addr, [b1, b2])
        alter = b1.call(addr, Req.CONTROLLER_ALTER_SYNC_STATE_SET, p.AlterSyncStateSetRequestHeader("broker-b", 1, 1),
                        p.SyncStateSet({1, 2}, 1).encode())
        assert alter.code == 0
        # the master's heartbeats say it lives 1.5 s after each; the slave keeps beating
        b1.heartbeat(addr, timeout_ms=1500)

        def slave_beats_and_master_changed() -> bool:
            b2.heartbeat(addr)
            return replica_info(b2, addr)[0].masterBrokerId == 2
        wait_until(slave_beats_and_master_changed, timeout=30, interval=0.3, message="broker 2 elected")
        assert replica_info(b2, addr)[0].masterEpoch == 2
        assert "heartbeat expired" in (tmp_path / "c1" / "logs" / "rocketmqlogs" / "controller.log").read_text()
    finally:
        controller.kill()


def test_controller_inside_the_name_server(tmp_path: Path, brokers) -> None:
    controller_port = free_port()
    namesrv = start_namesrv(tmp_path / "ns", extra=[
        "--enableControllerInNamesrv=true", "--controllerDLegerGroup=group1",
        f"--controllerDLegerPeers=n0-127.0.0.1:{controller_port}", "--controllerDLegerSelfId=n0",
        f"--controllerStorePath={tmp_path / 'ns' / 'controller-store'}"])
    try:
        controller = f"127.0.0.1:{controller_port}"
        assert call(namesrv.addr, RequestCode.GET_BROKER_CLUSTER_INFO).code == 0  # still a name server
        meta = decode_header(p.GetMetaDataResponseHeader, call(controller, Req.CONTROLLER_GET_METADATA_INFO).ext_fields)
        assert meta.isLeader and meta.controllerLeaderAddress == controller
        c1, c2 = brokers("broker-c"), brokers("broker-c")
        form_set(controller, [c1, c2])
        info, _ = replica_info(c2, controller)
        assert (info.masterBrokerId, info.masterEpoch) == (1, 1)
        assert (tmp_path / "ns" / "controller-store" / "controller.log").stat().st_size > 0
    finally:
        assert namesrv.terminate() == 0


def test_a_second_controller_on_the_same_store_refuses_to_start(tmp_path: Path) -> None:
    first = start_controller(tmp_path / "c")
    try:
        from tests.support.controller import Controller
        second = Controller(tmp_path / "c")
        assert second.proc.wait(60) == 1
        wait_until(lambda: "is in use by another controller" in second.output, timeout=10,
                   message="the second controller saying why it stopped")
        assert call(first.addr, Req.CONTROLLER_GET_METADATA_INFO).code == 0
    finally:
        first.kill()


def test_bad_input_gets_an_error_answer_and_the_controller_lives_on(tmp_path: Path) -> None:
    controller = start_controller(tmp_path / "bad")
    try:
        bodies = [None, b"", b"{", b"[1,2]", b'{"syncStateSet":"x","syncStateSetEpoch":"y"}', b"\xff\xfe" * 50,
                  b'["a",1]', b'{"syncStateSet":[1e400]}']
        fields = [None, {}, {"brokerName": "b", "brokerId": "x"}, {"clusterName": "c", "brokerName": "b",
                  "brokerId": "99999999999999999999", "designateElect": "true"},
                  {"brokerName": "b", "masterBrokerId": "1", "masterEpoch": "2147483648"},
                  {"clusterName": "c", "brokerName": "b", "appliedBrokerId": "1", "registerCheckCode": ""}]
        codes = [code for code in Req if code not in (Req.NOTIFY_BROKER_ROLE_CHANGED, Req.GET_BROKER_EPOCH_CACHE,
                                                      Req.GET_BROKER_MEMBER_GROUP, Req.UPDATE_CONTROLLER_CONFIG)]
        for code in codes:
            for header in fields:
                for body in bodies:
                    answer = call(controller.addr, code, header, body)
                    assert answer.code is not None
        assert call(controller.addr, Req.CONTROLLER_GET_METADATA_INFO).code == 0
        assert controller.proc.poll() is None
        log = (tmp_path / "bad" / "logs" / "rocketmqlogs" / "controller.log").read_text()
        assert "Traceback" not in log  # every bad request was answered by a handler, none crashed one
    finally:
        controller.kill()


def test_our_mqadmin_reads_the_controller(tmp_path: Path, brokers) -> None:
    import io

    from pocketmq.tools.mqadmin import run as mqadmin

    def admin(*args: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        assert mqadmin(list(args), out=out, err=err) == 0, err.getvalue()
        return out.getvalue()

    controller = start_controller(tmp_path / "adm")
    try:
        m1, m2 = brokers("broker-m"), brokers("broker-m")
        form_set(controller.addr, [m1, m2])
        assert admin("getControllerMetaData", "-a", controller.addr) == (
            f"\n#ControllerGroup\tgroup1\n#ControllerLeaderId\tn0\n#ControllerLeaderAddress\t{controller.addr}"
            f"\n#Peer:\tn0:{controller.addr}\n")
        shown = admin("getSyncStateSet", "-a", controller.addr, "-b", "broker-m")
        assert shown.startswith(f"\n#brokerName\tbroker-m\n#MasterBrokerId\t1\n#MasterAddr\t{m1.addr}\n#MasterEpoch\t1\n"
                                "#SyncStateSetEpoch\t1\n#SyncStateSetNums\t1\n")
        assert (f"\nNotInSyncReplica:\tReplicaIdentity{{brokerName='broker-m', brokerId=2, brokerAddress='{m2.addr}', "
                "alive=true}\n") in shown
        out, err = io.StringIO(), io.StringIO()  # designating the current master: refused, as upstream
        assert mqadmin(["electMaster", "-a", controller.addr, "-c", CLUSTER, "-bn", "broker-m", "-b", "1"],
                       out=out, err=err) == 1
        assert "CODE: 2011" in err.getvalue()
    finally:
        controller.kill()
