"""The private link between a broker's remoting workers and its store process, sans-IO.

With ``serverWorkerProcesses`` > 0 the broker's main port is served by worker processes
(broker.remoting_worker) that share its listening socket. Each client connection a worker
accepts gets one Unix-socket connection of its own to the store process. On it, the worker
forwards the client's frames unchanged, except ordinary sends: it decodes those, prepares the
stored properties and tags code, and sends a ``PUT`` frame; the store process places the message
and answers with where it landed, from which the worker builds the client's answer. Everything
the store process sends on the link (answers, its own requests such as a transaction check) goes
to the client unchanged.

This module owns the link's frames (``SerializeType.WORKER_LINK``, header: code, opaque, flag)
and their bodies. It imports nothing above the remoting room.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import orjson

from pocketmq.remoting.codec import encode_frame_bytes
from pocketmq.remoting.codes import FLAG_ONEWAY, FLAG_RESPONSE, SerializeType
from pocketmq.remoting.command import RemotingCommand

# Request codes on the link (negative: no RocketMQ request code is, and a link frame's codes are
# only decoded on the link itself).
HELLO = -1  # first frame of every link connection: token, role, the client's addresses
PUT = -2  # an ordinary send, prepared by the worker

# Answer codes of a PUT.
PUT_DONE = 0  # body: queue offset, queue id, traceOn, regionId, message id (the config may change)
FALLBACK = 1  # the store process wants the original request (a topic to create, a check to make)
ANSWER = 2  # body: the client's whole answer frame, as the store process wrote it (a refusal)

ROLE_CLIENT = "client"
ROLE_CONTROL = "control"  # a worker's own connection: its end is the worker's end

TOKEN_ENV = "POCKETMQ_WORKER_LINK_TOKEN"

_PUT = struct.Struct(">iiiqiqBHI")
_DONE = struct.Struct(">qiBB")  # queue offset, queue id, traceOn, regionId length


@dataclass(slots=True)
class Hello:
    token: str
    role: str
    remote_address: str = ""
    local_address: str = ""
    pid: int = 0


def hello_frame(hello: Hello) -> RemotingCommand:
    body = orjson.dumps({"token": hello.token, "role": hello.role, "remote": hello.remote_address,
                         "local": hello.local_address, "pid": hello.pid})
    return RemotingCommand(HELLO, "PYTHON", 0, 0, FLAG_ONEWAY, body=body, serialize_type=SerializeType.WORKER_LINK)


def read_hello(request: RemotingCommand) -> Hello:
    """Raises ValueError for a body that is not a hello."""
    try:
        data = orjson.loads(request.body_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"bad hello: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("bad hello: not an object")
    return Hello(str(data.get("token", "")), str(data.get("role", "")), str(data.get("remote", "")),
                 str(data.get("local", "")), int(data.get("pid") or 0))


@dataclass(slots=True)
class Put:
    """An ordinary message as the send processor would store it."""

    topic: str
    queue_id: int  # as the client asked: -1 lets the store process pick one
    sys_flag: int
    flag: int
    born_timestamp: int
    reconsume_times: int
    tags_code: int
    properties: str  # the stored property string
    body: bytes
    serialize_type: int  # the client's, for an answer the store process writes itself


def put_frame(opaque: int, put: Put) -> RemotingCommand:
    topic = put.topic.encode("utf-8")
    properties = put.properties.encode("utf-8")
    head = _PUT.pack(put.queue_id, put.sys_flag, put.flag, put.born_timestamp, put.reconsume_times,
                     put.tags_code, put.serialize_type, len(topic), len(properties))
    return RemotingCommand(PUT, "PYTHON", 0, opaque, 0, body=[head + topic + properties, put.body],
                           serialize_type=SerializeType.WORKER_LINK)


def read_put(body: bytes) -> Put:
    """Raises ValueError for a body that does not hold a whole PUT."""
    if len(body) < _PUT.size:
        raise ValueError("PUT body too short")
    (queue_id, sys_flag, flag, born, reconsume, tags_code, serialize_type, topic_length,
     properties_length) = _PUT.unpack_from(body)
    start = _PUT.size
    properties_start = start + topic_length
    body_start = properties_start + properties_length
    if body_start > len(body):
        raise ValueError("PUT body shorter than its lengths")
    return Put(body[start:properties_start].decode("utf-8"), queue_id, sys_flag, flag, born, reconsume, tags_code,
               body[properties_start:body_start].decode("utf-8"), body[body_start:], serialize_type)


def put_done(request: RemotingCommand, queue_offset: int, queue_id: int, msg_id: str, trace_on: bool,
             region_id: bytes) -> RemotingCommand:
    return RemotingCommand(PUT_DONE, "PYTHON", 0, request.opaque, FLAG_RESPONSE,
                           body=b"".join((_DONE.pack(queue_offset, queue_id, trace_on, len(region_id)), region_id,
                                          msg_id.encode("ascii"))),
                           serialize_type=SerializeType.WORKER_LINK)


def fallback(request: RemotingCommand) -> RemotingCommand:
    return RemotingCommand(FALLBACK, "PYTHON", 0, request.opaque, FLAG_RESPONSE,
                           serialize_type=SerializeType.WORKER_LINK)


def answer(request: RemotingCommand, response: RemotingCommand) -> RemotingCommand:
    """``response`` (in the client's encoding) wrapped for the link, so the worker knows the
    send it answers is done."""
    response.opaque = request.opaque
    response.flag |= FLAG_RESPONSE
    return RemotingCommand(ANSWER, "PYTHON", 0, request.opaque, FLAG_RESPONSE, body=encode_frame_bytes(response),
                           serialize_type=SerializeType.WORKER_LINK)


def read_put_done(body: bytes) -> tuple[int, int, str, bool, str]:
    """(queue offset, queue id, message id, traceOn, regionId) of a PUT_DONE answer."""
    queue_offset, queue_id, trace_on, region_length = _DONE.unpack_from(body)
    msg_id_start = _DONE.size + region_length
    return (queue_offset, queue_id, body[msg_id_start:].decode("ascii"), bool(trace_on),
            body[_DONE.size:msg_id_start].decode("utf-8"))
