"""A gRPC ``Message`` -> what a remoting SEND_MESSAGE_V2 carries (properties, sysFlag, body),
with upstream proxy's checks (SendMessageActivity): body size and digest, user properties,
tag, keys, message id (the UNIQ_KEY), message group, delivery time. Pure code, no I/O."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass

from pocketmq.protocol import message as pm
from pocketmq.proxy.config import ProxyConfig
from pocketmq.proxy.status import ProxyError
from pocketmq.proxy.stubs import pb

PROPERTY_SHARDING_KEY = "__SHARDINGKEY"
PROPERTY_TRACE_CONTEXT = "TRACE_CONTEXT"
PROPERTY_TIMER_DELIVER_MS = "TIMER_DELIVER_MS"
PROPERTY_BORN_HOST = "__BORNHOST"
PROPERTY_BORN_TIMESTAMP = "BORN_TIMESTAMP"
MAX_TRANSACTION_RECOVERY_SECONDS = 3600  # upstream maxTransactionRecoverySecond

# Property names the system owns (upstream MessageConst.STRING_HASH_SET): not for users.
SYSTEM_PROPERTY_KEYS = frozenset({
    pm.PROPERTY_TRACE_SWITCH, pm.PROPERTY_MSG_REGION, pm.PROPERTY_KEYS, pm.PROPERTY_TAGS,
    pm.PROPERTY_WAIT_STORE_MSG_OK, pm.PROPERTY_DELAY_TIME_LEVEL, pm.PROPERTY_RETRY_TOPIC,
    pm.PROPERTY_REAL_TOPIC, pm.PROPERTY_REAL_QUEUE_ID, pm.PROPERTY_TRANSACTION_PREPARED,
    pm.PROPERTY_PRODUCER_GROUP, pm.PROPERTY_MIN_OFFSET, pm.PROPERTY_MAX_OFFSET, pm.PROPERTY_BUYER_ID,
    pm.PROPERTY_ORIGIN_MESSAGE_ID, pm.PROPERTY_TRANSFER_FLAG, pm.PROPERTY_CORRECTION_FLAG,
    pm.PROPERTY_MQ2_FLAG, pm.PROPERTY_RECONSUME_TIME, pm.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    pm.PROPERTY_MAX_RECONSUME_TIMES, pm.PROPERTY_CONSUME_START_TIMESTAMP,
    pm.PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET, pm.PROPERTY_TRANSACTION_CHECK_TIMES,
    pm.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS, pm.PROPERTY_INSTANCE_ID, pm.PROPERTY_CORRELATION_ID,
    pm.PROPERTY_MESSAGE_REPLY_TO_CLIENT, pm.PROPERTY_MESSAGE_TTL, pm.PROPERTY_REPLY_MESSAGE_ARRIVE_TIME,
    pm.PROPERTY_PUSH_REPLY_TIME, pm.PROPERTY_CLUSTER, pm.PROPERTY_MESSAGE_TYPE,
    pm.PROPERTY_INNER_MULTI_QUEUE_OFFSET, pm.PROPERTY_INNER_MULTI_DISPATCH, PROPERTY_SHARDING_KEY,
    PROPERTY_TRACE_CONTEXT, PROPERTY_TIMER_DELIVER_MS, PROPERTY_BORN_HOST, PROPERTY_BORN_TIMESTAMP,
    "TIMER_DELAY_SEC", "TIMER_DELAY_MS", "TIMER_OUT_MS", "TIMER_ENQUEUE_MS", "TIMER_DEQUEUE_MS",
    "TIMER_ROLL_TIMES", "TIMER_DEL_UNIQKEY", "POP_CK", "POP_CK_OFFSET", "1ST_POP_TIME",
})


@dataclass
class OutgoingMessage:
    """What one gRPC message becomes on the remoting side."""

    topic: str
    body: bytes
    properties: dict[str, str]
    sys_flag: int
    born_timestamp_ms: int
    reconsume_times: int
    message_id: str
    message_group: str | None


def has_control_character(text: str) -> bool:
    """Java's Character.isISOControl: U+0000..U+001F and U+007F..U+009F."""
    return any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text)


def md5_hex(body: bytes) -> str:
    return hashlib.md5(body).hexdigest().upper()


def check_digest(body: bytes, digest: pb.Digest) -> None:
    """Refuse a body whose digest (upper-case hex, as clients send it) does not match."""
    if digest.type == pb.MD5:
        actual = md5_hex(body)
    elif digest.type == pb.SHA1:
        actual = hashlib.sha1(body).hexdigest().upper()
    elif digest.type == pb.CRC32:
        actual = format(zlib.crc32(body) & 0xFFFFFFFF, "X")
    else:
        return
    if digest.checksum.upper() != actual:
        raise ProxyError(pb.MESSAGE_CORRUPTED,
                         f"body digest mismatch: {pb.DigestType.Name(digest.type)} {digest.checksum} != {actual}")


