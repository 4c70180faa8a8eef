"""Orderly (FIFO) POP across a broker restart, as upstream's persisted ConsumerOrderInfoManager
(config/consumerOrderInfo.json): a message in flight keeps its queue blocked after a restart
(SIGTERM, or kill -9 once the periodic write has it), so the next message of the queue is not
handed out before the in-flight one is acked (with the receipt from before the restart) or its
invisible time is over (then it comes again, counted once more), and order holds."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from pocketmq.client.admin import Admin
from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.protocol.fastjson import loads
from pocketmq.protocol.pop import order_count_of, parse_order_count_info
from pocketmq.remoting.codes import ResponseCode
from tests.integration.test_pop_requests import TOPIC, ack, bodies, pop
from tests.support.cluster import create_topic, send_raw
from tests.support.processes import start_broker, start_namesrv, wait_until

GROUP = "GOrderRestart"


def order_info_written(store: Path) -> dict | None:
    path = store / "config" / "consumerOrderInfo.json"
    try:
        table = loads(path.read_bytes()).get("table") or {}
    except (FileNotFoundError, ValueError, orjson.JSONDecodeError):
        return None
    return table.get(f"{TOPIC}@{GROUP}")


@pytest.mark.parametrize("stop,invisible_ms", [("terminate", 120_000), ("kill", 15_000)])
def test_a_message_in_flight_keeps_its_queue_blocked_across_a_restart(tmp_path: Path, stop: str,
                                                                        invisible_ms: int) -> None:
    with start_namesrv(tmp_path / "ns") as ns:
        home = tmp_path / "b"
        with start_broker(home, ns.addr) as broker:
            port = broker.port
            create_topic(broker.addr, TOPIC, queues=1)
            with Admin(ns.addr) as admin:
                admin.create_subscription_group(SubscriptionGroupConfig(GROUP, consumeMessageOrderly=True),
                                                broker_addr=broker.addr)
            for i in range(3):
                assert send_raw(broker.addr, TOPIC, f"o{i}".encode()).code == ResponseCode.SUCCESS
            first, [m0] = pop(broker.addr, GROUP, invisible_ms=invisible_ms, max_nums=1, order=True)
            assert bytes(m0.body) == b"o0"
            if stop == "terminate":
                assert broker.terminate() == 0  # shutdown writes the file
            else:
                entry = wait_until(lambda: order_info_written(home / "store"), 30, 0.5, "the periodic write")
                assert entry["0"]["o"] == [m0.queue_offset] and entry["0"]["cm"] == 0  # upstream's shape
                broker.kill()
        assert order_info_written(home / "store") is not None
        with start_broker(home, ns.addr, port=port) as broker:
            assert pop(broker.addr, GROUP, invisible_ms=60_000, order=True)[1] == []  # still blocked by o0
            if stop == "terminate":
                # acked with the receipt from before the restart: the queue moves on, in order
                assert ack(broker.addr, GROUP, first, m0).code == ResponseCode.SUCCESS
                _, rest = pop(broker.addr, GROUP, invisible_ms=60_000, order=True)
                assert bodies(rest) == [b"o1", b"o2"]
                return
            # not acked: after its invisible time o0 again (counted once more), never o1 first
            again, got = wait_until(lambda: (lambda r: r if r[1] else None)(
                pop(broker.addr, GROUP, invisible_ms=60_000, max_nums=1, order=True)), 60, 0.5, "o0 again")
            assert bodies(got) == [b"o0"]
            counts = parse_order_count_info(again.ext_fields["orderCountInfo"])
            assert order_count_of(counts, got[0].topic, got[0].queue_id, got[0].queue_offset) == 1
            assert ack(broker.addr, GROUP, again, got[0]).code == ResponseCode.SUCCESS
            _, rest = pop(broker.addr, GROUP, invisible_ms=60_000, order=True)
            assert bodies(rest) == [b"o1", b"o2"]
