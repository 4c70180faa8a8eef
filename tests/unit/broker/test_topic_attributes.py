"""Topic attribute changes as upstream's AttributeParser / AttributeUtil apply them."""

import pytest

from pocketmq.broker.topic_attributes import AttributeProblem, alter, message_type_of, parse_to_map


def test_parse_and_alter() -> None:
    assert parse_to_map("+message.type=FIFO") == {"+message.type": "FIFO"}
    assert parse_to_map(None) == {} and parse_to_map("") == {}
    created = alter(True, {}, parse_to_map("+message.type=FIFO"))
    assert created == {"message.type": "FIFO"} and message_type_of(created) == "FIFO"
    assert alter(False, created, parse_to_map("+message.type=DELAY")) == {"message.type": "DELAY"}
    assert alter(False, created, parse_to_map("-message.type")) == {}
    assert message_type_of({}) == "NORMAL"


@pytest.mark.parametrize("create,current,text,remark", [
    (True, {}, "message.type=FIFO", "add/alter attribute format is wrong: message.type"),
    (True, {}, "-message.type", "only add attribute is supported while creating topic. key: message.type"),
    (False, {}, "-message.type", "attempt to delete a nonexistent key: message.type"),
    (True, {}, "+queue.type=BatchCQ", "unsupported key: queue.type"),
    (True, {}, "+message.type=FIFO,+message.type=DELAY", "key duplication: +message.type"),
])
def test_refused_with_upstreams_remark(create: bool, current: dict, text: str, remark: str) -> None:
    with pytest.raises(AttributeProblem) as info:
        alter(create, current, parse_to_map(text))
    assert str(info.value) == remark
