"""The gRPC endpoint's TLS, ACL and namespaces over the wire: a real name server, broker and
`mqproxy` with a certificate (plaintext and TLS on one port), ``enableACL=true`` and a
plain_acl.yml, spoken to with gRPC through PocketMQ's stubs and metadata signed as the official
5.x clients sign it (HmacSHA1 of x-mq-date-time, hex). The official clients are in
tests/interop/test_grpc_security5.py."""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
import threading
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from pocketmq.proxy.stubs import pb, pb_grpc
from tests.support.acl import write_acl
from tests.support.cluster import create_topic, pull_all
from tests.support.processes import Broker, Namesrv, Proxy, start_broker, start_namesrv, start_proxy, wait_until
from tests.support.tls import make_cert, tls_args

TOPIC = "SecTopic"
NS_TOPIC = "NsTopic"
DATE = "20261130T000000Z"
ACL_YML = """\
globalWhiteRemoteAddresses:
  - 10.9.8.7
accounts:
  - accessKey: rocketmq2
    secretKey: "12345678"
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - SecTopic=PUB|SUB
      - ns1%NsTopic=PUB|SUB
      - ReadOnlyTopic=SUB
"""


def signed(access_key: str = "rocketmq2", secret_key: str = "12345678", namespace: str = "",
           client_id: str = "sec-client") -> tuple[tuple[str, str], ...]:
    signature = hmac.new(secret_key.encode(), DATE.encode(), hashlib.sha1).hexdigest()
    return (("x-mq-client-id", client_id), ("x-mq-date-time", DATE), ("x-mq-namespace", namespace),
            ("authorization", f"MQv2-HMAC-SHA1 Credential={access_key}, SignedHeaders=x-mq-date-time, "
                              f"Signature={signature}"))


class Env:
    def __init__(self, ns: Namesrv, broker: Broker, proxy: Proxy, cert: Path) -> None:
        self.ns, self.broker, self.proxy, self.cert = ns, broker, proxy, cert
        self.plain_channel = grpc.insecure_channel(proxy.endpoint)
        self.tls_channel = grpc.secure_channel(proxy.endpoint, grpc.ssl_channel_credentials(cert.read_bytes()))
        self.plain = pb_grpc.MessagingServiceStub(self.plain_channel)
        self.tls = pb_grpc.MessagingServiceStub(self.tls_channel)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("proxysec")
    cert, key = make_cert(tmp / "tls")
    write_acl(tmp / "proxy", ACL_YML)
    extra = {**tls_args("permissive", cert, key), "enableACL": "true", "rocketmqHome": tmp / "proxy"}
    with start_namesrv(tmp / "ns") as ns, start_broker(tmp / "broker", ns.addr) as broker, \
            start_proxy(tmp / "proxy", ns.addr, extra=extra) as proxy:
        for topic in (TOPIC, "ns1%" + NS_TOPIC, "ReadOnlyTopic", "DeniedTopic"):
            create_topic(broker.addr, topic, queues=2)
        env = Env(ns, broker, proxy, cert)
        wait_until(lambda: env.plain.QueryRoute(route_request(TOPIC), metadata=signed()).status.code == pb.OK,
                   20, 0.2, "the topic's route through the proxy")
        yield env
        env.plain_channel.close()
        env.tls_channel.close()


def route_request(topic: str, namespace: str = "") -> pb.QueryRouteRequest:
    return pb.QueryRouteRequest(topic=pb.Resource(name=topic, resource_namespace=namespace), endpoints=pb.Endpoints(
        scheme=pb.IPv4, addresses=[pb.Address(host="127.0.0.1", port=1234)]))


def send_request(topic: str, message_id: str, namespace: str = "") -> pb.SendMessageRequest:
    body = message_id.encode()
    props = pb.SystemProperties(message_id=message_id, message_type=pb.NORMAL, body_encoding=pb.IDENTITY,
                                body_digest=pb.Digest(type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper()))
    return pb.SendMessageRequest(messages=[pb.Message(
        topic=pb.Resource(name=topic, resource_namespace=namespace), body=body, system_properties=props)])


def stored_ids(env: Env, topic: str) -> set[str]:
    return {m.properties["UNIQ_KEY"] for q in range(2) for m in pull_all(env.broker.addr, topic, q)}


def test_plaintext_and_tls_on_the_same_port(env: Env) -> None:
    for stub, message_id in ((env.plain, "PLAIN00000000001"), (env.tls, "TLS0000000000001")):
        response = stub.SendMessage(send_request(TOPIC, message_id), metadata=signed())
        assert response.status.code == pb.OK, response.status.message
    assert {"PLAIN00000000001", "TLS0000000000001"} <= stored_ids(env, TOPIC)


