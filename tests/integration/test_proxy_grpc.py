"""mqproxy (cluster mode) over the wire: a real name server, broker and `mqproxy`, spoken to with
gRPC through PocketMQ's stubs of apache.rocketmq.v2 (the same bytes an official 5.x client sends),
and read back from the broker over remoting. The official clients are in tests/interop/."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from pocketmq.proxy.stubs import pb, pb_grpc
from tests.support import grpc_calls
from tests.support.cluster import create_topic, pull_all
from tests.support.processes import Broker, Namesrv, Proxy, start_broker, start_namesrv, start_proxy, wait_until

CLIENT = (("x-mq-client-id", "pytest-client-1"), ("x-mq-namespace", ""), ("authorization", "ignored"))
TOPIC = "ProxyTopic"


class Env:
    def __init__(self, ns: Namesrv, broker: Broker, proxy: Proxy) -> None:
        self.ns, self.broker, self.proxy = ns, broker, proxy
        self.channel = grpc.insecure_channel(proxy.endpoint)
        self.stub = pb_grpc.MessagingServiceStub(self.channel)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("proxy")
    with start_namesrv(tmp / "ns") as ns, start_broker(tmp / "broker", ns.addr) as broker, \
            start_proxy(tmp / "proxy", ns.addr) as proxy:
        create_topic(broker.addr, TOPIC, queues=4)
        env = Env(ns, broker, proxy)
        wait_until(lambda: env.stub.QueryRoute(route_request(TOPIC), metadata=CLIENT).status.code == pb.OK,
                   20, 0.2, "the topic's route through the proxy")
        yield env
        env.channel.close()


def route_request(topic: str) -> pb.QueryRouteRequest:
    return pb.QueryRouteRequest(topic=pb.Resource(name=topic), endpoints=pb.Endpoints(
        scheme=pb.IPv4, addresses=[pb.Address(host="127.0.0.1", port=1234)]))


def grpc_message(body: bytes, message_id: str, **system: object) -> pb.Message:
    props = pb.SystemProperties(message_id=message_id, message_type=pb.NORMAL,
                                body_digest=pb.Digest(type=pb.MD5, checksum=hashlib.md5(body).hexdigest().upper()),
                                body_encoding=pb.IDENTITY, **system)
    return pb.Message(topic=pb.Resource(name=TOPIC), body=body, system_properties=props)


def read_back(env: Env, topic: str = TOPIC) -> dict[str, object]:
    """Every message of the topic on the broker, by UNIQ_KEY."""
    found = {}
    for queue_id in range(4):
        for msg in pull_all(env.broker.addr, topic, queue_id):
            found[msg.properties["UNIQ_KEY"]] = msg
    return found


def test_query_route_advertises_the_dialled_endpoint_and_every_message_type(env: Env) -> None:
    response = env.stub.QueryRoute(route_request(TOPIC), metadata=CLIENT)
    assert response.status.code == pb.OK
    assert len(response.message_queues) == 4
    for queue in response.message_queues:
        assert queue.broker.name == "broker-a" and queue.broker.id == 0
        assert [(a.host, a.port) for a in queue.broker.endpoints.addresses] == [("127.0.0.1", 1234)]
        assert queue.permission == pb.READ_WRITE
        assert set(queue.accept_message_types) == {pb.NORMAL, pb.FIFO, pb.DELAY, pb.TRANSACTION}
    assert sorted(q.id for q in response.message_queues) == [0, 1, 2, 3]


def test_unknown_topic_is_topic_not_found_and_a_bad_name_illegal_topic(env: Env) -> None:
    assert env.stub.QueryRoute(route_request("NoSuchTopicHere"), metadata=CLIENT).status.code == pb.TOPIC_NOT_FOUND
    assert env.stub.QueryRoute(route_request("bad topic!"), metadata=CLIENT).status.code == pb.ILLEGAL_TOPIC
    assert env.stub.QueryRoute(route_request("TBW102"), metadata=CLIENT).status.code == pb.ILLEGAL_TOPIC
    msg = grpc_message(b"x", "ID-NO-TOPIC")
    msg.topic.name = "NoSuchTopicHere"
    response = env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)
    assert response.status.code == pb.TOPIC_NOT_FOUND


def test_telemetry_answers_a_producers_settings_with_the_servers(env: Env) -> None:
    settings = pb.Settings(client_type=pb.PRODUCER, publishing=pb.Publishing(topics=[pb.Resource(name=TOPIC)]),
                           user_agent=pb.UA(language=pb.PYTHON, version="5.1.2"))
    metadata = (("x-mq-client-id", "telemetry-producer"),)
    call = env.stub.Telemetry(iter([pb.TelemetryCommand(settings=settings)]), metadata=metadata)
    answer = next(call)
    assert answer.status.code == pb.OK
    assert answer.settings.publishing.max_body_size == 4 * 1024 * 1024
    assert answer.settings.publishing.validate_message_type is False  # enableTopicMessageTypeCheck: off here
    assert answer.settings.backoff_policy.max_attempts == 3
    assert answer.settings.backoff_policy.exponential_backoff.initial.ToMilliseconds() == 10
    assert env.stub.Heartbeat(pb.HeartbeatRequest(client_type=pb.PRODUCER), metadata=metadata).status.code == pb.OK
    done = env.stub.NotifyClientTermination(pb.NotifyClientTerminationRequest(), metadata=metadata)
    assert done.status.code == pb.OK
    call.cancel()


def test_telemetry_answers_a_consumers_settings(env: Env) -> None:
    settings = pb.Settings(client_type=pb.SIMPLE_CONSUMER, subscription=pb.Subscription(
        group=pb.Resource(name="GID_TEST"),
        subscriptions=[pb.SubscriptionEntry(topic=pb.Resource(name=TOPIC),
                                            expression=pb.FilterExpression(type=pb.TAG, expression="*"))]))
    call = env.stub.Telemetry(iter([pb.TelemetryCommand(settings=settings)]),
                              metadata=(("x-mq-client-id", "telemetry-consumer"),))
    answer = next(call)
    assert answer.status.code == pb.OK
    sub = answer.settings.subscription
    assert sub.HasField("fifo") and sub.fifo is False
    assert sub.receive_batch_size == 32
    assert sub.long_polling_timeout.ToMilliseconds() == 20000
    assert answer.settings.backoff_policy.max_attempts == 17
    call.cancel()


def test_heartbeat_without_settings_or_client_id(env: Env) -> None:
    unknown = env.stub.Heartbeat(pb.HeartbeatRequest(client_type=pb.PRODUCER),
                                 metadata=(("x-mq-client-id", "never-said-hello"),))
    assert unknown.status.code == pb.UNRECOGNIZED_CLIENT_TYPE
    assert env.stub.Heartbeat(pb.HeartbeatRequest()).status.code == pb.CLIENT_ID_REQUIRED


def test_send_stores_the_message_with_its_id_tag_keys_and_properties(env: Env) -> None:
    body = b"hello over grpc"
    msg = grpc_message(body, "0A0B0C0D0E0F0001", tag="TagA", keys=["k1", "k2"], message_group="")
    msg.user_properties["color"] = "blue"
    response = env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)
    assert response.status.code == pb.OK, response.status.message
    assert [e.message_id for e in response.entries] == ["0A0B0C0D0E0F0001"]
    stored = wait_until(lambda: read_back(env).get("0A0B0C0D0E0F0001"), 10, 0.1, "the message on the broker")
    assert stored.body == body
    assert stored.properties["TAGS"] == "TagA"
    assert stored.properties["KEYS"] == "k1 k2"
    assert stored.properties["color"] == "blue"


def test_fifo_messages_of_one_group_share_a_queue(env: Env) -> None:
    ids = [f"FIFO00000000000{i}" for i in range(6)]
    for message_id in ids:
        msg = grpc_message(message_id.encode(), message_id, message_group="order-42")
        msg.system_properties.message_type = pb.FIFO
        assert env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT).status.code == pb.OK
    stored = wait_until(lambda: (lambda s: s if all(i in s for i in ids) else None)(read_back(env)), 10, 0.1,
                        "the FIFO messages")
    assert len({stored[i].queue_id for i in ids}) == 1
    assert [stored[i].queue_offset for i in ids] == sorted(stored[i].queue_offset for i in ids)
    assert stored[ids[0]].properties["__SHARDINGKEY"] == "order-42"


def test_delivery_timestamp_goes_through_the_timer_wheel(env: Env) -> None:
    msg = grpc_message(b"later", "DELAY0000000001")
    msg.system_properties.message_type = pb.DELAY
    deliver_ms = int(time.time() * 1000) + 1500
    msg.system_properties.delivery_timestamp.FromMilliseconds(deliver_ms)
    assert env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT).status.code == pb.OK
    assert "DELAY0000000001" not in read_back(env)  # held back by the broker's timer wheel
    stored = wait_until(lambda: read_back(env).get("DELAY0000000001"), 15, 0.1, "the timer message")
    assert stored.store_timestamp >= deliver_ms  # never early
    assert stored.properties["TIMER_DELIVER_MS"] == str(deliver_ms)
    assert "TIMER_OUT_MS" in stored.properties and stored.properties["REAL_TOPIC"] == TOPIC


@pytest.mark.parametrize("mutate, code", [
    (lambda m: setattr(m.system_properties.body_digest, "checksum", "0" * 32), pb.MESSAGE_CORRUPTED),
    (lambda m: setattr(m.system_properties, "message_id", ""), pb.ILLEGAL_MESSAGE_ID),
    (lambda m: m.user_properties.__setitem__("UNIQ_KEY", "x"), pb.ILLEGAL_MESSAGE_PROPERTY_KEY),
    (lambda m: setattr(m.system_properties, "tag", "a|b"), pb.ILLEGAL_MESSAGE_TAG),
    (lambda m: setattr(m, "body", b""), pb.MESSAGE_BODY_EMPTY),
    (lambda m: m.system_properties.delivery_timestamp.FromMilliseconds(int(time.time() * 1000) + 3 * 86400_000),
     pb.ILLEGAL_DELIVERY_TIME),
    (lambda m: (setattr(m.system_properties, "message_type", pb.TRANSACTION),
                m.system_properties.orphaned_transaction_recovery_duration.FromSeconds(7200)), pb.BAD_REQUEST),
])
def test_bad_messages_get_upstream_codes_and_nothing_is_stored(env: Env, mutate, code) -> None:
    msg = grpc_message(b"bad", "BAD0000000000001")
    mutate(msg)
    response = env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)
    assert response.status.code == code, response.status.message
    assert response.entries[0].status.code == code
    assert "BAD0000000000001" not in read_back(env)


def test_a_body_over_max_body_size_is_refused(env: Env) -> None:
    msg = grpc_message(b"x" * (4 * 1024 * 1024 + 1), "BIG0000000000001")
    response = env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)
    assert response.status.code == pb.MESSAGE_BODY_TOO_LARGE


def test_malformed_protobuf_fails_the_call_and_the_proxy_stays_up(env: Env) -> None:
    raw = env.channel.unary_unary("/apache.rocketmq.v2.MessagingService/SendMessage",
                                  request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError):
        raw(b"\x0a\xff\xff\xff\xff\x0f\x01", metadata=CLIENT)
    assert env.stub.QueryRoute(route_request(TOPIC), metadata=CLIENT).status.code == pb.OK
    assert env.proxy.proc.poll() is None


def half(message_id: str) -> pb.Message:
    msg = grpc_message(message_id.encode(), message_id)
    msg.system_properties.message_type = pb.TRANSACTION
    return msg


def test_a_half_message_shows_after_commit_and_never_after_rollback(env: Env) -> None:
    sent = {}
    for message_id in ("TX-COMMIT", "TX-ROLLBACK"):
        response = env.stub.SendMessage(pb.SendMessageRequest(messages=[half(message_id)]), metadata=CLIENT)
        assert response.status.code == pb.OK, response.status.message
        sent[message_id] = response.entries[0].transaction_id
        assert sent[message_id]
    assert not {"TX-COMMIT", "TX-ROLLBACK"} & set(read_back(env))  # halves are not visible
    for message_id, resolution in (("TX-COMMIT", pb.COMMIT), ("TX-ROLLBACK", pb.ROLLBACK)):
        done = env.stub.EndTransaction(pb.EndTransactionRequest(
            topic=pb.Resource(name=TOPIC), message_id=message_id, transaction_id=sent[message_id],
            resolution=resolution, source=pb.SOURCE_CLIENT), metadata=CLIENT)
        assert done.status.code == pb.OK, done.status.message
    committed = wait_until(lambda: read_back(env).get("TX-COMMIT"), 10, 0.1, "the committed message")
    assert committed.body == b"TX-COMMIT"
    assert "TX-ROLLBACK" not in read_back(env)
    again = env.stub.EndTransaction(pb.EndTransactionRequest(
        topic=pb.Resource(name=TOPIC), message_id="TX-COMMIT", transaction_id=sent["TX-COMMIT"],
        resolution=pb.COMMIT), metadata=CLIENT)
    assert again.status.code == pb.INVALID_TRANSACTION_ID
    unknown = env.stub.EndTransaction(pb.EndTransactionRequest(
        topic=pb.Resource(name=TOPIC), message_id="X", transaction_id="no-such-transaction", resolution=pb.COMMIT),
        metadata=CLIENT)
    assert unknown.status.code == pb.INVALID_TRANSACTION_ID


def test_not_yet_served_rpcs_answer_not_implemented(env: Env) -> None:
    pull = next(env.stub.PullMessage(pb.PullMessageRequest(), metadata=CLIENT))
    assert pull.status.code == pb.NOT_IMPLEMENTED


def test_query_assignment_gives_one_pop_queue_per_master(env: Env) -> None:
    request = pb.QueryAssignmentRequest(topic=pb.Resource(name=TOPIC), group=pb.Resource(name="GID_PUSH"),
                                        endpoints=route_request(TOPIC).endpoints)
    response = env.stub.QueryAssignment(request, metadata=CLIENT)
    assert response.status.code == pb.OK
    [assignment] = response.assignments
    queue = assignment.message_queue
    assert (queue.id, queue.broker.name, queue.permission) == (-1, "broker-a", pb.READ_WRITE)
    assert [(a.host, a.port) for a in queue.broker.endpoints.addresses] == [("127.0.0.1", 1234)]
    bad = env.stub.QueryAssignment(pb.QueryAssignmentRequest(topic=pb.Resource(name="NoSuchTopicHere"),
                                                             group=pb.Resource(name="GID_PUSH")), metadata=CLIENT)
    assert bad.status.code == pb.TOPIC_NOT_FOUND


RECEIVE_TOPIC = "ProxyReceiveTopic"


def receive(env: Env, group: str, invisible_s: int = 30, batch: int = 16, topic: str = RECEIVE_TOPIC,
            poll_s: int = 5) -> tuple[list[int], list[pb.Message]]:
    return grpc_calls.receive(env.stub, CLIENT, topic, group, batch=batch, invisible_s=invisible_s, poll_s=poll_s,
                              queue_id=0)


def test_receive_ack_and_change_invisible_duration_over_pop(env: Env) -> None:
    create_topic(env.broker.addr, RECEIVE_TOPIC, queues=2)
    wait_until(lambda: env.stub.QueryRoute(route_request(RECEIVE_TOPIC), metadata=CLIENT).status.code == pb.OK,
               20, 0.2, "the receive topic's route")
    for i in range(3):
        msg = grpc_message(f"r{i}".encode(), f"RECV{i:012d}", tag="TagR")
        msg.topic.name = RECEIVE_TOPIC
        assert env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT).status.code == pb.OK
    codes, got = receive(env, "GID_RECV")
    assert codes == [pb.OK]
    assert sorted(m.body for m in got) == [b"r0", b"r1", b"r2"]
    for m in got:
        assert m.topic.name == RECEIVE_TOPIC and m.system_properties.tag == "TagR"
        assert m.system_properties.body_digest.checksum == hashlib.md5(m.body).hexdigest().upper()
        assert m.system_properties.delivery_attempt == 1 and m.system_properties.receipt_handle
    ack = pb.AckMessageRequest(group=pb.Resource(name="GID_RECV"), topic=pb.Resource(name=RECEIVE_TOPIC), entries=[
        pb.AckMessageEntry(message_id=m.system_properties.message_id, receipt_handle=m.system_properties.receipt_handle)
        for m in got[:2]] + [pb.AckMessageEntry(message_id="X", receipt_handle="not a handle")])
    acked = env.stub.AckMessage(ack, metadata=CLIENT)
    assert acked.status.code == pb.MULTIPLE_RESULTS
    assert [e.status.code for e in acked.entries] == [pb.OK, pb.OK, pb.INVALID_RECEIPT_HANDLE]
    # the third: made visible again in 1 s, it comes back as a second delivery attempt
    change = pb.ChangeInvisibleDurationRequest(
        group=pb.Resource(name="GID_RECV"), topic=pb.Resource(name=RECEIVE_TOPIC),
        receipt_handle=got[2].system_properties.receipt_handle, message_id=got[2].system_properties.message_id)
    change.invisible_duration.FromSeconds(1)
    changed = env.stub.ChangeInvisibleDuration(change, metadata=CLIENT)
    assert changed.status.code == pb.OK and changed.receipt_handle != got[2].system_properties.receipt_handle
    codes, back = receive(env, "GID_RECV", poll_s=10)
    assert codes == [pb.OK]
    assert [(m.body, m.system_properties.message_id, m.system_properties.delivery_attempt) for m in back] == \
        [(got[2].body, got[2].system_properties.message_id, 2)]
    assert back[0].topic.name == RECEIVE_TOPIC


def test_receive_refuses_bad_requests_with_upstream_codes(env: Env) -> None:
    assert receive(env, "GID_RECV", invisible_s=1)[0] == [pb.ILLEGAL_INVISIBLE_TIME]
    assert receive(env, "bad group!")[0] == [pb.ILLEGAL_CONSUMER_GROUP]
    assert receive(env, "GID_RECV", topic="NoSuchTopicHere")[0] == [pb.TOPIC_NOT_FOUND]
    create_topic(env.broker.addr, "ProxyEmptyTopic", queues=1)
    wait_until(lambda: env.stub.QueryRoute(route_request("ProxyEmptyTopic"), metadata=CLIENT).status.code == pb.OK,
               20, 0.2, "the empty topic's route")
    started = time.monotonic()
    assert receive(env, "GID_EMPTY", topic="ProxyEmptyTopic", poll_s=5) == ([pb.MESSAGE_NOT_FOUND], [])
    assert time.monotonic() - started >= 4.5  # it long-polled for the client's timeout


def test_telemetry_streams_that_end_or_break_mid_way_leave_the_proxy_serving(env: Env) -> None:
    metadata = (("x-mq-client-id", "telemetry-breaker"),)
    # a client that half-closes at once: the stream ends cleanly, with nothing to answer
    assert list(env.stub.Telemetry(iter([]), metadata=metadata)) == []
    # a command that is not settings: no answer; settings without publishing or subscription: BAD_REQUEST
    answers = list(env.stub.Telemetry(iter([pb.TelemetryCommand(verify_message_result=pb.VerifyMessageResult()),
                                            pb.TelemetryCommand(settings=pb.Settings())]), metadata=metadata))
    assert [a.status.code for a in answers] == [pb.BAD_REQUEST]
    # a stream cancelled by the client while the server waits for more
    closed = threading.Event()

    def open_ended():
        yield pb.TelemetryCommand(settings=pb.Settings(client_type=pb.PRODUCER, publishing=pb.Publishing()))
        closed.wait(30)

    call = env.stub.Telemetry(open_ended(), metadata=metadata)
    assert next(call).status.code == pb.OK
    call.cancel()
    closed.set()
    assert env.stub.QueryRoute(route_request(TOPIC), metadata=CLIENT).status.code == pb.OK
    assert env.proxy.proc.poll() is None


def test_a_delivery_time_beyond_the_brokers_timer_max_delay_is_refused_by_the_broker(tmp_path) -> None:
    """The proxy's maxDelayTimeMills (one day) usually answers first; set above the broker's
    timerMaxDelaySec, the broker's refusal reaches the client as upstream's proxy passes it on:
    INTERNAL_SERVER_ERROR with the broker's remark. Nothing is stored."""
    with start_namesrv(tmp_path / "ns") as ns, \
            start_broker(tmp_path / "broker", ns.addr, extra={"timerMaxDelaySec": 60}) as broker, \
            start_proxy(tmp_path / "proxy", ns.addr, extra={"maxDelayTimeMills": 86_400_000}) as proxy:
        create_topic(broker.addr, TOPIC, queues=4)
        env = Env(ns, broker, proxy)
        try:
            wait_until(lambda: env.stub.QueryRoute(route_request(TOPIC), metadata=CLIENT).status.code == pb.OK,
                       20, 0.2, "the topic's route through the proxy")
            msg = grpc_message(b"too far", "FAR0000000000001")
            msg.system_properties.message_type = pb.DELAY
            msg.system_properties.delivery_timestamp.FromMilliseconds(int(time.time() * 1000) + 120_000)
            response = env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT)
            assert response.status.code == pb.INTERNAL_SERVER_ERROR
            assert response.status.message.startswith(
                "timer message illegal, the delay time should not be bigger than the max delay 60000ms")
            assert read_back(env) == {}
        finally:
            env.channel.close()


def test_a_delivery_time_in_the_past_is_stored_at_once(env: Env) -> None:
    msg = grpc_message(b"already due", "PAST000000000001")
    msg.system_properties.message_type = pb.DELAY
    msg.system_properties.delivery_timestamp.FromMilliseconds(int(time.time() * 1000) - 60_000)
    assert env.stub.SendMessage(pb.SendMessageRequest(messages=[msg]), metadata=CLIENT).status.code == pb.OK
    stored = read_back(env)["PAST000000000001"]  # no waiting: it is in its topic already
    assert "TIMER_OUT_MS" not in stored.properties
