"""Local mode: two brokers started with `mqbroker --enable-proxy`, each with its gRPC endpoint on
its own port of one host. Routes through either endpoint advertise each broker at its own
endpoint; a send goes to the broker of the endpoint it reaches; a broker without an endpoint
is left out of gRPC routes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from pocketmq.proxy.stubs import pb, pb_grpc
from tests.support.cluster import create_topic, pull_all
from tests.support.processes import free_port, start_broker, start_namesrv, wait_until

TOPIC = "LocalTopic"
CLIENT = (("x-mq-client-id", "local-test"),)


class Env:
    def __init__(self, brokers: dict[str, object], endpoints: dict[str, str]) -> None:
        self.brokers, self.endpoints = brokers, endpoints

    def stub(self, name: str) -> pb_grpc.MessagingServiceStub:
        return pb_grpc.MessagingServiceStub(grpc.insecure_channel(self.endpoints[name]))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("local")
    ports = {"broker-a": free_port(), "broker-b": free_port()}
    with start_namesrv(tmp / "ns") as ns, \
            start_broker(tmp / "a", ns.addr, name="broker-a", extra={"grpcServerPort": ports["broker-a"]},
                         flags=["--enable-proxy"]) as a, \
            start_broker(tmp / "b", ns.addr, name="broker-b", extra={"grpcServerPort": ports["broker-b"]},
                         flags=["--enable-proxy"]) as b, \
            start_broker(tmp / "c", ns.addr, name="broker-c") as c:
        for broker in (a, b, c):
            create_topic(broker.addr, TOPIC, queues=2)
        env = Env({"broker-a": a, "broker-b": b, "broker-c": c},
                  {name: f"127.0.0.1:{port}" for name, port in ports.items()})

        def full_route() -> bool:
            response = env.stub("broker-a").QueryRoute(pb.QueryRouteRequest(topic=pb.Resource(name=TOPIC)),
                                                        metadata=CLIENT)
            return response.status.code == pb.OK and {q.broker.name for q in response.message_queues} == \
                {"broker-a", "broker-b"}

        wait_until(full_route, 30, 0.3, "both endpoints in the route")
        yield env


def test_each_broker_is_advertised_at_its_own_endpoint(env: Env) -> None:
    for via in ("broker-a", "broker-b"):
        response = env.stub(via).QueryRoute(pb.QueryRouteRequest(topic=pb.Resource(name=TOPIC)), metadata=CLIENT)
        assert response.status.code == pb.OK
        seen = {(q.broker.name, f"{a.host}:{a.port}") for q in response.message_queues
                for a in q.broker.endpoints.addresses}
        assert seen == {("broker-a", env.endpoints["broker-a"]), ("broker-b", env.endpoints["broker-b"])}
        assert len(response.message_queues) == 4  # broker-c has no endpoint: left out


def test_a_send_lands_on_the_broker_of_the_endpoint(env: Env) -> None:
    for name in ("broker-a", "broker-b"):
        body = name.encode()
        message_id = f"LOCAL-{name}"
        msg = pb.Message(topic=pb.Resource(name=TOPIC), body=body, system_properties=pb.SystemProperties(
            message_id=message_id, message_type=pb.NORMAL,
            body_digest=pb.Digest(type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper())))
        response = env.stub(name).SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)
        assert response.status.code == pb.OK, response.status.message

        def stored_on() -> set[str]:
            return {broker_name for broker_name, broker in env.brokers.items() for q in range(2)
                    for m in pull_all(broker.addr, TOPIC, q) if m.properties.get("UNIQ_KEY") == message_id}

        assert wait_until(stored_on, 10, 0.1, f"{message_id} on a broker") == {name}
