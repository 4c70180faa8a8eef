"""Controller mode's brokerIdentity file (upstream BrokerMetadata/TempBrokerMetadata) and the
controllerAddr list."""

import pytest

from pocketmq.broker.replicas_manager import BrokerIdentityFile, controller_addresses


def test_identity_survives_and_the_temp_file_goes(tmp_path):
    identity = BrokerIdentityFile(str(tmp_path))
    assert identity.load("C", "broker-a") is None and identity.load_temp() is None
    identity.save_temp("C", "broker-a", 2, "127.0.0.1:30911;1700000000000")
    assert identity.load_temp() == (2, "127.0.0.1:30911;1700000000000")
    identity.save("C", "broker-a", 2)
    assert (tmp_path / "brokerIdentity").read_text() == "C#broker-a#2"  # upstream's encodeToStr
    assert identity.load_temp() is None
    assert BrokerIdentityFile(str(tmp_path)).load("C", "broker-a") == 2


def test_another_brokers_store_is_refused(tmp_path):
    BrokerIdentityFile(str(tmp_path)).save("C", "broker-b", 1)
    with pytest.raises(ValueError, match="belongs to C/broker-b"):
        BrokerIdentityFile(str(tmp_path)).load("C", "broker-a")
    (tmp_path / "brokerIdentity").write_text("garbage")
    with pytest.raises(ValueError, match="not <cluster>#<brokerName>#<brokerId>"):
        BrokerIdentityFile(str(tmp_path)).load("C", "broker-a")


def test_controller_addresses():
    assert controller_addresses("127.0.0.1:9878; 127.0.0.1:9879;") == ["127.0.0.1:9878", "127.0.0.1:9879"]
    assert controller_addresses("") == []
