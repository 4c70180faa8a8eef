"""Namespaces of RocketMQ 5 clients (``x-mq-namespace``, ``Resource.resource_namespace``), as
upstream 5.1's proxy applies them (GrpcConverter.wrapResourceWithNamespace / NamespaceUtil):
towards the brokers a resource ``T`` of namespace ``ns`` is the topic or group ``ns%T``
(``%RETRY%ns%G`` and ``%DLQ%ns%G`` for retry and dead letter topics); towards the client the
name goes back without its namespace, which moves to ``resource_namespace``.

``wrap_resources`` / ``unwrap_resources`` rewrite every ``Resource`` inside a protobuf message in
place (requests and responses of every RPC alike)."""

from __future__ import annotations

from google.protobuf.message import Message

SEPARATOR = "%"
RETRY_PREFIX = "%RETRY%"
DLQ_PREFIX = "%DLQ%"
_SYSTEM = frozenset({"TBW102", "SCHEDULE_TOPIC_XXXX", "BenchmarkTest", "OFFSET_MOVED_EVENT",
                     "SELF_TEST_TOPIC", "RMQ_SYS_TRACE_TOPIC", "RMQ_SYS_TRANS_HALF_TOPIC",
                     "RMQ_SYS_TRANS_OP_HALF_TOPIC", "TRANS_CHECK_MAX_TIME_TOPIC"})
RESOURCE = "apache.rocketmq.v2.Resource"


def _split_prefix(name: str) -> tuple[str, str]:
    for prefix in (RETRY_PREFIX, DLQ_PREFIX):
        if name.startswith(prefix):
            return prefix, name[len(prefix):]
    return "", name


def wrap(namespace: str, name: str) -> str:
    """``ns%name`` (NamespaceUtil.wrapNamespace): unchanged without a namespace, for system
    topics and for a name that already carries the namespace."""
    if not namespace or not name or name in _SYSTEM:
        return name
    prefix, bare = _split_prefix(name)
    if bare.startswith(namespace + SEPARATOR):
        return name
    return f"{prefix}{namespace}{SEPARATOR}{bare}"


def unwrap(name: str) -> tuple[str, str]:
    """(namespace, name without it) of a broker-side name (NamespaceUtil.withoutNamespace)."""
    prefix, bare = _split_prefix(name)
    namespace, sep, rest = bare.partition(SEPARATOR)
    if not sep or not namespace:
        return "", name
    return namespace, prefix + rest


def _resources(message: Message):  # noqa: ANN202 - a generator of Resource messages
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        items = (value,) if isinstance(value, Message) else value  # a repeated field is a container
        if field.message_type.full_name == RESOURCE:
            yield from items
        elif not (field.message_type.GetOptions().map_entry):
            for item in items:
                yield from _resources(item)


def wrap_resources(message: Message, namespace: str) -> None:
    """Every Resource of a request: its own namespace (else ``namespace``) joined to its name."""
    for resource in _resources(message):
        resource.name = wrap(resource.resource_namespace or namespace, resource.name)
        resource.resource_namespace = ""


def unwrap_resources(message: Message) -> None:
    """Every Resource of a response: the namespace in a name moves to ``resource_namespace``."""
    for resource in _resources(message):
        namespace, name = unwrap(resource.name)
        if namespace:
            resource.name, resource.resource_namespace = name, namespace
