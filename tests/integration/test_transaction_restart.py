"""A transaction left UNKNOWN survives a broker restart: the restarted broker's check-back asks
the producer, and the committed message is delivered exactly once."""

from __future__ import annotations

import asyncio
import time

from pocketmq.client import AsyncPushConsumer, AsyncTransactionProducer, LocalTransactionState, Message, SendStatus
from pocketmq.client.admin import AsyncAdmin
from tests.support.processes import start_broker, start_namesrv

FAST_CHECKS = {"transactionCheckInterval": 1000, "transactionTimeOut": 1000}


async def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def test_unknown_transaction_is_checked_back_after_broker_restart(tmp_path):
    namesrv = start_namesrv(tmp_path / "ns")
    # The first broker never checks back (huge interval): the half must outlive it.
    broker = start_broker(tmp_path / "b", namesrv.addr, extra={"transactionCheckInterval": 3_600_000})
    checked: list[bytes] = []

    def checker(msg):
        checked.append(msg.body)
        return LocalTransactionState.COMMIT_MESSAGE

    async def send_unknown() -> None:
        async with AsyncAdmin(namesrv.addr) as admin:
            await admin.create_topic("TxRestart", cluster="DefaultCluster", read_queue_nums=2, write_queue_nums=2)
        producer = AsyncTransactionProducer("TxRestartPG", namesrv.addr, checker=checker)
        async with producer:
            result = await producer.send_message_in_transaction(Message("TxRestart", b"pending"),
                                                                lambda m, a: LocalTransactionState.UNKNOWN)
            assert result.send_result.status is SendStatus.SEND_OK

    async def check_back_and_consume() -> None:
        got: list[bytes] = []
        producer = AsyncTransactionProducer("TxRestartPG", namesrv.addr, checker=checker)
        consumer = AsyncPushConsumer("TxRestartCG", namesrv.addr, listener=lambda msgs, ctx: got.extend(m.body for m in msgs),
                                     consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        consumer.subscribe("TxRestart")
        async with producer, consumer:
            # A producer is known to a broker once it has talked to it (upstream alike): one more
            # transaction makes this producer the one the restarted broker can check back with.
            await producer.send_message_in_transaction(Message("TxRestart", b"after-restart"),
                                                       lambda m, a: LocalTransactionState.COMMIT_MESSAGE)
            await wait_for(lambda: b"pending" in got, 60, "the checked-back message")
            await asyncio.sleep(3)  # several more check passes: none may deliver it again
        assert sorted(got) == [b"after-restart", b"pending"]

    try:
        asyncio.run(send_unknown())
        assert checked == []
        assert broker.terminate() == 0
        broker = start_broker(tmp_path / "b", namesrv.addr, port=broker.port, extra=FAST_CHECKS)
        asyncio.run(check_back_and_consume())
        assert checked == [b"pending"]
    finally:
        broker.kill()
        namesrv.kill()