def test_a_3mb_message_over_tls_through_the_relay(env: Env) -> None:
    request = send_request(TOPIC, "TLSBIG0000000001")
    request.messages[0].body = bytes(range(256)) * (3 * 4096)
    digest = hashlib.md5(request.messages[0].body).hexdigest().upper()
    request.messages[0].system_properties.body_digest.checksum = digest
    response = env.tls.SendMessage(request, metadata=signed(), timeout=60)
    assert response.status.code == pb.OK, response.status.message
    stored = {m.properties["UNIQ_KEY"]: m.body for q in range(2) for m in pull_all(env.broker.addr, TOPIC, q)}
    assert stored["TLSBIG0000000001"] == request.messages[0].body
    # and back to a consumer over TLS (the relay's other direction)
    receive = pb.ReceiveMessageRequest(
        group=pb.Resource(name="GID_SEC_BIG"), message_queue=pb.MessageQueue(
            topic=pb.Resource(name=TOPIC), broker=pb.Broker(name="broker-a")),
        filter_expression=pb.FilterExpression(type=pb.TAG, expression="*"), batch_size=32)
    receive.invisible_duration.FromSeconds(30)
    receive.long_polling_timeout.FromSeconds(5)

    def received_big() -> bytes | None:
        for answer in env.tls.ReceiveMessage(receive, metadata=signed(), timeout=30):
            if answer.WhichOneof("content") == "message" and \
                    answer.message.system_properties.message_id == "TLSBIG0000000001":
                return answer.message.body
        return None

    assert wait_until(received_big, 60, 0.2, "the 3 MB message received over TLS") == request.messages[0].body


def test_a_tls_handshake_that_fails_or_garbage_leaves_the_port_serving(env: Env) -> None:
    host, _, port = env.proxy.endpoint.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # a ClientHello cut short
        sock.sendall(b"\x16\x03\x01\x00\xff\x01")
    with socket.create_connection((host, int(port)), timeout=10) as sock:  # neither TLS nor HTTP/2
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        sock.settimeout(10)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
    context = ssl.create_default_context(cafile=str(env.cert))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.selected_alpn_protocol() == "h2"  # what gRPC clients insist on
    assert env.tls.QueryRoute(route_request(TOPIC), metadata=signed()).status.code == pb.OK
    assert env.proxy.proc.poll() is None


def test_a_proxy_protocol_header_names_the_client_the_message_is_born_at(env: Env) -> None:
    """A layer-4 balancer in front (here: a relay that starts each connection with a PROXY v1
    header, as HAProxy's send-proxy does): the message's born host is the client it names."""
    host, _, port = env.proxy.endpoint.rpartition(":")
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for end in (src, dst):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def balancer() -> None:
        listener.settimeout(0.5)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            upstream = socket.create_connection((host, int(port)))
            upstream.sendall(b"PROXY TCP4 10.9.8.7 127.0.0.1 5123 8081\r\n")
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    thread = threading.Thread(target=balancer, daemon=True)
    thread.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{listener.getsockname()[1]}") as channel:
            stub = pb_grpc.MessagingServiceStub(channel)
            # 10.9.8.7 is white-listed, but only claimed: unsigned calls are still refused
            unsigned = stub.SendMessage(send_request(TOPIC, "BEHINDLB00000002"),
                                        metadata=(("x-mq-client-id", "lb-client"),), timeout=30)
            assert (unsigned.status.code, unsigned.status.message) == (pb.UNAUTHORIZED, "No accessKey is configured")
            response = stub.SendMessage(send_request(TOPIC, "BEHINDLB00000001"), metadata=signed(), timeout=30)
        assert response.status.code == pb.OK, response.status.message
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    stored = {m.properties["UNIQ_KEY"]: m for q in range(2) for m in pull_all(env.broker.addr, TOPIC, q)}
    assert stored["BEHINDLB00000001"].properties["__BORNHOST"] == "10.9.8.7:5123"


