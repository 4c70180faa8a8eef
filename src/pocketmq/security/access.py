"""What a request needs (upstream PlainAccessValidator.parse): the resources it touches and the
permission it needs on each, derived from its request code, ext fields and body.

Retry topics stand for groups (``%RETRY%<group>`` needs SUB); codes not listed need nothing
beyond a valid signature (and the admin flag for the admin codes, see ``permission``). The
resources come back in the order Java's HashMap iterates them, so the first one refused is the
one upstream names in its remark.
"""

from __future__ import annotations

from pocketmq.protocol.client_bodies import HeartbeatData
from pocketmq.protocol.message import java_string_hash
from pocketmq.remoting.codes import RequestCode
from pocketmq.remoting.command import RemotingCommand
from pocketmq.security.permission import PUB, SUB

RETRY_PREFIX = "%RETRY%"

# RocketMQ 5's POP consumption over remoting: like a pull, it needs SUB on the topic and the group.
# (BATCH_ACK_MESSAGE names its topics and groups in its body: a valid signature is what it needs.)
POP_CODES = frozenset({RequestCode.POP_MESSAGE, RequestCode.PEEK_MESSAGE, RequestCode.NOTIFICATION,
                       RequestCode.ACK_MESSAGE, RequestCode.CHANGE_MESSAGE_INVISIBLETIME})


class ParseError(Exception):
    """The request cannot be read for its resources (upstream wraps this in an AclException)."""


def is_retry_topic(topic: str | None) -> bool:
    return topic is not None and topic.startswith(RETRY_PREFIX)


def retry_topic(group: str | None) -> str | None:
    return None if group is None else RETRY_PREFIX + group


def describe(resource: str) -> str:
    """``topic:T`` or ``group:G`` (upstream PlainAccessResource.printStr)."""
    if is_retry_topic(resource):
        return f"group:{resource[len(RETRY_PREFIX):]}"
    return f"topic:{resource}"


def needed_resources(request: RemotingCommand) -> dict[str, int]:
    """Resource -> needed permission, in Java HashMap iteration order; empty when the code
    touches no topic or group. A header field that is missing adds nothing (Apache 4.9.7 lets
    an UNREGISTER_CLIENT without clientID through, its header parse does not refuse it)."""
    fields = request.ext_fields or {}
    wanted: dict[str, int] = {}

    def add(resource: str | None, perm: int) -> None:
        if resource is not None:
            wanted[resource] = perm

    code = request.code
    if code == RequestCode.SEND_MESSAGE:
        _add_send(add, fields.get("topic"), fields.get("group"))
    elif code == RequestCode.SEND_MESSAGE_V2:
        _add_send(add, fields.get("b"), fields.get("a"))
    elif code == RequestCode.CONSUMER_SEND_MSG_BACK:
        add(retry_topic(fields.get("group")), SUB)
    elif code == RequestCode.PULL_MESSAGE:
        add(fields.get("topic"), SUB)
        add(retry_topic(fields.get("consumerGroup")), SUB)
    elif code == RequestCode.QUERY_MESSAGE:
        add(fields.get("topic"), SUB)
    elif code in POP_CODES:
        topic = fields.get("topic")
        if not is_retry_topic(topic):  # a POP retry topic (%RETRY%<group>_<topic>) is the group's
            add(topic, SUB)
        add(retry_topic(fields.get("consumerGroup")), SUB)
    elif code == RequestCode.HEART_BEAT:
        try:
            heartbeat = HeartbeatData.decode(request.body_bytes())
        except Exception as exc:  # a body that is not a heartbeat
            raise ParseError(str(exc)) from None
        for consumer in heartbeat.consumerDataSet:
            add(retry_topic(consumer.groupName), SUB)
            for subscription in consumer.subscriptionDataSet:
                add(subscription.topic, SUB)
    elif code in (RequestCode.UNREGISTER_CLIENT, RequestCode.GET_CONSUMER_LIST_BY_GROUP):
        add(retry_topic(fields.get("consumerGroup")), SUB)
    elif code == RequestCode.UPDATE_CONSUMER_OFFSET:
        add(retry_topic(fields.get("consumerGroup")), SUB)
        add(fields.get("topic"), SUB)
    if len(wanted) <= 1:  # most requests (every send) touch one resource: no order to decide
        return wanted
    return {key: wanted[key] for key in java_hashmap_order(list(wanted))}


def _add_send(add, topic: str | None, group: str | None) -> None:  # noqa: ANN001
    if is_retry_topic(topic):
        add(retry_topic(group), SUB)
    else:
        add(topic, PUB)


def java_hashmap_order(keys: list[str]) -> list[str]:
    """The order java.util.HashMap iterates String keys inserted in this order (bucket of the
    final table, insertion order within a bucket)."""
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2

    def bucket(key: str) -> int:
        h = java_string_hash(key) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)
