"""Cross-checks with the official Java client (tests/interop/clients.py) on a real Apache
RocketMQ 4.9: what our producer sends the Java push consumer reads intact, and what the Java
producer sends (single, batch, large compressed) our push consumer reads intact."""

from __future__ import annotations

import asyncio

import pytest

from pocketmq.client import AsyncProducer, AsyncPushConsumer, Message

from .conftest import run, wait_for

from clients import messages, run_java_driver  # noqa: E402  (tests/interop on sys.path via conftest)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]


def test_java_consumer_reads_our_messages(cluster, unique):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("JCG")
    big = "z" * 9000

    async def produce() -> None:
        async with AsyncProducer(unique("PG"), ns) as producer:
            for i in range(5):
                await producer.send(Message(topic, f"py-{i}", tags="TagP", keys=[f"k{i}", "x"], properties={"p": f"v{i}"}))
            await producer.send(Message(topic, big, tags="TagP"))
            await producer.send_batch([Message(topic, f"pyb-{i}", tags="TagP") for i in range(3)])

    run(produce())
    events = run_java_driver(["push-consume", "--topic", topic, "--group", group, "--count", "9", "--timeout", "90",
                              "--from", "first"], namesrv=ns, timeout=150)
    got = {m["body"]: m for m in messages(events)}
    assert set(got) == {f"py-{i}" for i in range(5)} | {big} | {f"pyb-{i}" for i in range(3)}
    m2 = got["py-2"]
    assert m2["tags"] == "TagP" and m2["keys"] == "k2 x" and m2["properties"]["p"] == "v2"
    assert m2["properties"]["UNIQ_KEY"] == m2["msgId"]


def test_our_consumer_reads_java_messages(cluster, unique):
    ns = cluster.namesrv_addr
    topic, group = unique("T"), unique("CG")
    sent = run_java_driver(["produce", "--topic", topic, "--count", "5", "--tags", "TagJ", "--keys", "key-{i}",
                            "--body", "java-{i}", "--prop", "p=v{i}"], namesrv=ns)
    sent += run_java_driver(["produce", "--topic", topic, "--count", "3", "--mode", "batch", "--tags", "TagJ",
                             "--body", "jbatch-{i}"], namesrv=ns)
    sent += run_java_driver(["produce", "--topic", topic, "--count", "1", "--tags", "TagJ", "--body-size", "8000"],
                            namesrv=ns)
    java_ids = {e["msgId"] for e in sent if e.get("event") == "send"}
    assert len(java_ids) == 9

    async def consume() -> dict:
        got = {}

        def listener(msgs, ctx):
            for m in msgs:
                got[m.uniq_key] = m

        consumer = AsyncPushConsumer(group, ns, listener=listener, consume_from_where="CONSUME_FROM_FIRST_OFFSET")
        consumer.subscribe(topic, "TagJ")
        async with consumer:
            await wait_for(lambda: java_ids <= set(got), 60, "all 9 Java messages")
            await asyncio.sleep(0.3)
        return got

    got = run(consume())
    assert set(got) == java_ids
    bodies = {m.body for m in got.values()}
    assert {f"java-{i}".encode() for i in range(5)} <= bodies
    assert {f"jbatch-{i}".encode() for i in range(3)} <= bodies
    assert any(len(b) == 8000 for b in bodies)  # compressed by Java, inflated by us
    java2 = next(m for m in got.values() if m.body == b"java-2")
    assert java2.keys == "key-2" and java2.properties["p"] == "v2" and java2.tags == "TagJ"
