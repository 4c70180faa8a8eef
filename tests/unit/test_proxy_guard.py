"""The gRPC endpoint's request guard, sans IO: namespace names both ways, the 5.x clients'
authorization header and signature, what each request needs from plain ACL, the relay's peers."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from pocketmq.proxy.front import PeerTable
from pocketmq.proxy.guard import needed_resources
from pocketmq.proxy.namespace import unwrap, unwrap_resources, wrap, wrap_resources
from pocketmq.proxy.stubs import pb
from pocketmq.security import permission
from pocketmq.security.plain_acl import AclDenied
from pocketmq.security.signing import (
    BadAuthorization, grpc_signature, grpc_signature_matches, parse_grpc_authorization,
)


@pytest.mark.parametrize("namespace, name, wrapped", [
    ("ns1", "TopicA", "ns1%TopicA"),
    ("ns1", "ns1%TopicA", "ns1%TopicA"),  # already there
    ("ns1", "%RETRY%GID", "%RETRY%ns1%GID"),
    ("ns1", "%DLQ%GID", "%DLQ%ns1%GID"),
    ("ns1", "TBW102", "TBW102"),  # system topics stay
    ("", "TopicA", "TopicA"),
])
def test_wrap_and_unwrap_as_namespace_util(namespace, name, wrapped) -> None:
    assert wrap(namespace, name) == wrapped
    if namespace and wrapped != name:
        assert unwrap(wrapped) == (namespace, name)


def test_every_resource_of_a_message_is_renamed_both_ways() -> None:
    request = pb.TelemetryCommand(settings=pb.Settings(subscription=pb.Subscription(
        group=pb.Resource(name="G"), subscriptions=[pb.SubscriptionEntry(topic=pb.Resource(name="T")),
                                                    pb.SubscriptionEntry(topic=pb.Resource(name="U",
                                                                                           resource_namespace="own"))])))
    wrap_resources(request, "ns1")
    subscription = request.settings.subscription
    assert [subscription.group.name] + [e.topic.name for e in subscription.subscriptions] == \
        ["ns1%G", "ns1%T", "own%U"]
    assert not subscription.group.resource_namespace
    unwrap_resources(request)
    assert (subscription.subscriptions[1].topic.name, subscription.subscriptions[1].topic.resource_namespace) == \
        ("U", "own")


def test_the_clients_authorization_header_and_signature() -> None:
    date = "20261130T000000Z"
    signature = hmac.new(b"12345678", date.encode(), hashlib.sha1).hexdigest()
    header = f"MQv2-HMAC-SHA1 Credential=rocketmq2, SignedHeaders=x-mq-date-time, Signature={signature}"
    assert parse_grpc_authorization(header) == ("rocketmq2", signature)
    assert grpc_signature("12345678", date) == signature
    assert grpc_signature_matches(signature.upper(), "12345678", date)
    assert not grpc_signature_matches(signature, "12345678", "20261130T000001Z")
    with pytest.raises(BadAuthorization):
        parse_grpc_authorization("garbage")
    with pytest.raises(BadAuthorization):
        parse_grpc_authorization("MQv2-HMAC-SHA1 Credential")


def test_what_each_request_needs() -> None:
    assert needed_resources(pb.SendMessageRequest(messages=[pb.Message(topic=pb.Resource(name="T"))]), "") == \
        {"T": permission.PUB}
    receive = pb.ReceiveMessageRequest(group=pb.Resource(name="G"),
                                       message_queue=pb.MessageQueue(topic=pb.Resource(name="T")))
    assert needed_resources(receive, "ns1") == {"%RETRY%ns1%G": permission.SUB, "ns1%T": permission.SUB}
    assert needed_resources(pb.QueryRouteRequest(topic=pb.Resource(name="T")), "") == {"T": permission.ANY}
    with pytest.raises(AclDenied):
        needed_resources(pb.SendMessageRequest(), "")
    with pytest.raises(AclDenied):
        needed_resources(pb.TelemetryCommand(settings=pb.Settings()), "")


def test_the_relay_peer_table() -> None:
    peers = PeerTable()
    peers.add(40000, "10.0.0.7:5123")
    assert peers.real("ipv4:127.0.0.1:40000") == "10.0.0.7:5123"
    assert peers.real("ipv4:127.0.0.1:40001") is None
    assert peers.real("ipv6:[::1]:40000") is None
    peers.remove(40000)
    assert peers.real("ipv4:127.0.0.1:40000") is None
