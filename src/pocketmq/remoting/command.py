"""RemotingCommand: the one message type of the RocketMQ remoting protocol (requests and responses).

Pure data plus the small rules that belong to it: flag bits, how a response mirrors its request
(opaque, serialize type), and what a body may be. No bytes are produced here; see ``codec``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

from pocketmq import ROCKETMQ_VERSION
from pocketmq.remoting.codes import FLAG_ONEWAY, FLAG_RESPONSE, ResponseCode, SerializeType

Buffer = Union[bytes, bytearray, memoryview]
# A body to send may be one buffer or several (e.g. slices of mapped files, written without a copy).
Body = Union[Buffer, Sequence[Buffer], None]


@dataclass(slots=True)
class RemotingCommand:
    code: int
    language: str = "JAVA"
    version: int = ROCKETMQ_VERSION
    opaque: int = 0
    flag: int = 0
    remark: str | None = None
    ext_fields: dict[str, str] | None = None
    body: Body = None
    serialize_type: SerializeType = SerializeType.JSON
    # Set on a received request only while a Dispatcher has an observer (metrics): when it
    # arrived (the dispatcher's clock) and whether a handler held it (pull long polling).
    received_at: float = 0.0
    suspended: bool = False

    @property
    def is_response(self) -> bool:
        return bool(self.flag & FLAG_RESPONSE)

    @property
    def is_oneway(self) -> bool:
        return bool(self.flag & FLAG_ONEWAY)

    def body_bytes(self) -> bytes:
        """The body as one bytes object (joins a multi-part body)."""
        body = self.body
        if body is None:
            return b""
        if isinstance(body, bytes):
            return body
        if isinstance(body, (bytearray, memoryview)):
            return bytes(body)
        return b"".join(bytes(part) for part in body)

    def field(self, name: str) -> str | None:
        fields = self.ext_fields
        return None if fields is None else fields.get(name)


def make_request(code: int, ext_fields: dict[str, str] | None = None, body: Body = None,
                 *, language: str = "PYTHON", oneway: bool = False) -> RemotingCommand:
    return RemotingCommand(code=code, language=language, ext_fields=ext_fields, body=body,
                           flag=FLAG_ONEWAY if oneway else 0)


def make_response(request: RemotingCommand, code: int = ResponseCode.SUCCESS, remark: str | None = None,
                  ext_fields: dict[str, str] | None = None, body: Body = None) -> RemotingCommand:
    """A response to ``request``: same opaque and serialize type, response flag set."""
    return RemotingCommand(code=code, opaque=request.opaque, flag=FLAG_RESPONSE, remark=remark,
                           ext_fields=ext_fields, body=body, serialize_type=request.serialize_type)


def make_error(request: RemotingCommand, code: int, remark: str) -> RemotingCommand:
    """A generic error built outside a processor: always JSON, as upstream (section 1.5)."""
    return RemotingCommand(code=code, opaque=request.opaque, flag=FLAG_RESPONSE, remark=remark)
