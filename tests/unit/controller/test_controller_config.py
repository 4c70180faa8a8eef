"""ControllerConfig: upstream's keys, where the controller listens, and refused settings."""

import pytest

from pocketmq.config import apply_properties, parse_properties
from pocketmq.controller.config import ControllerConfig
from pocketmq.controller.etcd_store import parse_endpoints


def test_listens_on_its_own_peer_entry() -> None:
    config = apply_properties(ControllerConfig(), parse_properties(
        "controllerDLegerPeers = n0-127.0.0.1:9878;n1-127.0.0.1:9879\ncontrollerDLegerSelfId = n1\n"))
    assert config.listen_address() == ("0.0.0.0", 9879)
    assert config.peers() == {"n0": "127.0.0.1:9878", "n1": "127.0.0.1:9879"}
    assert ControllerConfig(controllerListenPort=9999).listen_address() == ("0.0.0.0", 9999)


def test_defaults_are_upstreams() -> None:
    config = ControllerConfig()
    assert (config.scanNotActiveBrokerInterval, config.enableElectUncleanMaster, config.notifyBrokerRoleChanged,
            config.electMasterMaxRetryCount, config.controllerStoreType) == (5000, False, True, 3, "file")


@pytest.mark.parametrize("config", [
    ControllerConfig(controllerStoreType="zookeeper"),
    ControllerConfig(controllerStoreType="etcd"),
    ControllerConfig(controllerDLegerPeers="n0:127.0.0.1"),
    ControllerConfig(scanNotActiveBrokerInterval=0),
])
def test_bad_settings_are_refused(config: ControllerConfig) -> None:
    with pytest.raises(ValueError):
        config.validate()


def test_etcd_endpoints() -> None:
    assert parse_endpoints("http://10.0.0.1:2379, 10.0.0.2:2379;10.0.0.3:2379") == [
        ("10.0.0.1", 2379), ("10.0.0.2", 2379), ("10.0.0.3", 2379)]
    with pytest.raises(ValueError):
        parse_endpoints("10.0.0.1")
