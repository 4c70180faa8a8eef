"""What users send and get back: ``Message``, ``SendResult``/``SendStatus``, and received
messages (``MessageExt`` from ``protocol.message``, re-exported).

A received ``MessageExt``'s ``msg_id`` is the offset message id (store host + commit-log
offset); ``uniq_key`` is the producer's id (what Java's ``getMsgId()`` returns).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pocketmq.protocol import message as pm
from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.message import MessageExt

__all__ = ["Message", "MessageExt", "MessageQueue", "SendResult", "SendStatus", "message_id"]


@dataclass
class Message:
    """A message to send. ``keys`` may be one string (space separated) or a list;
    ``properties`` are user properties; ``delay_level`` 1..18 (``1s 5s 10s 30s 1m ... 2h``)."""

    topic: str
    body: bytes | str = b""
    tags: str | None = None
    keys: str | list[str] | None = None
    properties: dict[str, str] = field(default_factory=dict)
    flag: int = 0
    delay_level: int = 0
    wait_store_msg_ok: bool = True
    transaction_id: str | None = None

    def body_bytes(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else bytes(self.body)

    def set_deliver_time_ms(self, epoch_ms: int) -> None:
        """Deliver at this wall-clock time (upstream 5.x ``setDeliverTimeMs``: TIMER_DELIVER_MS)."""
        self.properties[pm.PROPERTY_TIMER_DELIVER_MS] = str(int(epoch_ms))

    def set_delay_time_sec(self, seconds: int) -> None:
        """Deliver this many seconds after the broker stores it (``setDelayTimeSec``: TIMER_DELAY_SEC)."""
        self.properties[pm.PROPERTY_TIMER_DELAY_SEC] = str(int(seconds))

    def set_delay_time_ms(self, ms: int) -> None:
        """Deliver this many ms after the broker stores it (``setDelayTimeMs``: TIMER_DELAY_MS)."""
        self.properties[pm.PROPERTY_TIMER_DELAY_MS] = str(int(ms))

    def put_property(self, name: str, value: object) -> None:
        self.properties[name] = str(value)

    def get_property(self, name: str) -> str | None:
        return self.properties.get(name)

    @property
    def keys_text(self) -> str | None:
        if self.keys is None:
            return None
        return self.keys if isinstance(self.keys, str) else pm.KEY_SEPARATOR.join(self.keys)

    def wire_properties(self) -> dict[str, str]:
        """Every property as sent: TAGS, KEYS, WAIT, DELAY, then user properties (which may
        override nothing system-owned except by explicit choice)."""
        props: dict[str, str] = {}
        if self.tags:
            props[pm.PROPERTY_TAGS] = self.tags
        keys = self.keys_text
        if keys:
            props[pm.PROPERTY_KEYS] = keys
        props[pm.PROPERTY_WAIT_STORE_MSG_OK] = "true" if self.wait_store_msg_ok else "false"
        if self.delay_level > 0:
            props[pm.PROPERTY_DELAY_TIME_LEVEL] = str(self.delay_level)
        props.update(self.properties)
        return props


class SendStatus(enum.Enum):
    SEND_OK = "SEND_OK"
    FLUSH_DISK_TIMEOUT = "FLUSH_DISK_TIMEOUT"
    FLUSH_SLAVE_TIMEOUT = "FLUSH_SLAVE_TIMEOUT"
    SLAVE_NOT_AVAILABLE = "SLAVE_NOT_AVAILABLE"


@dataclass
class SendResult:
    status: SendStatus
    msg_id: str  # UNIQ_KEY (comma-joined for a batch)
    offset_msg_id: str | None
    message_queue: MessageQueue
    queue_offset: int
    transaction_id: str | None = None
    region_id: str | None = None
    trace_on: bool = True


def message_id(msg: MessageExt) -> str:
    """The id Java's ``MessageExt.getMsgId()`` shows for a consumed message: UNIQ_KEY when set."""
    return msg.uniq_key or msg.msg_id
