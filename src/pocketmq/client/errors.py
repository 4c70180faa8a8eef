"""Client exceptions: a broker or name server answered with an error code, or the client
itself could not do what was asked (no route, bad argument, not started)."""

from __future__ import annotations


class MQClientError(Exception):
    """Client-side failure (upstream MQClientException)."""

    def __init__(self, message: str, code: int = -1) -> None:
        super().__init__(message)
        self.code = code


class MQBrokerError(Exception):
    """A server answered with a non-success response code (upstream MQBrokerException)."""

    def __init__(self, code: int, remark: str | None, addr: str | None = None) -> None:
        super().__init__(f"CODE: {code}  DESC: {remark}" + (f"  BROKER: {addr}" if addr else ""))
        self.code = code
        self.remark = remark
        self.addr = addr
