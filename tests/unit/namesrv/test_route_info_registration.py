"""The name server's topic routes from broker registrations (RouteInfoManager.register_broker):
a registration carrying the data version already seen adds the topics the broker does not serve
yet, as upstream 5's isTopicConfigChanged, and leaves the ones it serves alone."""

from __future__ import annotations

from pocketmq.namesrv.route_info import RouteInfoManager
from pocketmq.protocol.route import DataVersion, TopicConfig, TopicConfigWrapper

BROKER = ("DefaultCluster", "127.0.0.1:10911", "broker-a", 0, "127.0.0.1:10912")


def register(routes: RouteInfoManager, version: DataVersion, *topics: TopicConfig) -> None:
    wrapper = TopicConfigWrapper({topic.topicName: topic for topic in topics}, DataVersion(version.timestamp,
                                                                                          version.counter))
    routes.register_broker(*BROKER, wrapper, [], None)


def queue_nums(routes: RouteInfoManager, topic: str) -> int | None:
    queue = routes.topic_queue_table.get(topic, {}).get("broker-a")
    return None if queue is None else queue.writeQueueNums


def test_topics_in_registrations_that_share_a_data_version_are_all_routed():
    routes = RouteInfoManager(clock=lambda: 0.0)
    register(routes, DataVersion(1000, 1), TopicConfig("Old", 4, 4))
    shared = DataVersion(1000, 3)  # two topics created at once, each registered alone
    register(routes, shared, TopicConfig("First", 4, 4))
    register(routes, shared, TopicConfig("Second", 4, 4))
    assert (queue_nums(routes, "Old"), queue_nums(routes, "First"), queue_nums(routes, "Second")) == (4, 4, 4)


def test_a_topic_already_routed_changes_only_with_a_new_data_version():
    routes = RouteInfoManager(clock=lambda: 0.0)
    version = DataVersion(1000, 1)
    register(routes, version, TopicConfig("T", 4, 4))
    register(routes, version, TopicConfig("T", 8, 8))  # same version: the route stays
    assert queue_nums(routes, "T") == 4
    register(routes, DataVersion(1000, 2), TopicConfig("T", 8, 8))
    assert queue_nums(routes, "T") == 8