def gunzip(body: bytes) -> bytes:
    """A GZIP-encoded body is stored plain: PocketMQ's (and 4.x) consumers inflate zlib only."""
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:
        raise ProxyError(pb.MESSAGE_CORRUPTED, f"body is not valid GZIP: {exc}") from None


def check_body(body: bytes, config: ProxyConfig) -> None:
    if config.enableMessageBodyEmptyCheck and not body:
        raise ProxyError(pb.MESSAGE_BODY_EMPTY, "message body cannot be empty")
    if 0 < config.maxMessageSize < len(body):
        raise ProxyError(pb.MESSAGE_BODY_TOO_LARGE, f"message body cannot exceed the max {config.maxMessageSize}")


def user_properties(message: pb.Message, config: ProxyConfig) -> tuple[dict[str, str], int]:
    props = dict(message.user_properties)
    if len(props) > config.userPropertyMaxNum:
        raise ProxyError(pb.MESSAGE_PROPERTIES_TOO_LARGE, f"too many user properties, max is {config.userPropertyMaxNum}")
    size = 0
    for key, value in props.items():
        if key in SYSTEM_PROPERTY_KEYS:
            raise ProxyError(pb.ILLEGAL_MESSAGE_PROPERTY_KEY, f"property is used by system: {key}")
        if has_control_character(key):
            raise ProxyError(pb.ILLEGAL_MESSAGE_PROPERTY_KEY, "the key of property cannot contain control character")
        if has_control_character(value):
            raise ProxyError(pb.ILLEGAL_MESSAGE_PROPERTY_KEY, "the value of property cannot contain control character")
        size += len(key.encode()) + len(value.encode())
    return props, size


def check_tag(tag: str) -> None:
    if tag:
        if not tag.strip():
            raise ProxyError(pb.ILLEGAL_MESSAGE_TAG, "tag cannot be the char sequence of whitespace")
        if "|" in tag:
            raise ProxyError(pb.ILLEGAL_MESSAGE_TAG, "tag cannot contain '|'")
        if has_control_character(tag):
            raise ProxyError(pb.ILLEGAL_MESSAGE_TAG, "tag cannot contain control character")


def check_key(key: str) -> None:
    if not key.strip():
        raise ProxyError(pb.ILLEGAL_MESSAGE_KEY, "key cannot be the char sequence of whitespace")
    if has_control_character(key):
        raise ProxyError(pb.ILLEGAL_MESSAGE_KEY, "key cannot contain control character")


def check_message_group(group: str) -> None:
    if not group.strip():
        raise ProxyError(pb.ILLEGAL_MESSAGE_GROUP, "message group cannot be the char sequence of whitespace")
    if len(group) > 64:
        raise ProxyError(pb.ILLEGAL_MESSAGE_GROUP, "message group exceed the max length 64")
    if has_control_character(group):
        raise ProxyError(pb.ILLEGAL_MESSAGE_GROUP, "message group cannot contain control character")


def delay_properties(system: pb.SystemProperties, config: ProxyConfig, now_ms: int) -> dict[str, str]:
    """``delivery_timestamp`` -> TIMER_DELIVER_MS (the broker's timer wheel delivers it at that
    time), or with ``useDelayLevel`` the nearest delay level at or after it instead, as upstream's
    fillDelayMessageProperty."""
    if not system.HasField("delivery_timestamp"):
        return {}
    try:
        deliver_ms = system.delivery_timestamp.ToMilliseconds()
    except ValueError as exc:  # e.g. milliseconds put into Timestamp.seconds
        raise ProxyError(pb.ILLEGAL_DELIVERY_TIME, f"delivery_timestamp is not a valid Timestamp: {exc}") from None
    if config.maxDelayTimeMills > 0 and deliver_ms - now_ms > config.maxDelayTimeMills:
        raise ProxyError(pb.ILLEGAL_DELIVERY_TIME,
                         f"the max delay time of message is too large, max is {config.maxDelayTimeMills}")
    if not config.useDelayLevel:
        return {PROPERTY_TIMER_DELIVER_MS: str(deliver_ms)}
    if deliver_ms <= now_ms:
        return {}
    return {pm.PROPERTY_DELAY_TIME_LEVEL: str(config.delay_level_for(deliver_ms - now_ms))}