@pytest.mark.parametrize("metadata, reason", [
    (signed(secret_key="wrong-secret"), "Check signature failed for accessKey=rocketmq2"),
    (signed(access_key="nobody-here"), "No acl config for nobody-here"),
    ((("x-mq-client-id", "sec-client"),), "No accessKey is configured"),
    ((("x-mq-client-id", "sec-client"), ("authorization", "garbage")), "authorization header is incorrect"),
])
def test_bad_credentials_are_unauthorized_and_nothing_is_stored(env: Env, metadata, reason) -> None:
    response = env.tls.SendMessage(send_request(TOPIC, "BADAUTH000000001"), metadata=metadata)
    assert (response.status.code, response.status.message) == (pb.UNAUTHORIZED, reason)
    route = env.plain.QueryRoute(route_request(TOPIC), metadata=metadata)
    assert route.status.code == pb.UNAUTHORIZED and not route.message_queues
    assert "BADAUTH000000001" not in stored_ids(env, TOPIC)


def test_a_missing_permission_is_unauthorized(env: Env) -> None:
    denied = env.plain.SendMessage(send_request("DeniedTopic", "DENIED0000000001"), metadata=signed())
    assert (denied.status.code, denied.status.message) == (pb.UNAUTHORIZED, "No default permission for topic:DeniedTopic")
    read_only = env.plain.SendMessage(send_request("ReadOnlyTopic", "DENIED0000000002"), metadata=signed())
    assert (read_only.status.code, read_only.status.message) == \
        (pb.UNAUTHORIZED, "No default permission for topic:ReadOnlyTopic")
    # a route needs any permission: SUB on ReadOnlyTopic is enough, none on DeniedTopic is not
    assert env.plain.QueryRoute(route_request("ReadOnlyTopic"), metadata=signed()).status.code == pb.OK
    assert env.plain.QueryRoute(route_request("DeniedTopic"), metadata=signed()).status.code == pb.UNAUTHORIZED
    assert not stored_ids(env, "DeniedTopic") and not stored_ids(env, "ReadOnlyTopic")


def test_a_refused_telemetry_command_is_answered_and_the_stream_goes_on(env: Env) -> None:
    done = threading.Event()

    def commands():
        yield pb.TelemetryCommand(settings=pb.Settings(client_type=pb.PRODUCER, publishing=pb.Publishing(
            topics=[pb.Resource(name="DeniedTopic")])))
        yield pb.TelemetryCommand(settings=pb.Settings(client_type=pb.PRODUCER, publishing=pb.Publishing(
            topics=[pb.Resource(name=TOPIC)])))
        done.wait(30)

    call = env.plain.Telemetry(commands(), metadata=signed(client_id="telemetry-sec"))
    first, second = next(call), next(call)
    done.set()
    call.cancel()
    assert (first.status.code, first.status.message) == (pb.UNAUTHORIZED, "No default permission for topic:DeniedTopic")
    assert second.status.code == pb.OK and second.settings.publishing.max_body_size > 0


def test_a_namespace_prefixes_topics_towards_the_broker_and_is_taken_off_towards_the_client(env: Env) -> None:
    metadata = signed(namespace="ns1")
    route = env.tls.QueryRoute(route_request(NS_TOPIC, "ns1"), metadata=metadata)
    assert route.status.code == pb.OK, route.status.message
    assert {(q.topic.name, q.topic.resource_namespace) for q in route.message_queues} == {(NS_TOPIC, "ns1")}
    sent = env.tls.SendMessage(send_request(NS_TOPIC, "NAMESPACE0000001", "ns1"), metadata=metadata)
    assert sent.status.code == pb.OK, sent.status.message
    assert "NAMESPACE0000001" in stored_ids(env, "ns1%" + NS_TOPIC)
    # without the namespace the same name is another topic, which this account may not use
    assert env.tls.QueryRoute(route_request(NS_TOPIC), metadata=signed()).status.code == pb.UNAUTHORIZED


def test_enforcing_refuses_plaintext(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path / "tls")
    # the certificate under upstream ProxyConfig's keys this time
    extra = {"tls.server.mode": "enforcing", "tlsCertPath": cert, "tlsKeyPath": key}
    with start_namesrv(tmp_path / "ns") as ns, start_broker(tmp_path / "broker", ns.addr) as broker, \
            start_proxy(tmp_path / "proxy", ns.addr, extra=extra) as proxy:
        create_topic(broker.addr, TOPIC, queues=2)
        with grpc.secure_channel(proxy.endpoint, grpc.ssl_channel_credentials(cert.read_bytes())) as channel:
            stub = pb_grpc.MessagingServiceStub(channel)
            wait_until(lambda: stub.QueryRoute(route_request(TOPIC), metadata=signed()).status.code == pb.OK,
                       20, 0.2, "the route over TLS")
        with grpc.insecure_channel(proxy.endpoint) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.MessagingServiceStub(channel).QueryRoute(route_request(TOPIC), metadata=signed(), timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert proxy.proc.poll() is None
