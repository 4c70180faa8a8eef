"""Mixed clusters: PocketMQ parts beside real Apache RocketMQ 4.9 parts, used by the official
Java client. Our broker registers with an Apache name server; an Apache broker registers with
our name server."""

from __future__ import annotations

import asyncio

import pytest

from apache import apache_broker, apache_namesrv  # type: ignore[import-not-found]
from clients import messages, run_java_driver, sends  # type: ignore[import-not-found]
from pocketmq.client.admin import AsyncAdmin
from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call

pytestmark = pytest.mark.interop


def round_trip(namesrv_addr: str, topic: str, group: str, count: int = 10) -> None:
    produced = sends(run_java_driver(["produce", "--topic", topic, "--count", str(count), "--tags", "TagA",
                                      "--prop", "origin=mixed-{i}"], namesrv=namesrv_addr))
    assert [p["status"] for p in produced] == ["SEND_OK"] * count
    received = messages(run_java_driver(["push-consume", "--topic", topic, "--count", str(count), "--group", group,
                                         "--timeout", "60"], namesrv=namesrv_addr))
    assert sorted((m["body"], m["tags"], m["properties"]["origin"]) for m in received) == sorted(
        (f"body-{i}", "TagA", f"mixed-{i}") for i in range(count))


def routed(namesrv_addr: str, topic: str) -> bool:
    return call(namesrv_addr, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic}).code == ResponseCode.SUCCESS


async def create_at_once(namesrv_addr: str, broker_addr: str, topics: list[str]) -> None:
    async with AsyncAdmin(namesrv_addr) as admin:
        await asyncio.gather(*(admin.create_topic(topic, broker_addr=broker_addr, read_queue_nums=4,
                                                  write_queue_nums=4) for topic in topics))


def test_pocketmq_broker_behind_apache_name_server(tmp_path, unique, interop_ready):
    with apache_namesrv() as namesrv:
        broker = start_broker(tmp_path / "broker", namesrv.addr, name="broker-py")
        try:
            info = run_java_driver(["admin", "cluster-info"], namesrv=namesrv.addr)
            assert "broker-py" in str(info)
            first, second = unique("T"), unique("T")
            round_trip(namesrv.addr, first, unique("G"))
            # Each auto-created topic is registered alone (registerIncrementBrokerData): Apache's
            # name server adds it and keeps the topics it had.
            round_trip(namesrv.addr, second, unique("G"))
            assert routed(namesrv.addr, first) and routed(namesrv.addr, second)
            assert "OK, 1 topic(s)" in (tmp_path / "broker" / "logs" / "rocketmqlogs" / "broker.log").read_text()
            # Topics created at once share data versions, and Apache 4.9's name server takes one
            # registration per data version: every one is routed once its updateTopic returned.
            at_once = [unique("AtOnce") for _ in range(32)]
            asyncio.run(create_at_once(namesrv.addr, broker.addr, at_once))
            assert [t for t in at_once if not routed(namesrv.addr, t)] == []
        finally:
            broker.kill()


def test_apache_broker_behind_pocketmq_name_server(tmp_path, unique, interop_ready):
    namesrv = start_namesrv(tmp_path / "ns")
    try:
        with apache_broker(namesrv.addr, brokerName="broker-java"):
            wait_until(lambda: "broker-java" in str(run_java_driver(["admin", "cluster-info"], namesrv=namesrv.addr)),
                       timeout=60, interval=1, message="the Apache broker registered with our name server")
            round_trip(namesrv.addr, unique("T"), unique("G"))
    finally:
        namesrv.kill()
