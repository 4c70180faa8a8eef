"""Shared helpers for store tests: small-file configs and message builders."""

from __future__ import annotations

from pocketmq.config import MessageStoreConfig
from pocketmq.protocol import message as m

HOST = ("10.0.0.1", 10911)


def small_config(root, **overrides) -> MessageStoreConfig:
    values = dict(storePathRootDir=str(root), mappedFileSizeCommitLog=64 * 1024,
                  mappedFileSizeConsumeQueue=20 * 64, maxHashSlotNum=64, maxIndexNum=256,
                  flushIntervalCommitLog=50, flushIntervalConsumeQueue=50)
    values.update(overrides)
    return MessageStoreConfig(**values)


def msg(topic="T", body=b"x" * 100, queue_id=0, tags=None, keys=None, uniq=None, **props) -> m.MessageExtBrokerInner:
    properties = dict(props)
    if tags:
        properties["TAGS"] = tags
    if keys:
        properties["KEYS"] = keys
    if uniq:
        properties["UNIQ_KEY"] = uniq
    return m.MessageExtBrokerInner(topic=topic, body=body, queue_id=queue_id, properties=properties,
                                   tags_code=m.tags_string_to_tags_code(tags), born_timestamp=1,
                                   born_host=("10.0.0.9", 4000))
