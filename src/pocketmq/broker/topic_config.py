"""The broker's topic table (upstream TopicConfigManager): system topics, auto-creation from a
template topic, updates and deletes, persisted to ``config/topics.json`` with a data version
that the name servers compare."""

from __future__ import annotations

import functools
import logging
import os
import threading

import orjson

from pocketmq.config import BrokerConfig
from pocketmq.store.timer import TIMER_TOPIC
from pocketmq.persist import BackgroundFile, load_json_file
from pocketmq.protocol.route import (
    PERM_INHERIT, PERM_READ, PERM_WRITE, DataVersion, TopicConfig, TopicConfigWrapper,
)

log = logging.getLogger("pocketmq.broker")

AUTO_CREATE_TOPIC_KEY_TOPIC = "TBW102"
SELF_TEST_TOPIC = "SELF_TEST_TOPIC"
BENCHMARK_TOPIC = "BenchmarkTest"
OFFSET_MOVED_EVENT = "OFFSET_MOVED_EVENT"
SCHEDULE_TOPIC = "SCHEDULE_TOPIC_XXXX"
TRANS_HALF_TOPIC = "RMQ_SYS_TRANS_HALF_TOPIC"
TRANS_OP_HALF_TOPIC = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
TRANS_CHECK_MAX_TIME_TOPIC = "TRANS_CHECK_MAX_TIME_TOPIC"
RETRY_GROUP_TOPIC_PREFIX = "%RETRY%"
DLQ_GROUP_TOPIC_PREFIX = "%DLQ%"
SCHEDULE_QUEUE_NUMS = 18

# Topics a producer may never send to directly (upstream TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET).
NOT_ALLOWED_SEND_TOPICS = frozenset({
    SCHEDULE_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC, TRANS_CHECK_MAX_TIME_TOPIC, SELF_TEST_TOPIC,
    OFFSET_MOVED_EVENT,
})

