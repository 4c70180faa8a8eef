"""PocketMQ's own Python client as a separate process, so the calendar smoke can run it under
libfaketime beside the servers. Prints one JSON object a line.

    produce NAMESRV TOPIC PREFIX COUNT [DELAY_LEVEL]
        {"event":"send","key":..,"status":..,"msgId":..,"offsetMsgId":..,"now":ms}
    consume NAMESRV TOPIC GROUP TIMEOUT_S KEY...
        {"event":"msg","key":..,"msgId":..,"born":ms,"stored":ms,"now":ms} per new key,
        then {"event":"done"} when every KEY arrived, or {"event":"timeout","missing":[..]}
"""

from __future__ import annotations

import json
import sys
import threading
import time

from pocketmq.client import Message, Producer, PushConsumer
from pocketmq.client.message import message_id


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def produce(namesrv: str, topic: str, prefix: str, count: int, delay_level: int = 0) -> None:
    with Producer(f"calendar_producer_{prefix}", namesrv) as producer:
        for i in range(count):
            key = f"{prefix}-{i}"
            result = producer.send(Message(topic, f"body of {key}".encode(), keys=key, delay_level=delay_level))
            emit(event="send", key=key, status=result.status.name, msgId=result.msg_id,
                 offsetMsgId=result.offset_msg_id, now=now_ms())


def consume(namesrv: str, topic: str, group: str, timeout_s: float, keys: list[str]) -> None:
    missing = set(keys)
    lock = threading.Lock()
    all_in = threading.Event()

    def on_messages(msgs, context) -> None:  # noqa: ANN001
        with lock:
            for msg in msgs:
                if msg.keys in missing:
                    missing.discard(msg.keys)
                    emit(event="msg", key=msg.keys, msgId=message_id(msg), born=msg.born_timestamp,
                         stored=msg.store_timestamp, now=now_ms())
            if not missing:
                all_in.set()

    consumer = PushConsumer(group, namesrv, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
    consumer.subscribe(topic, "*")
    consumer.register_listener(on_messages)
    with consumer:
        if all_in.wait(timeout_s):
            emit(event="done")
        else:
            with lock:
                emit(event="timeout", missing=sorted(missing))


def main(argv: list[str]) -> int:
    if argv[:1] == ["produce"] and len(argv) in (5, 6):
        produce(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]) if len(argv) == 6 else 0)
        return 0
    if argv[:1] == ["consume"] and len(argv) >= 6:
        consume(argv[1], argv[2], argv[3], float(argv[4]), argv[5:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
