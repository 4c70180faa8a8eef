"""pocketmq.client against a real Apache RocketMQ 4.9 name server + broker: sends of every kind,
push consumption (tags, retry, orderly, broadcasting, clustering rebalance), lite pull, a
transaction with and without check-back, and the admin API."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import pytest

from pocketmq.client import (
    AsyncLitePullConsumer, AsyncProducer, AsyncPushConsumer, AsyncTransactionProducer, ConsumeOrderlyStatus,
    ConsumeStatus, LocalTransactionState, Message, MessageQueue, Producer, SendStatus, select_by_hash,
)
from pocketmq.client.admin import AsyncAdmin

from .conftest import run, wait_for

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]


async def _create_topic(ns: str, topic: str, queues: int = 4) -> None:
    async with AsyncAdmin(ns) as admin:
        await admin.create_topic(topic, cluster="DefaultCluster", read_queue_nums=queues, write_queue_nums=queues)
        await wait_for_route(admin, topic)


async def wait_for_route(admin: AsyncAdmin, topic: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            route = await admin.topic_route(topic)
            if route.queueDatas:
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no route for {topic}")
        await asyncio.sleep(0.1)


def test_send_kinds_and_push_consume_with_tag_filter(cluster, unique):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("CG")
    big = bytes(range(256)) * 40  # 10 KiB: compressed on the wire

    async def main() -> None:
        await _create_topic(ns, topic)
        expected: dict[bytes, Message] = {}
        async with AsyncProducer(unique("PG"), ns) as producer:
            for i in range(6):
                msg = Message(topic, f"sync-{i}".encode(), tags="TagA" if i % 2 == 0 else "TagB",
                              keys=[f"k{i}", "shared"], properties={"idx": str(i)})
                result = await producer.send(msg)
                assert result.status is SendStatus.SEND_OK and len(result.msg_id) == 32
                expected[msg.body_bytes()] = msg
            big_msg = Message(topic, big, tags="TagA")
            await producer.send(big_msg)
            expected[big] = big_msg
            futures = [producer.send_async(Message(topic, f"async-{i}".encode(), tags="TagA")) for i in range(5)]
            for f in await asyncio.gather(*futures):
                assert f.status is SendStatus.SEND_OK
            for i in range(5):
                expected[f"async-{i}".encode()] = Message(topic, b"", tags="TagA")
            batch = [Message(topic, f"batch-{i}".encode(), tags="TagA", keys=f"b{i}") for i in range(4)]
            result = await producer.send_batch(batch)
            assert len(result.msg_id.split(",")) == 4
            for m in batch:
                expected[m.body_bytes()] = m
            await producer.send_oneway(Message(topic, b"oneway", tags="TagA"))
            expected[b"oneway"] = Message(topic, b"", tags="TagA")
        want = {body for body, m in expected.items() if m.tags == "TagA"}
        got: dict[bytes, object] = {}

        def listener(msgs, context):
            for m in msgs:
                got[m.body] = m
            return ConsumeStatus.CONSUME_SUCCESS

        consumer = AsyncPushConsumer(group, ns, listener=listener, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        consumer.subscribe(topic, "TagA")
        async with consumer:
            await wait_for(lambda: want <= set(got), 60, "every TagA message")
            await asyncio.sleep(0.5)
        assert set(got) == want  # TagB filtered out, nothing else
        assert got[big].body == big
        m0 = got[b"sync-0"]
        assert m0.tags == "TagA" and m0.keys == "k0 shared" and m0.properties["idx"] == "0"
        assert got[b"batch-1"].keys == "b1"

    run(main())


def test_failed_message_is_redelivered_from_retry_topic(cluster, unique):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("CG")

    async def main() -> None:
        await _create_topic(ns, topic)
        async with AsyncProducer(unique("PG"), ns) as producer:
            sent = await producer.send(Message(topic, b"fail-once", tags="x"))
        deliveries = []

        async def listener(msgs, context):
            deliveries.extend((m.body, m.reconsume_times, m.topic) for m in msgs)
            return ConsumeStatus.RECONSUME_LATER if len(deliveries) == 1 else ConsumeStatus.CONSUME_SUCCESS

        consumer = AsyncPushConsumer(group, ns, listener=listener, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        consumer.subscribe(topic)
        async with consumer:
            await wait_for(lambda: len(deliveries) >= 2, 90, "redelivery through %RETRY%")
        assert deliveries[0] == (b"fail-once", 0, topic)
        assert deliveries[1] == (b"fail-once", 1, topic)  # original topic restored
        assert sent.msg_id

    run(main(), 150)


def test_orderly_consumption_keeps_per_key_order(cluster, unique):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("CG")

    async def main() -> None:
        await _create_topic(ns, topic)
        async with AsyncProducer(unique("PG"), ns) as producer:
            queues_of = defaultdict(set)
            for seq in range(15):
                for order in ("o1", "o2", "o3"):
                    r = await producer.send(Message(topic, f"{order}:{seq}".encode()), selector=select_by_hash, arg=order)
                    queues_of[order].add(r.message_queue)
            assert all(len(q) == 1 for q in queues_of.values())
        seen = defaultdict(list)
        failed = set()

        def listener(msgs, context):
            for m in msgs:
                order, seq = m.body.decode().split(":")
                if seq == "5" and order not in failed:  # one suspension must not break the order
                    failed.add(order)
                    return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT
                seen[order].append(int(seq))
            return ConsumeOrderlyStatus.SUCCESS

        consumer = AsyncPushConsumer(group, ns, listener=listener, orderly=True,
                                     consume_from_where="CONSUME_FROM_FIRST_OFFSET",
                                     suspend_current_queue_time_millis=100)
        consumer.subscribe(topic)
        async with consumer:
            await wait_for(lambda: sum(map(len, seen.values())) >= 45, 60, "45 ordered messages")
        assert {k: v for k, v in seen.items()} == {o: list(range(15)) for o in ("o1", "o2", "o3")}

    run(main())


def test_clustering_rebalance_splits_queues_and_consumes_once(cluster, unique):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("CG")

    async def main() -> None:
        await _create_topic(ns, topic)
        got = defaultdict(list)

        def make(name):
            def listener(msgs, context):
                got[name].extend(m.body for m in msgs)
            return listener

        c1 = AsyncPushConsumer(group, ns, listener=make("c1"), instance_name="c1", consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        c2 = AsyncPushConsumer(group, ns, listener=make("c2"), instance_name="c2", consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        for c in (c1, c2):
            c.subscribe(topic)
        async with c1:
            await wait_for(lambda: len([q for q in c1.pq_table if q.topic == topic]) == 4, 30, "c1 owning all 4 queues")
            async with c2:
                def split():
                    a = {q for q in c1.pq_table if q.topic == topic}
                    b = {q for q in c2.pq_table if q.topic == topic}
                    return len(a) == 2 and len(b) == 2 and not a & b
                await wait_for(split, 45, "2+2 queue split after the second consumer joined")
                async with AsyncProducer(unique("PG"), ns) as producer:
                    for i in range(40):
                        await producer.send(Message(topic, f"m{i}".encode()))
                await wait_for(lambda: len(got["c1"]) + len(got["c2"]) >= 40, 60, "40 messages")
                await asyncio.sleep(1.0)
            await wait_for(lambda: len([q for q in c1.pq_table if q.topic == topic]) == 4, 45,
                           "c1 taking all queues back after c2 left")
        all_bodies = got["c1"] + got["c2"]
        assert sorted(all_bodies) == sorted(f"m{i}".encode() for i in range(40))  # each exactly once
        assert got["c1"] and got["c2"]

    run(main(), 200)


def test_broadcasting_every_consumer_gets_everything(cluster, unique, tmp_path):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("CG")

    async def main() -> None:
        await _create_topic(ns, topic)
        got = defaultdict(set)

        def make(name):
            def listener(msgs, context):
                got[name].update(m.body for m in msgs)
            return listener

        consumers = [AsyncPushConsumer(group, ns, listener=make(n), instance_name=n, message_model="BROADCASTING",
                                       consume_from_where="CONSUME_FROM_FIRST_OFFSET", offset_store_dir=str(tmp_path))
                     for n in ("b1", "b2")]
        for c in consumers:
            c.subscribe(topic)
            await c.start()
        try:
            await wait_for(lambda: all(len(c.pq_table) == 4 for c in consumers), 30, "both owning all queues")
            async with AsyncProducer(unique("PG"), ns) as producer:
                for i in range(10):
                    await producer.send(Message(topic, f"m{i}".encode()))
            want = {f"m{i}".encode() for i in range(10)}
            await wait_for(lambda: got["b1"] == want and got["b2"] == want, 60, "both seeing all 10")
        finally:
            for c in consumers:
                await c.shutdown()
        files = list(tmp_path.glob(f"*/{group}/offsets.json"))
        assert len(files) == 2
        assert b'"offsetTable"' in files[0].read_bytes()

    run(main())


def test_lite_pull_subscribe_assign_seek_commit(cluster, unique):
    ns = cluster.namesrv_addr
    topic = unique("T")

    async def main() -> None:
        await _create_topic(ns, topic, queues=2)
        async with AsyncProducer(unique("PG"), ns) as producer:
            mq0 = MessageQueue(topic, "broker-a", 0)
            for i in range(10):
                await producer.send(Message(topic, f"q0-{i}".encode()), queue=mq0)
        group = unique("LG")
        consumer = AsyncLitePullConsumer(group, ns, auto_commit=False, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        consumer.subscribe(topic)
        async with consumer:
            bodies = []
            deadline = time.monotonic() + 60
            while len(bodies) < 10 and time.monotonic() < deadline:
                bodies += [m.body for m in await consumer.poll(1.0)]
            assert bodies == [f"q0-{i}".encode() for i in range(10)]
            await consumer.commit()
            assert await consumer.committed(mq0) == 10
            await consumer.seek(mq0, 7)
            again = []
            while len(again) < 3 and time.monotonic() < deadline:
                again += [m.body for m in await consumer.poll(1.0)]
            assert again == [b"q0-7", b"q0-8", b"q0-9"]
        assigned = AsyncLitePullConsumer(unique("LG"), ns, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        assigned.assign([mq0])
        async with assigned:
            first = []
            while len(first) < 10 and time.monotonic() < deadline:
                first += [m.queue_offset for m in await assigned.poll(1.0)]
            assert first == list(range(10))

    run(main())


def test_transaction_commit_rollback_and_check_back(cluster, unique):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("CG")

    async def main() -> None:
        await _create_topic(ns, topic)
        checked = []

        def checker(msg):
            checked.append(msg.body)
            return LocalTransactionState.COMMIT_MESSAGE

        producer = AsyncTransactionProducer(unique("TPG"), ns, checker=checker)
        async with producer:
            r1 = await producer.send_message_in_transaction(Message(topic, b"commit"), lambda m, a: LocalTransactionState.COMMIT_MESSAGE)
            r2 = await producer.send_message_in_transaction(Message(topic, b"rollback"), lambda m, a: LocalTransactionState.ROLLBACK_MESSAGE)
            r3 = await producer.send_message_in_transaction(Message(topic, b"unknown"), lambda m, a: LocalTransactionState.UNKNOWN)
            assert r1.send_result.status is SendStatus.SEND_OK and r3.local_state is LocalTransactionState.UNKNOWN
            got = []
            consumer = AsyncPushConsumer(group, ns, listener=lambda msgs, ctx: got.extend(m.body for m in msgs),
                                         consume_from_where="CONSUME_FROM_FIRST_OFFSET")
            consumer.subscribe(topic)
            async with consumer:
                await wait_for(lambda: {b"commit", b"unknown"} <= set(got), 90, "committed and checked-back messages")
                await asyncio.sleep(1.0)
        assert b"unknown" in checked
        assert sorted(got) == [b"commit", b"unknown"]
        assert r2.msg_id

    run(main(), 150)


def test_admin_api(cluster, unique):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("CG")
    broker = cluster.broker.addr

    async def main() -> None:
        async with AsyncAdmin(ns) as admin:
            info = await admin.cluster_info()
            assert info.clusterAddrTable["DefaultCluster"] == ["broker-a"]
            assert info.brokerAddrTable["broker-a"].brokerAddrs[0] == broker
            await admin.create_topic(topic, broker_addr=broker, read_queue_nums=3, write_queue_nums=3)
            await wait_for_route(admin, topic)
            route = await admin.topic_route(topic)
            assert route.queueDatas[0].writeQueueNums == 3
            assert topic in await admin.topic_list()
            async with AsyncProducer(unique("PG"), ns) as producer:
                sent = [await producer.send(Message(topic, f"m{i}".encode(), keys=f"key-{i}"),
                                            queue=MessageQueue(topic, "broker-a", 1)) for i in range(3)]
            stats = await admin.topic_stats(topic)
            assert stats[MessageQueue(topic, "broker-a", 1)].maxOffset == 3
            assert stats[MessageQueue(topic, "broker-a", 0)].maxOffset == 0
            viewed = await admin.view_message(sent[1].offset_msg_id)
            assert viewed.body == b"m1"
            by_uniq = await admin.query_message_by_id(topic, sent[2].msg_id)
            assert by_uniq.body == b"m2"
            deadline = time.monotonic() + 30
            found = []
            while not found and time.monotonic() < deadline:
                found = await admin.query_message(topic, "key-0")
                if not found:
                    await asyncio.sleep(0.2)
            assert [m.body for m in found] == [b"m0"]
            await admin.create_subscription_group(group, broker_addr=broker)
            assert group in await admin.subscription_groups(broker)
            mq1 = MessageQueue(topic, "broker-a", 1)
            for q in range(3):  # the broker refuses a reset for queues the group never committed
                await admin.update_consumer_offset(group, MessageQueue(topic, "broker-a", q), 2 if q == 1 else 0)
            consumer = AsyncPushConsumer(group, ns, listener=lambda m, c: None)
            consumer.subscribe(topic)
            async with consumer:
                await wait_for(lambda: len(consumer.pq_table) >= 3, 30, "consumer owning queues")
                stats = await admin.consume_stats(group, topic)
                assert stats.offsetTable[mq1].brokerOffset == 3
                conn = await admin.consumer_connection(group)
                assert conn.connectionSet and conn.connectionSet[0].language == "PYTHON"
                assert topic in conn.subscriptionTable
                table = await admin.reset_offset_by_timestamp(topic, group, 0)
                assert table[mq1] == 0
                await wait_for(lambda: consumer.offset_store.table.get(mq1) == 3, 30, "consumer re-reading after reset")
            runtime = await admin.broker_runtime_info(broker)
            assert "brokerVersionDesc" in runtime and "msgPutTotalTodayNow" in runtime
            config = await admin.broker_config(broker)
            assert config["brokerName"] == "broker-a"
            await admin.update_broker_config(broker, {"fileReservedTime": 47})
            assert (await admin.broker_config(broker))["fileReservedTime"] == "47"
            await admin.delete_subscription_group(group, broker_addr=broker)
            assert group not in await admin.subscription_groups(broker)
            await admin.delete_topic(topic, "DefaultCluster")
            assert topic not in await admin.topic_list()

    run(main())


def test_sync_facade_producer(cluster, unique):
    ns = cluster.namesrv_addr
    topic = unique("T")
    with Producer(unique("PG"), ns) as producer:
        r = producer.send(Message(topic, b"hello"))  # auto-created through TBW102
        assert r.status is SendStatus.SEND_OK
        f = producer.send_async(Message(topic, b"later"))
        assert f.result(10).status is SendStatus.SEND_OK
        assert len(producer.fetch_publish_queues(topic)) >= 1
