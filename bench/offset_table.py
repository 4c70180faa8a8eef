"""Encoding consumerOffset.json, which the broker does on its event loop every
flushConsumerOffsetInterval (5 s): milliseconds per encode for ``--groups`` x ``--topics`` x
``--queues`` committed offsets, as ``ConsumerOffsetManager.encode`` does it and through the
general ``fastjson.dumps`` (which first walks the table for inline object keys).

usage: .venv/bin/python bench/offset_table.py [--groups 100] [--topics 100] [--queues 8]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Callable

from pocketmq.broker.consumer_offset import ConsumerOffsetManager
from pocketmq.protocol import fastjson


def median_ms(action: Callable[[], object], rounds: int = 9) -> float:
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        action()
        times.append(time.perf_counter() - begin)
    return statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--topics", type=int, default=100)
    ap.add_argument("--queues", type=int, default=8)
    o = ap.parse_args()
    manager = ConsumerOffsetManager(tempfile.mkdtemp(prefix="offsets-"))
    for group in range(o.groups):
        for topic in range(o.topics):
            for queue_id in range(o.queues):
                manager.commit(f"group{group}", f"topic{topic}", queue_id, 1_000_000 + queue_id)
    count = o.groups * o.topics * o.queues
    print(f"{count} offsets: ConsumerOffsetManager.encode {median_ms(manager.encode):.1f} ms, "
          f"general fastjson.dumps {median_ms(lambda: fastjson.dumps({'offsetTable': manager.table})):.1f} ms")


if __name__ == "__main__":
    main()
