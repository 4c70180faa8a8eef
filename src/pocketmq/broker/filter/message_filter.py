"""The store-side filter of a SQL92 subscription (upstream ExpressionMessageFilter): every
consume-queue unit passes (no bloom-filter bitmap), and each commit-log entry is matched by
evaluating the expression on its properties, decoded straight from the raw stored entry."""

from __future__ import annotations

from pocketmq.broker.filter.expression import Node
from pocketmq.protocol import message as m

_BODY_LENGTH = m.INT
_PROPERTIES_LENGTH = m.SHORT


def decode_properties(raw: memoryview | bytes) -> dict[str, str]:
    """The properties of one stored entry (layout 4.1) without decoding anything else."""
    sys_flag = m.INT.unpack_from(raw, m.SYSFLAG_POS)[0]
    header = m.header_struct(sys_flag).size
    body_length = _BODY_LENGTH.unpack_from(raw, header - 4)[0]
    _, pos = m.topic_span(raw, header + body_length, m.INT.unpack_from(raw, 4)[0])
    properties_length = _PROPERTIES_LENGTH.unpack_from(raw, pos)[0]
    pos += 2
    if properties_length <= 0:
        return {}
    text = bytes(raw[pos:pos + properties_length]).decode("utf-8", "replace")
    return m.string_to_properties(text)


class SqlMessageFilter:
    def __init__(self, expression: Node) -> None:
        self.expression = expression

    def is_matched_by_consume_queue(self, tags_code: int) -> bool:
        return True

    def is_matched_by_commit_log(self, raw: memoryview) -> bool:
        try:
            properties = decode_properties(raw)
        except (IndexError, ValueError):
            return False
        return self.expression.matches(properties)
