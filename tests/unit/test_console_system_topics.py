"""The console lists user topics only: RocketMQ's system topics (upstream TopicValidator: the
RMQ_SYS_ ones, the rmq_sys_ prefix of 5.x's timer wheel and POP revive log, retry and DLQ topics)
are kept apart."""

import pytest

from pocketmq.console.service import is_system_topic


@pytest.mark.parametrize("topic", ["TBW102", "SCHEDULE_TOPIC_XXXX", "RMQ_SYS_TRANS_HALF_TOPIC", "rmq_sys_wheel_timer",
                                   "rmq_sys_REVIVE_LOG_DefaultCluster", "%RETRY%G", "%DLQ%G"])
def test_system_topics_are_recognised(topic: str) -> None:
    assert is_system_topic(topic)


@pytest.mark.parametrize("topic", ["TopicTest", "orders", "rmq_user_topic", "RMQ_SYSTEM"])
def test_user_topics_are_not(topic: str) -> None:
    assert not is_system_topic(topic)
