"""mqproxy in front of a SYNC_MASTER and its slave: the route lists both brokers of the set (ids 0
and 1, as upstream's proxy does) at the proxy's address, a gRPC send is acknowledged once the
slave holds it, and a send while the master has no slave answers HA_NOT_AVAILABLE."""

from __future__ import annotations

import hashlib
from pathlib import Path

import grpc

from pocketmq.proxy.stubs import pb, pb_grpc
from tests.support.cluster import create_topic, pull_all, start_master, start_slave, wait_replicated, wait_topic
from tests.support.processes import start_namesrv, start_proxy, wait_until

TOPIC = "ProxyHaTopic"
CLIENT = (("x-mq-client-id", "ha-test"),)


def send(stub: pb_grpc.MessagingServiceStub, message_id: str) -> pb.SendMessageResponse:
    body = message_id.encode()
    msg = pb.Message(topic=pb.Resource(name=TOPIC), body=body, system_properties=pb.SystemProperties(
        message_id=message_id, message_type=pb.NORMAL,
        body_digest=pb.Digest(type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper())))
    return stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)


def test_proxy_in_front_of_a_sync_master_and_its_slave(tmp_path: Path) -> None:
    with start_namesrv(tmp_path / "ns") as ns, start_master(tmp_path / "m", ns.addr) as master, \
            start_proxy(tmp_path / "proxy", ns.addr) as proxy:
        create_topic(master.addr, TOPIC, queues=2)
        stub = pb_grpc.MessagingServiceStub(grpc.insecure_channel(proxy.endpoint))
        wait_until(lambda: stub.QueryRoute(pb.QueryRouteRequest(topic=pb.Resource(name=TOPIC)),
                                           metadata=CLIENT).status.code == pb.OK, 20, 0.2, "the route")
        alone = send(stub, "HA-ALONE")
        assert alone.status.code == pb.HA_NOT_AVAILABLE, alone.status
        with start_slave(tmp_path / "s", ns.addr) as slave:
            wait_topic(slave.addr, TOPIC)

            def both_in_route() -> bool:
                response = stub.QueryRoute(pb.QueryRouteRequest(topic=pb.Resource(name=TOPIC)), metadata=CLIENT)
                return {q.broker.id for q in response.message_queues} == {0, 1}

            wait_until(both_in_route, 30, 0.3, "master and slave in the route")
            wait_until(lambda: send(stub, "HA-PROBE").status.code == pb.OK, 30, 0.3, "the slave to attach")
            response = send(stub, "HA-ACKED")
            assert response.status.code == pb.OK
            wait_replicated(master, slave)
            on_slave = {m.properties["UNIQ_KEY"] for q in range(2) for m in pull_all(slave.addr, TOPIC, q)}
            assert "HA-ACKED" in on_slave
