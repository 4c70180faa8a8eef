"""consumerOffset.json is written in the dialect upstream reads (integer queue ids quoted, keys
sorted), read back whole, and encoded without walking the table twice: it is encoded on the
event loop every flushConsumerOffsetInterval, for every queue of every group."""

from __future__ import annotations

import orjson

from pocketmq.broker.consumer_offset import ConsumerOffsetManager
from pocketmq.protocol import fastjson


def test_offsets_are_written_as_upstream_and_read_back(tmp_path):
    manager = ConsumerOffsetManager(str(tmp_path))
    for queue_id in (10, 2, 0):
        manager.commit("GroupB", "TopicA", queue_id, 100 + queue_id)
    manager.commit("GroupA", "TopicA", 1, 7)
    encoded = manager.encode()
    assert encoded == (b'{"offsetTable":{"TopicA@GroupA":{"1":7},'
                       b'"TopicA@GroupB":{"0":100,"10":110,"2":102}}}')
    assert encoded == fastjson.dumps({"offsetTable": manager.table})  # the same bytes as the walking path
    manager.persist()
    manager.flush()
    again = ConsumerOffsetManager(str(tmp_path))
    again.load()
    assert again.table == manager.table


def test_a_plain_dump_equals_the_general_one_for_tables_without_object_keys():
    table = {"offsetTable": {f"t{t}@g": {q: q * 3 for q in range(5)} for t in range(20)}, "x": [1, "a", None]}
    assert fastjson.dumps(table, plain=True) == fastjson.dumps(table)
    assert orjson.loads(fastjson.dumps(table, plain=True))["offsetTable"]["t3@g"]["4"] == 12
