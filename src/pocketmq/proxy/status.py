"""Upstream's gRPC status codes for what goes wrong, and the mapping from remoting response codes
and client errors to them (upstream proxy's ResponseBuilder)."""

from __future__ import annotations

import logging

from pocketmq.client.errors import MQBrokerError
from pocketmq.proxy.stubs import pb
from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.transport import RemotingError, RemotingTimeoutError

log = logging.getLogger("pocketmq.proxy")

Code = pb.Code

# Upstream's RESPONSE_CODE_MAPPING; anything else is INTERNAL_SERVER_ERROR.
_REMOTING_TO_CODE = {
    ResponseCode.SUCCESS: pb.OK,
    ResponseCode.SYSTEM_BUSY: pb.TOO_MANY_REQUESTS,
    ResponseCode.REQUEST_CODE_NOT_SUPPORTED: pb.NOT_IMPLEMENTED,
    ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST: pb.CONSUMER_GROUP_NOT_FOUND,
}
# Upstream checks for "topic does not exist" apart from the table (TopicRouteHelper); the same here.
_REMOTING_TO_CODE[ResponseCode.TOPIC_NOT_EXIST] = pb.TOPIC_NOT_FOUND


class ProxyError(Exception):
    """A request the endpoint refuses with an upstream status code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def status(code: int = pb.OK, message: str | None = None) -> pb.Status:
    return pb.Status(code=code, message=message if message is not None else pb.Code.Name(code))


def ok() -> pb.Status:
    return status(pb.OK)


def code_for_remoting(response_code: int) -> int:
    return _REMOTING_TO_CODE.get(response_code, pb.INTERNAL_SERVER_ERROR)


def status_for(exc: BaseException) -> pb.Status:
    """The status a failed request answers with (upstream ResponseBuilder.buildStatus(Throwable))."""
    if isinstance(exc, ProxyError):
        return status(exc.code, exc.message)
    if isinstance(exc, MQBrokerError):
        return status(code_for_remoting(exc.code), exc.remark or str(exc.code))
    if isinstance(exc, (TimeoutError, RemotingTimeoutError)):
        return status(pb.PROXY_TIMEOUT, str(exc) or "request to the broker timed out")
    if isinstance(exc, RemotingError):
        return status(pb.INTERNAL_SERVER_ERROR, str(exc))
    log.error("internal server error", exc_info=exc)
    return status(pb.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}")
