"""POP bodies: BATCH_ACK_MESSAGE's BitSet as java.util.BitSet.toByteArray in base64 (fastjson's
byte[]), and orderCountInfo as upstream's ExtraInfoUtil writes it."""

from pocketmq.protocol.pop import (
    BatchAck, build_order_count_info, decode_bitset, encode_bitset, order_count_of, parse_order_count_info,
)


def test_bitset_is_java_bitset_to_byte_array() -> None:
    # java.util.BitSet {0, 2, 9}.toByteArray() == {0x05, 0x02}; fastjson writes byte[] as base64
    assert encode_bitset([0, 2, 9]) == "BQI="
    assert decode_bitset("BQI=") == [0, 2, 9]
    entry = BatchAck.from_dict({"c": "G", "t": "T", "r": "0", "so": 10, "q": 1, "rq": 0, "pt": 5, "it": 6,
                                "b": "BQI="})
    assert entry.offsets == (10, 12, 19)
    assert BatchAck.from_dict(entry.to_dict()) == entry


def test_order_count_info_round_trip() -> None:
    text = build_order_count_info("T", 3, {7: 2}, 0)
    assert text == "0 qo3%7 2;0 3 0"
    counts = parse_order_count_info(text)
    assert order_count_of(counts, "T", 3, 7) == 2
    assert order_count_of(counts, "T", 3, 8) == 0
