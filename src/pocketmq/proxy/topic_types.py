"""RocketMQ 5 topic message types at the gRPC endpoint (upstream MetadataService.getTopicMessageType,
TopicMessageType.parseFromMessageProperty, DefaultTopicMessageTypeValidator, RouteActivity's
accept_message_types): a topic's ``message.type`` attribute, read from a broker with
GET_TOPIC_CONFIG and kept for a few seconds; the type of an outgoing message from its
properties; the check that they agree (else MESSAGE_PROPERTY_CONFLICT_WITH_TYPE with upstream's
text), and the types a route advertises. All of it only with ``enableTopicMessageTypeCheck``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from pocketmq.clock import Clock
from pocketmq.protocol import fastjson
from pocketmq.protocol import message as pm
from pocketmq.proxy.convert import PROPERTY_SHARDING_KEY
from pocketmq.proxy.status import ProxyError
from pocketmq.proxy.stubs import pb
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand

log = logging.getLogger("pocketmq.proxy")

CACHE_SECONDS = 3.0
UNSPECIFIED, NORMAL, MIXED = "UNSPECIFIED", "NORMAL", "MIXED"
_ACCEPTED = {"NORMAL": [pb.NORMAL], "FIFO": [pb.FIFO], "DELAY": [pb.DELAY], "TRANSACTION": [pb.TRANSACTION],
             "MIXED": [pb.NORMAL, pb.FIFO, pb.DELAY, pb.TRANSACTION]}
ALL_TYPES = _ACCEPTED["MIXED"]


class TopicConfigBackend(Protocol):
    async def broker_call(self, topic: str, broker_name: str, code: int, header: object,
                          timeout: float | None = None) -> RemotingCommand: ...


@dataclass(slots=True)
class GetTopicConfigRequestHeader:
    """upstream GetTopicConfigRequestHeader (``lo``: logic-queue mapping, never asked here)."""

    topic: str


def message_type_of(properties: dict[str, str]) -> str:
    """upstream TopicMessageType.parseFromMessageProperty."""
    if properties.get(pm.PROPERTY_TRANSACTION_PREPARED) == "true":
        return "TRANSACTION"
    if any(k in properties for k in (pm.PROPERTY_DELAY_TIME_LEVEL, pm.PROPERTY_TIMER_DELIVER_MS,
                                     pm.PROPERTY_TIMER_DELAY_SEC, pm.PROPERTY_TIMER_DELAY_MS)):
        return "DELAY"
    if PROPERTY_SHARDING_KEY in properties:
        return "FIFO"
    return NORMAL


def validate(expected: str, actual: str) -> None:
    if actual == UNSPECIFIED or (actual != expected and expected != MIXED):
        # upstream's text as its clients see it: the ProxyException comes through a future
        raise ProxyError(pb.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                         f"org.apache.rocketmq.proxy.common.ProxyException: TopicMessageType validate failed, "
                         f"the expected type is {expected}, but actual type is {actual}")


def accepted(topic_type: str) -> list[int]:
    return _ACCEPTED.get(topic_type, [pb.MESSAGE_TYPE_UNSPECIFIED])


class TopicMessageTypes:
    def __init__(self, backend: TopicConfigBackend, clock: Clock) -> None:
        self.backend = backend
        self.clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    async def of(self, topic: str) -> str:
        """The topic's message.type (NORMAL when it has none, UNSPECIFIED when no broker has it)."""
        cached = self._cache.get(topic)
        now = self.clock.monotonic()
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            response = await self.backend.broker_call(topic, "", RequestCode.GET_TOPIC_CONFIG,
                                                      GetTopicConfigRequestHeader(topic))
        except Exception as exc:  # noqa: BLE001 - upstream: UNSPECIFIED when the lookup fails
            log.debug("cannot read the config of topic %s: %s", topic, exc)
            return UNSPECIFIED
        found = UNSPECIFIED
        if response.code == ResponseCode.SUCCESS and response.body:
            attributes = fastjson.loads(response.body_bytes()).get("attributes") or {}
            found = str(attributes.get("message.type") or NORMAL)
        self._cache[topic] = (now, found)
        return found