def to_outgoing(message: pb.Message, config: ProxyConfig, now_ms: int, remote_host: str) -> OutgoingMessage:
    """Check one message as upstream's proxy does and build its remoting form."""
    system = message.system_properties
    body = bytes(message.body)
    check_body(body, config)
    if system.HasField("body_digest"):
        check_digest(body, system.body_digest)
    props, size = user_properties(message, config)
    if system.HasField("tag"):
        check_tag(system.tag)
        if system.tag:
            props[pm.PROPERTY_TAGS] = system.tag
        size += len(system.tag.encode())
    for key in system.keys:
        check_key(key)
        size += len(key.encode())
    if system.keys:
        props[pm.PROPERTY_KEYS] = pm.KEY_SEPARATOR.join(system.keys)
    if size > config.maxUserPropertySize:
        raise ProxyError(pb.MESSAGE_PROPERTIES_TOO_LARGE,
                         f"the total size of user property is too large, max is {config.maxUserPropertySize}")
    if not system.message_id.strip():
        raise ProxyError(pb.ILLEGAL_MESSAGE_ID, "message id cannot be empty")
    props[pm.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX] = system.message_id
    sys_flag = 0
    if system.message_type == pb.TRANSACTION:
        sys_flag = pm.TRANSACTION_PREPARED_TYPE
        props[pm.PROPERTY_TRANSACTION_PREPARED] = "true"
        if system.HasField("orphaned_transaction_recovery_duration"):
            seconds = system.orphaned_transaction_recovery_duration.seconds
            if not 0 <= seconds <= MAX_TRANSACTION_RECOVERY_SECONDS:
                raise ProxyError(pb.BAD_REQUEST, "the max transaction recovery time of message is too large, "
                                                 f"max is {MAX_TRANSACTION_RECOVERY_SECONDS}")
            props[pm.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS] = str(seconds)
    props.update(delay_properties(system, config, now_ms))
    props[pm.PROPERTY_RECONSUME_TIME] = str(system.delivery_attempt)
    props[pm.PROPERTY_PRODUCER_GROUP] = message.topic.name
    group = system.message_group if system.HasField("message_group") else ""
    if group:
        check_message_group(group)
        props[PROPERTY_SHARDING_KEY] = group
    if system.HasField("trace_context") and system.trace_context:
        props[PROPERTY_TRACE_CONTEXT] = system.trace_context
    born_host = system.born_host or remote_host
    if born_host:
        props[PROPERTY_BORN_HOST] = born_host
    born_ms = now_ms
    if system.HasField("born_timestamp"):
        born_ms = system.born_timestamp.ToMilliseconds()
        props[PROPERTY_BORN_TIMESTAMP] = str(born_ms)
    if system.body_encoding == pb.GZIP:
        body = gunzip(body)
    return OutgoingMessage(topic=message.topic.name, body=body, properties=props, sys_flag=sys_flag,
                           born_timestamp_ms=born_ms, reconsume_times=system.delivery_attempt,
                           message_id=system.message_id, message_group=group or None)


def to_grpc_message(msg: pm.MessageExt, message_type: int = pb.NORMAL) -> pb.Message:
    """A stored message as a gRPC client sees it (upstream GrpcConverter.buildMessage): user
    properties apart from the system ones, the UNIQ_KEY as id, an upper-case MD5 of the body."""
    props = msg.properties
    system = pb.SystemProperties(
        message_id=props.get(pm.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or msg.msg_id,
        body_digest=pb.Digest(type=pb.MD5, checksum=md5_hex(msg.body)), body_encoding=pb.IDENTITY,
        message_type=message_type, born_host=f"{msg.born_host[0]}:{msg.born_host[1]}",
        store_host=f"{msg.store_host[0]}:{msg.store_host[1]}", queue_id=msg.queue_id,
        queue_offset=msg.queue_offset, delivery_attempt=msg.reconsume_times + 1)
    system.born_timestamp.FromMilliseconds(msg.born_timestamp)
    system.store_timestamp.FromMilliseconds(msg.store_timestamp)
    deliver_ms = props.get(PROPERTY_TIMER_DELIVER_MS, "")
    if message_type == pb.NORMAL and (pm.PROPERTY_DELAY_TIME_LEVEL in props or deliver_ms
                                      or "TIMER_DELAY_SEC" in props):
        system.message_type = pb.DELAY
    if deliver_ms.isascii() and deliver_ms.isdigit() and int(deliver_ms) < 2**63:
        system.delivery_timestamp.FromMilliseconds(int(deliver_ms))
    tag = props.get(pm.PROPERTY_TAGS)
    if tag:
        system.tag = tag
    keys = props.get(pm.PROPERTY_KEYS)
    if keys:
        system.keys.extend(k for k in keys.split(pm.KEY_SEPARATOR) if k)
    group = props.get(PROPERTY_SHARDING_KEY)
    if group:
        system.message_group = group
    trace = props.get(PROPERTY_TRACE_CONTEXT)
    if trace:
        system.trace_context = trace
    user = {k: v for k, v in props.items() if k not in SYSTEM_PROPERTY_KEYS}
    topic = msg.topic
    if topic.startswith("%RETRY%"):
        topic = props.get(pm.PROPERTY_RETRY_TOPIC) or topic
    else:
        topic = props.get(pm.PROPERTY_REAL_TOPIC) or topic
    return pb.Message(topic=pb.Resource(name=topic),
                      user_properties=user, system_properties=system, body=bytes(msg.body))