TOPIC_MAX_LENGTH = 127
RETRY_OR_DLQ_TOPIC_MAX_LENGTH = 255  # upstream 5's TopicValidator: a group's retry and DLQ topics
_VALID_TOPIC_CHARS = frozenset("%|abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@functools.lru_cache(maxsize=8192)  # asked for every send; topics are few
def topic_problem(topic: str) -> str | None:
    """Why ``topic`` is not a valid topic name (upstream TopicValidator), or None."""
    if not topic or not topic.strip():
        return "The specified topic is blank."
    if topic.startswith((RETRY_GROUP_TOPIC_PREFIX, DLQ_GROUP_TOPIC_PREFIX)):
        if len(topic) > RETRY_OR_DLQ_TOPIC_MAX_LENGTH:
            return (f"The specified topic is DLQ or Retry topic: {topic}, and it's longer than topic max length: "
                    f"{RETRY_OR_DLQ_TOPIC_MAX_LENGTH}")
    elif len(topic) > TOPIC_MAX_LENGTH:
        return f"The specified topic is longer than topic max length {TOPIC_MAX_LENGTH}."
    if not set(topic) <= _VALID_TOPIC_CHARS:
        return f"The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
    return None


def retry_topic(group: str) -> str:
    return RETRY_GROUP_TOPIC_PREFIX + group


def dlq_topic(group: str) -> str:
    return DLQ_GROUP_TOPIC_PREFIX + group


class TopicConfigManager:
    def __init__(self, config: BrokerConfig, store_root: str) -> None:
        self.config = config
        self.path = os.path.join(store_root, "config", "topics.json")
        self.table: dict[str, TopicConfig] = {}
        self.data_version = DataVersion()
        self.system_topics: set[str] = set()
        self._lock = threading.Lock()
        self._file = BackgroundFile(self.path)
        self._add_system_topics()

    def _add_system_topics(self) -> None:
        rw = PERM_READ | PERM_WRITE
        config = self.config
        self._system(TopicConfig(SELF_TEST_TOPIC, 1, 1))
        if config.autoCreateTopicEnable:
            self._system(TopicConfig(AUTO_CREATE_TOPIC_KEY_TOPIC, config.defaultTopicQueueNums,
                                     config.defaultTopicQueueNums, PERM_INHERIT | rw))
        self._system(TopicConfig(BENCHMARK_TOPIC, 1024, 1024))
        cluster_perm = PERM_INHERIT | (rw if config.clusterTopicEnable else 0)
        self._system(TopicConfig(config.brokerClusterName, 16, 16, cluster_perm))
        broker_perm = PERM_INHERIT | (rw if config.brokerTopicEnable else 0)
        self._system(TopicConfig(config.brokerName, 1, 1, broker_perm))
        self._system(TopicConfig(OFFSET_MOVED_EVENT, 1, 1))
        self._system(TopicConfig(SCHEDULE_TOPIC, SCHEDULE_QUEUE_NUMS, SCHEDULE_QUEUE_NUMS))
        self._system(TopicConfig(f"{config.brokerClusterName}_REPLY_TOPIC", 1, 1))
        self._system(TopicConfig(TIMER_TOPIC, 1, 1))  # upstream adds it when timerWheelEnable (default)

    def _system(self, topic_config: TopicConfig) -> None:
        self.table[topic_config.topicName] = topic_config
        self.system_topics.add(topic_config.topicName)

    # ---------------------------------------------------------------------------- persistence
    def load(self) -> None:
        data = load_json_file(self.path, orjson.loads)
        if data is None:
            return
        wrapper = TopicConfigWrapper.from_dict(data)
        self.table.update(wrapper.topicConfigTable)
        self.data_version = wrapper.dataVersion

    def persist(self) -> None:
        """Write topics.json off the event loop (see ``written``)."""
        with self._lock:
            payload = orjson.dumps(self.wrapper().to_dict(), option=orjson.OPT_INDENT_2)
        self._file.write(payload)

    async def written(self) -> None:
        """Returns once topics.json holds the newest table: a request that created or changed a
        topic awaits it before it answers, as upstream answers after its synchronous persist."""
        pending = self._file.pending
        if pending is not None:
            await pending

    def flush(self) -> None:
        """Block until topics.json holds the table (shutdown)."""
        self._file.flush()

    def wrapper(self, only: set[str] | None = None) -> TopicConfigWrapper:
        """The table (or the ``only`` topics that exist) with a copy of the data version."""
        table = dict(self.table) if only is None else {t: self.table[t] for t in only if t in self.table}
        return TopicConfigWrapper(table, DataVersion(self.data_version.timestamp, self.data_version.counter))

    # -------------------------------------------------------------------------------- access
    def get(self, topic: str) -> TopicConfig | None:
        return self.table.get(topic)

    def is_order_topic(self, topic: str) -> bool:
        tc = self.table.get(topic)
        return bool(tc and tc.order)

    def update(self, topic_config: TopicConfig) -> None:
        old = self.table.get(topic_config.topicName)
        self.table[topic_config.topicName] = topic_config
        log.info("%s topic config, old: %s new: %s", "update" if old else "create new", old, topic_config)
        self.data_version.next_version()
        self.persist()

    def delete(self, topic: str) -> bool:
        if self.table.pop(topic, None) is None:
            return False
        log.info("delete topic config OK, topic: %s", topic)
        self.data_version.next_version()
        self.persist()
        return True

    def create_in_send_message(self, topic: str, default_topic: str, queue_nums: int,
                               topic_sys_flag: int = 0) -> TopicConfig | None:
        """Auto-create ``topic`` from ``default_topic`` if it carries the INHERIT bit (rule 3.1.4)."""
        existing = self.table.get(topic)
        if existing is not None:
            return existing
        template = self.table.get(default_topic)
        if template is None:
            log.warning("Create new topic failed, because the default topic[%s] not exist. producer:%s",
                        default_topic, topic)
            return None
        if default_topic == AUTO_CREATE_TOPIC_KEY_TOPIC and not self.config.autoCreateTopicEnable:
            template = TopicConfig(template.topicName, template.readQueueNums, template.writeQueueNums,
                                   PERM_READ | PERM_WRITE)
        if not template.perm & PERM_INHERIT:
            log.warning("Create new topic failed, because the default topic[%s] has no perm [%d] producer:%s",
                        default_topic, template.perm, topic)
            return None
        queues = max(1, min(queue_nums, template.writeQueueNums))
        created = TopicConfig(topic, queues, queues, template.perm & ~PERM_INHERIT,
                              template.topicFilterType, topic_sys_flag)
        self.update(created)
        return created

    def create_in_send_back(self, topic: str, queue_nums: int, perm: int, topic_sys_flag: int = 0) -> TopicConfig:
        existing = self.table.get(topic)
        if existing is not None:
            return existing
        created = TopicConfig(topic, queue_nums, queue_nums, perm, topicSysFlag=topic_sys_flag)
        self.update(created)
        return created

    def create_system_topic_if_absent(self, topic: str, queue_nums: int) -> TopicConfig:
        existing = self.table.get(topic)
        if existing is not None:
            return existing
        created = TopicConfig(topic, queue_nums, queue_nums, PERM_READ | PERM_WRITE)
        self.system_topics.add(topic)
        self.update(created)
        return created
