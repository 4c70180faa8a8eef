"""Controller-mode codes, headers and bodies against upstream 5.3.3's names and fastjson text."""

import pytest

from pocketmq.protocol import controller as c
from pocketmq.remoting.header import HeaderError, decode_header, encode_header


def test_codes_are_upstreams() -> None:
    assert c.ControllerRequestCode.BROKER_HEARTBEAT == 904
    assert c.ControllerRequestCode.CONTROLLER_ALTER_SYNC_STATE_SET == 1001
    assert c.ControllerRequestCode.NOTIFY_BROKER_ROLE_CHANGED == 1008
    assert c.ControllerRequestCode.CONTROLLER_APPLY_BROKER_ID == 1013
    assert c.ControllerResponseCode.CONTROLLER_FENCED_MASTER_EPOCH == 2000
    assert c.ControllerResponseCode.CONTROLLER_BROKER_NEED_TO_BE_REGISTERED == 2010
    assert c.ControllerResponseCode.CONTROLLER_ELECT_MASTER_FAILED == 2012


def test_elect_master_header_as_java_sends_it() -> None:
    fields = {"clusterName": "c", "brokerName": "b", "brokerId": "2", "designateElect": "false",
              "invokeTime": "1700000000000"}
    header = decode_header(c.ElectMasterRequestHeader, fields)
    assert header == c.ElectMasterRequestHeader("c", "b", 2, False, 1700000000000)
    assert encode_header(header) == fields
    with pytest.raises(HeaderError):
        decode_header(c.ElectMasterRequestHeader, {"clusterName": "c", "brokerName": "b"})


def test_heartbeat_header_needs_names_and_refuses_overflow() -> None:
    header = decode_header(c.BrokerHeartbeatRequestHeader, {
        "clusterName": "c", "brokerAddr": "1.2.3.4:10911", "brokerName": "b", "brokerId": "1",
        "epoch": "3", "maxOffset": "1024", "electionPriority": "2"})
    assert (header.epoch, header.maxOffset, header.confirmOffset) == (3, 1024, None)
    with pytest.raises(HeaderError):
        decode_header(c.BrokerHeartbeatRequestHeader, {"clusterName": "c", "brokerAddr": "a",
                                                       "brokerName": "b", "epoch": str(1 << 31)})


def test_metadata_header_spells_is_leader_as_upstream() -> None:
    fields = encode_header(c.GetMetaDataResponseHeader("g", "n0", "127.0.0.1:9878", True, "n0:127.0.0.1:9878;"))
    assert fields["isLeader"] == "true"


def test_sync_state_set_round_trip_and_fastjson_input() -> None:
    body = c.SyncStateSet({2, 1}, 5)
    assert body.encode() == b'{"syncStateSet":[1,2],"syncStateSetEpoch":5}'
    assert c.SyncStateSet.decode(body.encode()) == body
    with pytest.raises(ValueError):
        c.SyncStateSet.decode(b'{"syncStateSet":"x"}')
    with pytest.raises(ValueError):
        c.SyncStateSet.decode(b"")


def test_elect_master_body_reads_fastjson_integer_keys() -> None:
    text = b'{"brokerMemberGroup":{"brokerAddrs":{1:"127.0.0.1:30911",2:"127.0.0.1:30921"},' \
           b'"brokerName":"broker-a","cluster":"DefaultCluster"},"syncStateSet":[1]}'
    body = c.ElectMasterResponseBody.decode(text)
    assert body.brokerMemberGroup == c.BrokerMemberGroup("DefaultCluster", "broker-a",
                                                         {1: "127.0.0.1:30911", 2: "127.0.0.1:30921"})
    assert c.ElectMasterResponseBody.decode(body.encode()) == body


def test_replicas_info_and_epoch_cache_round_trip() -> None:
    info = c.BrokerReplicasInfo({"broker-a": c.ReplicasInfo(
        1, "a:1", 2, 3, [c.ReplicaIdentity("broker-a", 1, "a:1", True)],
        [c.ReplicaIdentity("broker-a", 2, "a:2", False)])})
    assert c.BrokerReplicasInfo.decode(info.encode()) == info
    cache = c.EpochEntryCache("c", "b", 1, [c.EpochEntry(1, 0, 100), c.EpochEntry(2, 100)], 200)
    assert c.EpochEntryCache.decode(cache.encode()) == cache
    assert c.decode_broker_names(c.encode_broker_names(["a", "b"])) == ["a", "b"]
