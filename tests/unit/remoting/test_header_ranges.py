"""Header integers have Java's widths: an ``Int32`` field (upstream ``Integer``) refuses what a Java
int cannot hold, every other integer field what a Java long cannot, with upstream's "has a bad
value" remark, before a value that cannot be packed reaches the store."""

from __future__ import annotations

import pytest

from pocketmq.protocol.client_headers import PullMessageRequestHeader, SendMessageRequestHeader
from pocketmq.remoting.header import HeaderError, decode_header

SEND = {"producerGroup": "g", "topic": "T", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
        "queueId": "0", "sysFlag": "0", "bornTimestamp": "1", "flag": "0"}


@pytest.mark.parametrize("field, value, ok", [
    ("flag", str(2**31 - 1), True), ("flag", str(-2**31), True),
    ("flag", str(2**31), False), ("queueId", str(-2**31 - 1), False),
    ("sysFlag", str(2**40), False), ("reconsumeTimes", str(2**32), False),
    ("bornTimestamp", str(2**63 - 1), True), ("bornTimestamp", str(2**31 * 1000), True),
    ("bornTimestamp", str(2**63), False), ("bornTimestamp", str(-2**63 - 1), False),
])
def test_send_header_integer_widths(field: str, value: str, ok: bool) -> None:
    fields = dict(SEND, **{field: value})
    if ok:
        assert getattr(decode_header(SendMessageRequestHeader, fields), field) == int(value)
    else:
        with pytest.raises(HeaderError, match=f"the custom field <{field}> has a bad value"):
            decode_header(SendMessageRequestHeader, fields)


def test_pull_header_queue_offset_is_a_long_and_max_msg_nums_an_int() -> None:
    fields = {"consumerGroup": "g", "topic": "T", "queueId": "0", "queueOffset": str(2**40), "maxMsgNums": "32",
              "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0", "subVersion": "0"}
    assert decode_header(PullMessageRequestHeader, fields).queueOffset == 2**40
    with pytest.raises(HeaderError, match="maxMsgNums"):
        decode_header(PullMessageRequestHeader, dict(fields, maxMsgNums=str(2**31)))
