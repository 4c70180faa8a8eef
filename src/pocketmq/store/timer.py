"""Timer messages on the way into the store (upstream HookUtils.transformTimerMessage, RIP-43).

Owns: the timer property names, the timer system topic, and turning a message that asks for an
arbitrary delivery time (``TIMER_DELIVER_MS``, ``TIMER_DELAY_SEC`` or ``TIMER_DELAY_MS``) into a
message of ``rmq_sys_wheel_timer`` queue 0 with ``TIMER_OUT_MS`` (its slot: the time rounded
down to ``timerPrecisionMs``, an exact multiple one precision earlier, as upstream) and its real
topic and queue in ``REAL_TOPIC``/``REAL_QID``. The broker's timer service (broker/timer.py)
delivers it from there.

Rules, as upstream: a DELAY level wins (the timer properties are dropped and the 18 levels
apply); a message already in the timer topic or carrying ``TIMER_OUT_MS`` (a delivered timer) is
never timed again; a time that is not a number or lies more than ``timerMaxDelaySec`` ahead is
refused (WHEEL_TIMER_MSG_ILLEGAL); a time not in the future is stored at once in its topic.

A transactional message is timed when it is committed: its half (in RMQ_SYS_TRANS_HALF_TOPIC) is
checked (a refused time fails the prepare) but stored as it is. Upstream's put hook would park the half itself in the timer topic (with the half
topic as its REAL_TOPIC), so that a commit before its time finds no half; PocketMQ does not copy
that.
"""

from __future__ import annotations

import re

from pocketmq.protocol import message as m

TIMER_TOPIC = "rmq_sys_wheel_timer"
TRANS_HALF_TOPIC = "RMQ_SYS_TRANS_HALF_TOPIC"
PROPERTY_TIMER_DELIVER_MS = m.PROPERTY_TIMER_DELIVER_MS
PROPERTY_TIMER_DELAY_SEC = m.PROPERTY_TIMER_DELAY_SEC
PROPERTY_TIMER_DELAY_MS = m.PROPERTY_TIMER_DELAY_MS
PROPERTY_TIMER_OUT_MS = "TIMER_OUT_MS"
PROPERTY_TIMER_ENQUEUE_MS = "TIMER_ENQUEUE_MS"
PROPERTY_TIMER_DEQUEUE_MS = "TIMER_DEQUEUE_MS"
TIMER_REQUEST_PROPERTIES = (PROPERTY_TIMER_DELIVER_MS, PROPERTY_TIMER_DELAY_SEC, PROPERTY_TIMER_DELAY_MS)

_JAVA_LONG = re.compile(r"[+-]?[0-9]+")
_LONG_MAX = 2**63 - 1


class TimerMessageIllegal(ValueError):
    """The timer properties cannot be honoured (upstream WHEEL_TIMER_MSG_ILLEGAL)."""


def parse_java_long(text: str) -> int:
    """Java's Long.parseLong: an optional sign and ASCII digits, within 64 bits."""
    if not _JAVA_LONG.fullmatch(text):
        raise TimerMessageIllegal(f"not a number: {text!r}")
    value = int(text)
    if not -_LONG_MAX - 1 <= value <= _LONG_MAX:
        raise TimerMessageIllegal(f"out of the range of a long: {text!r}")
    return value


def wants_timer(properties: dict[str, str]) -> bool:
    return any(name in properties for name in TIMER_REQUEST_PROPERTIES)


def requested_deliver_ms(properties: dict[str, str], now_ms: int) -> int:
    """The delivery time asked for: TIMER_DELAY_SEC, else TIMER_DELAY_MS, else TIMER_DELIVER_MS."""
    if PROPERTY_TIMER_DELAY_SEC in properties:
        return now_ms + parse_java_long(properties[PROPERTY_TIMER_DELAY_SEC]) * 1000
    if PROPERTY_TIMER_DELAY_MS in properties:
        return now_ms + parse_java_long(properties[PROPERTY_TIMER_DELAY_MS])
    return parse_java_long(properties[PROPERTY_TIMER_DELIVER_MS])


def timer_slot(deliver_ms: int, precision_ms: int) -> int:
    """Upstream's rounding: down to the precision; an exact multiple one precision earlier. The
    slot is delivered once the wall clock has passed a whole precision beyond it, so a message is
    delivered in [deliver_ms, deliver_ms + precision)."""
    if deliver_ms % precision_ms == 0:
        return deliver_ms - precision_ms
    return deliver_ms // precision_ms * precision_ms


def apply_timer(msg: m.MessageExtBrokerInner, now_ms: int, precision_ms: int, max_delay_sec: int) -> bool:
    """Rewrite ``msg`` in place into the timer topic when it asks for a future time. Returns
    whether anything changed; raises TimerMessageIllegal for a time it must refuse."""
    properties = msg.get_properties()
    if msg.topic == TIMER_TOPIC or PROPERTY_TIMER_OUT_MS in properties or not wants_timer(properties):
        return False
    level = properties.get(m.PROPERTY_DELAY_TIME_LEVEL)
    if level is not None and level.strip().isdigit() and int(level) > 0:
        for name in TIMER_REQUEST_PROPERTIES:
            properties.pop(name, None)
        msg.properties_string = None
        return True
    deliver_ms = requested_deliver_ms(properties, now_ms)
    if deliver_ms <= now_ms:
        return False
    if deliver_ms - now_ms > max_delay_sec * 1000:
        raise TimerMessageIllegal(f"delay {deliver_ms - now_ms} ms beyond timerMaxDelaySec {max_delay_sec}")
    if msg.topic == TRANS_HALF_TOPIC:
        return False  # checked now, timed when committed
    properties[PROPERTY_TIMER_OUT_MS] = str(timer_slot(deliver_ms, precision_ms))
    properties[m.PROPERTY_REAL_TOPIC] = msg.topic
    properties[m.PROPERTY_REAL_QUEUE_ID] = str(msg.queue_id)
    msg.properties_string = None
    msg.topic = TIMER_TOPIC
    msg.queue_id = 0
    return True
