"""What a broker tells its name server when topics change, with a real `mqnamesrv` and `mqbroker`:
a topic created by a send (or by mqadmin updateTopic) is registered alone, as upstream's
registerIncrementBrokerData does, so creating N topics one after another costs O(N) rather than
re-sending the whole table N times; the name server then routes every topic, old and new; and a
broker whose permission is lowered shows that permission on every route while the topics keep
their own, which come back when the broker's permission does."""

from __future__ import annotations

import re

import orjson
import pytest

from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.tools import mqadmin
from tests.support.processes import start_broker, start_namesrv, wait_until
from tests.support.rpc import call

pytestmark = pytest.mark.timeout(120)

REGISTERED = re.compile(r"register broker\[0\]to name server \S+ OK, (\d+) topic\(s\)")


def route_perms(namesrv: str, topic: str) -> list[int] | None:
    response = call(namesrv, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic})
    if response.code != ResponseCode.SUCCESS:
        return None
    return [queue["perm"] for queue in orjson.loads(response.body)["queueDatas"]]


def registrations(broker) -> list[int]:  # noqa: ANN001
    log = (broker.home / "logs" / "rocketmqlogs" / "broker.log").read_text()
    return [int(n) for n in REGISTERED.findall(log)]


def send_one(broker_addr: str, topic: str) -> int:
    fields = {"a": "PG", "b": topic, "c": "TBW102", "d": "4", "e": "0", "f": "0", "g": "0", "h": "0",
              "i": "WAIT\x01true\x02", "j": "0", "k": "false", "m": "false"}
    return call(broker_addr, RequestCode.SEND_MESSAGE_V2, fields, b"x").code


def test_created_topics_are_registered_alone_and_all_stay_routed(tmp_path) -> None:
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr)
    try:
        wait_until(lambda: registrations(broker), 30, 0.1, "the first registration")
        whole_table = registrations(broker)[0]
        assert whole_table > 5  # the system topics at least

        topics = [f"RegT{i}" for i in range(20)]
        for topic in topics:
            assert send_one(broker.addr, topic) == ResponseCode.SUCCESS
            wait_until(lambda t=topic: route_perms(namesrv.addr, t) == [6], 10, 0.05, f"route of {topic}")
        assert mqadmin.run(["updateTopic", "-n", namesrv.addr, "-b", broker.addr, "-t", "AdminT", "-r", "2", "-w", "2"]) == 0
        wait_until(lambda: route_perms(namesrv.addr, "AdminT") == [6], 10, 0.05, "route of AdminT")

        later = registrations(broker)[1:]
        # One registration per created topic (some may coalesce), none of them the whole table.
        assert later and max(later) < whole_table and sum(later) <= len(topics) + 1 + 2
        assert all(route_perms(namesrv.addr, t) == [6] for t in topics)
        assert route_perms(namesrv.addr, "TBW102") == [7]  # registered at start: still routed
    finally:
        broker.kill()
        namesrv.kill()


def test_a_lowered_broker_permission_shows_on_routes_and_the_topics_keep_their_own(tmp_path) -> None:
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr)
    try:
        assert send_one(broker.addr, "PermT") == ResponseCode.SUCCESS
        wait_until(lambda: route_perms(namesrv.addr, "PermT") == [6], 30, 0.05, "route of PermT")
        assert mqadmin.run(["updateBrokerConfig", "-n", namesrv.addr, "-b", broker.addr, "-k", "brokerPermission",
                      "-v", "4"]) == 0
        wait_until(lambda: route_perms(namesrv.addr, "PermT") == [4], 30, 0.1, "read-only route")
        assert mqadmin.run(["updateBrokerConfig", "-n", namesrv.addr, "-b", broker.addr, "-k", "brokerPermission",
                      "-v", "6"]) == 0
        wait_until(lambda: route_perms(namesrv.addr, "PermT") == [6], 30, 0.1, "the topic's own permission back")
    finally:
        broker.kill()
        namesrv.kill()


def test_a_restarted_name_server_gets_the_whole_table_with_the_next_created_topic(tmp_path) -> None:
    namesrv = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", namesrv.addr)
    try:
        assert send_one(broker.addr, "BeforeT") == ResponseCode.SUCCESS
        wait_until(lambda: route_perms(namesrv.addr, "BeforeT") == [6], 30, 0.05, "route of BeforeT")
        port = int(namesrv.addr.rsplit(":", 1)[1])
        namesrv.kill()
        namesrv = start_namesrv(tmp_path / "ns2", port=port)  # knows nothing, until the broker tells it
        assert route_perms(namesrv.addr, "BeforeT") is None
        assert send_one(broker.addr, "AfterT") == ResponseCode.SUCCESS
        # The broker's connection to the old process closed, so the registration that carries
        # AfterT is the whole table: BeforeT is routed with it, not 30 s later.
        wait_until(lambda: route_perms(namesrv.addr, "AfterT") == [6], 10, 0.05, "route of AfterT")
        assert route_perms(namesrv.addr, "BeforeT") == [6]
        assert registrations(broker)[-1] > 5
    finally:
        broker.kill()
        namesrv.kill()
