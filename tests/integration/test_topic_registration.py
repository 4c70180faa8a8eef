"""What a broker tells its name server when topics change, with a real `mqnamesrv` and `mqbroker`:
a topic created by a send (or by mqadmin updateTopic, which returns only once the name servers
route it) is registered alone, as upstream's
registerIncrementBrokerData does, so creating N topics one after another costs O(N) rather than
re-sending the whole table N times; the name server then routes every topic, old and new; and a
broker whose permission is lowered shows that permission on every route while the topics keep
their own, which come back when the broker's permission does. A created topic is in topics.json by the
time its creator has the answer."""

from __future__ import annotations

import asyncio
import re

import orjson
import pytest

from pocketmq.client.admin import AsyncAdmin
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


class Servers:
    """A real name server and a broker registered with it; a test may replace the name server."""

    def __init__(self, home) -> None:  # noqa: ANN001
        self.home = home
        self.namesrv = start_namesrv(home / "ns")
        self.broker = start_broker(home / "broker", self.namesrv.addr)


@pytest.fixture
def servers(tmp_path):
    running = Servers(tmp_path)
    yield running
    running.broker.kill()
    running.namesrv.kill()


def create_and_see_routed(namesrv: str, broker_addr: str, topic: str, timeout: float = 30) -> None:
    assert send_one(broker_addr, topic) == ResponseCode.SUCCESS
    wait_until(lambda: route_perms(namesrv, topic) == [6], timeout, 0.05, f"route of {topic}")


def test_created_topics_are_registered_alone_and_all_stay_routed(servers) -> None:
    namesrv, broker = servers.namesrv, servers.broker
    wait_until(lambda: registrations(broker), 30, 0.1, "the first registration")
    whole_table = registrations(broker)[0]
    assert whole_table > 5  # the system topics at least

    topics = [f"RegT{i}" for i in range(20)]
    for topic in topics:
        create_and_see_routed(namesrv.addr, broker.addr, topic, 10)
    assert mqadmin.run(["updateTopic", "-n", namesrv.addr, "-b", broker.addr, "-t", "AdminT",
                        "-r", "2", "-w", "2"]) == 0
    assert route_perms(namesrv.addr, "AdminT") == [6]  # routed once updateTopic has returned, as upstream

    later = registrations(broker)[1:]
    # One registration per created topic (some may coalesce), none of them the whole table.
    assert later and max(later) < whole_table and sum(later) <= len(topics) + 1 + 2
    assert all(route_perms(namesrv.addr, t) == [6] for t in topics)
    assert route_perms(namesrv.addr, "TBW102") == [7]  # registered at start: still routed


def create_at_once(namesrv: str, broker_addr: str, topics: list[str]) -> None:
    """updateTopic for every topic at the same time, as a script creating many topics does."""
    async def create_all() -> None:
        async with AsyncAdmin(namesrv) as admin:
            await asyncio.gather(*(admin.create_topic(topic, broker_addr=broker_addr, read_queue_nums=4,
                                                      write_queue_nums=4) for topic in topics))
    asyncio.run(create_all())


def test_topics_created_at_once_are_all_routed_when_their_creators_return(servers) -> None:
    # Creations that overlap share a data version; each must still reach the name server (the
    # broker sends every topic changed since its last registration, the name server takes a
    # topic it lacks whatever the version, as upstream 5).
    topics = [f"AtOnceT{i}" for i in range(48)]
    create_at_once(servers.namesrv.addr, servers.broker.addr, topics)
    assert {topic: route_perms(servers.namesrv.addr, topic) for topic in topics} == {topic: [6] for topic in topics}


def test_a_lowered_broker_permission_shows_on_routes_and_the_topics_keep_their_own(servers) -> None:
    namesrv, broker = servers.namesrv, servers.broker
    create_and_see_routed(namesrv.addr, broker.addr, "PermT")
    assert mqadmin.run(["updateBrokerConfig", "-n", namesrv.addr, "-b", broker.addr,
                        "-k", "brokerPermission", "-v", "4"]) == 0
    wait_until(lambda: route_perms(namesrv.addr, "PermT") == [4], 30, 0.1, "read-only route")
    assert mqadmin.run(["updateBrokerConfig", "-n", namesrv.addr, "-b", broker.addr,
                        "-k", "brokerPermission", "-v", "6"]) == 0
    wait_until(lambda: route_perms(namesrv.addr, "PermT") == [6], 30, 0.1, "the topic's own permission back")


def test_a_restarted_name_server_gets_the_whole_table_with_the_next_created_topic(servers) -> None:
    namesrv, broker = servers.namesrv, servers.broker
    create_and_see_routed(namesrv.addr, broker.addr, "BeforeT")
    port = int(namesrv.addr.rsplit(":", 1)[1])
    namesrv.kill()
    namesrv = servers.namesrv = start_namesrv(servers.home / "ns2", port=port)  # knows nothing, until told
    assert route_perms(namesrv.addr, "BeforeT") is None
    # The broker's connection to the old process closed, so the registration that carries
    # AfterT is the whole table: BeforeT is routed with it, not 30 s later.
    create_and_see_routed(namesrv.addr, broker.addr, "AfterT", 10)
    assert route_perms(namesrv.addr, "BeforeT") == [6]
    assert registrations(broker)[-1] > 5


def test_a_created_topic_is_in_topics_json_once_its_creator_has_the_answer(servers) -> None:
    """topics.json is written off the event loop, but a send that created its topic, and
    updateTopic, answer only once the file holds it (upstream persists before it answers): a
    kill -9 right after the answers keeps both topics."""
    broker = servers.broker
    assert send_one(broker.addr, "DurableSendT") == ResponseCode.SUCCESS
    assert mqadmin.run(["updateTopic", "-n", servers.namesrv.addr, "-b", broker.addr, "-t", "DurableAdminT",
                        "-r", "2", "-w", "2"]) == 0
    broker.kill()
    (topics_json,) = broker.home.rglob("topics.json")
    table = orjson.loads(topics_json.read_bytes())["topicConfigTable"]
    assert {"DurableSendT", "DurableAdminT"} <= set(table)
