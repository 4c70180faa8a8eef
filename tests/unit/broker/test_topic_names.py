"""Topic names as upstream 5's TopicValidator checks them on the send path and in updateTopic:
ordinary topics up to 127 characters, a group's retry and DLQ topics up to 255."""

from pocketmq.broker.topic_config import topic_problem


def test_topic_names_are_checked_as_upstream_5_does():
    assert topic_problem("Good_topic-1") is None
    assert topic_problem("t" * 127) is None and "max length 127" in topic_problem("t" * 128)
    assert topic_problem("%RETRY%" + "g" * 248) is None
    assert topic_problem("%DLQ%" + "g" * 250) is None
    assert "max length: 255" in topic_problem("%RETRY%" + "g" * 249)
    assert "max length: 255" in topic_problem("%DLQ%" + "g" * 251)
    assert "illegal characters" in topic_problem("bad topic")
    assert "blank" in topic_problem("")
