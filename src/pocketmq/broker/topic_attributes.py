"""Topic attributes (RocketMQ 5: upstream AttributeParser, AttributeUtil, TopicAttributes): the
``attributes`` field of UPDATE_AND_CREATE_TOPIC (``+key=value,+key2=value2,-key3``) applied to
a topic's stored attributes. A new topic takes ``+`` keys only; an existing one adds, updates
(``+``) or deletes (``-``) keys. Bad input raises ``AttributeProblem`` with upstream's message
(the broker answers SYSTEM_ERROR with it, as upstream's catch-all does).

Supported: ``message.type`` (NORMAL, FIFO, DELAY, TRANSACTION, MIXED, UNSPECIFIED; changeable;
NORMAL when absent) — what the gRPC endpoint checks a message's type against. Upstream's
``queue.type``, ``cleanup.policy`` and ``reserve.time`` have no store behind them here and are
refused as unsupported keys."""

from __future__ import annotations

from dataclasses import dataclass

MESSAGE_TYPE = "message.type"
MESSAGE_TYPES = frozenset({"UNSPECIFIED", "NORMAL", "FIFO", "DELAY", "TRANSACTION", "MIXED"})
DEFAULT_MESSAGE_TYPE = "NORMAL"


class AttributeProblem(ValueError):
    """Attributes the broker refuses; str() is upstream's remark."""


@dataclass(frozen=True)
class EnumAttribute:
    name: str
    changeable: bool
    universe: frozenset[str]

    def verify(self, value: str) -> None:
        if value not in self.universe:
            raise AttributeProblem(f"value is not in set: [{', '.join(sorted(self.universe))}]")


ALL = {MESSAGE_TYPE: EnumAttribute(MESSAGE_TYPE, True, MESSAGE_TYPES)}


def parse_to_map(text: str | None) -> dict[str, str]:
    """``+k=v,-k2`` -> {"+k": "v", "-k2": ""} (upstream AttributeParser.parseToMap)."""
    out: dict[str, str] = {}
    for kv in filter(None, (text or "").split(",")) if text else ():
        if "=" in kv:
            key, _, value = kv.partition("=")
            value = value.split("=")[0]
            if "+" not in key:
                raise AttributeProblem(f"add/alter attribute format is wrong: {key}")
        else:
            key, value = kv, ""
            if "-" not in key:
                raise AttributeProblem(f"delete attribute format is wrong: {key}")
        if key in out:
            raise AttributeProblem(f"key duplication: {key}")
        out[key] = value
    return out


def alter(create: bool, current: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """The topic's attributes after ``new`` (signed keys), as upstream alterCurrentAttributes."""
    result = dict(current)
    seen: set[str] = set()
    for key, value in new.items():
        real = key[1:]
        if not real or "+" in real or "-" in real:
            raise AttributeProblem("kv string format wrong.")
        if real in seen:
            raise AttributeProblem(f"alter duplication key. key: {real}")
        seen.add(real)
        attribute = ALL.get(real)
        if key.startswith("+"):
            if attribute is None:
                raise AttributeProblem(f"unsupported key: {real}")
            if not create and real in current and not attribute.changeable:
                raise AttributeProblem(f"attempt to update an unchangeable attribute. key: {real}")
            attribute.verify(value)
            result[real] = value
        elif create:
            raise AttributeProblem(f"only add attribute is supported while creating topic. key: {real}")
        elif key.startswith("-"):
            if real not in current:
                raise AttributeProblem(f"attempt to delete a nonexistent key: {real}")
            if attribute is None:
                raise AttributeProblem(f"unsupported key: {real}")
            if not attribute.changeable:
                raise AttributeProblem(f"attempt to update an unchangeable attribute. key: {real}")
            del result[real]
        else:
            raise AttributeProblem(f"wrong format key: {real}")
    return result


def message_type_of(attributes: dict[str, str] | None) -> str:
    """upstream TopicConfig.getTopicMessageType: NORMAL unless the attribute says otherwise."""
    return (attributes or {}).get(MESSAGE_TYPE) or DEFAULT_MESSAGE_TYPE
