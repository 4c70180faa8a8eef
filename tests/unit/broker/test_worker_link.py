"""The worker link's frames (broker.worker_link) and the worker's frame splitting
(broker.remoting_worker), without processes: what one side writes the other reads back."""

from __future__ import annotations

import pytest

from pocketmq.broker import worker_link as link
from pocketmq.broker.remoting_worker import ClientSide, FrameSplitter
from pocketmq.remoting.codec import FrameDecoder, ProtocolError, encode_frame, encode_frame_bytes
from pocketmq.remoting.codes import RequestCode, ResponseCode, SerializeType
from pocketmq.remoting.command import RemotingCommand, make_request, make_response


def frame_bytes(cmd: RemotingCommand) -> bytes:
    return b"".join(bytes(part) for part in encode_frame(cmd))


def sample_put(**changes: object) -> link.Put:
    put = link.Put(topic="Tópico", queue_id=-1, sys_flag=0, flag=7, born_timestamp=2**41 + 5, reconsume_times=0,
                   tags_code=-(2**40), properties="TAGS\x01TagA\x02CLUSTER\x01DefaultCluster",
                   body=b"\x00body\xff", serialize_type=SerializeType.ROCKETMQ)
    for key, value in changes.items():
        setattr(put, key, value)
    return put


def test_a_put_reads_back_whole_on_the_store_side():
    put = sample_put()
    decoder = FrameDecoder(worker_link=True)
    decoder.feed(frame_bytes(link.put_frame(1234, put)))
    cmd = decoder.next_command()
    assert cmd is not None
    assert (cmd.code, cmd.opaque, cmd.serialize_type) == (link.PUT, 1234, SerializeType.WORKER_LINK)
    assert link.read_put(cmd.body_bytes()) == put


def test_a_peer_cannot_send_link_frames_on_an_ordinary_connection():
    decoder = FrameDecoder()  # every connection but the broker's private link
    decoder.feed(frame_bytes(link.put_frame(1, sample_put())))
    with pytest.raises(ProtocolError, match="unknown serialize type 127"):
        decoder.next_command()


@pytest.mark.parametrize("cut", [0, 10, 38, 45])
def test_a_truncated_put_body_is_refused(cut):
    body = b"".join(bytes(part) for part in link.put_frame(1, sample_put()).body)
    with pytest.raises(ValueError):
        link.read_put(body[:cut])


def test_put_done_carries_the_placement_and_the_config_of_the_moment():
    request = RemotingCommand(link.PUT, opaque=99, serialize_type=SerializeType.WORKER_LINK)
    done = link.put_done(request, 2**33, 3, "7F00000100002A9F0000000000001234", False, "Région-1".encode())
    assert (done.code, done.opaque, done.is_response) == (link.PUT_DONE, 99, True)
    assert link.read_put_done(done.body) == (2**33, 3, "7F00000100002A9F0000000000001234", False, "Région-1")


def test_an_answer_written_by_the_store_process_reaches_the_client_byte_for_byte():
    client_request = make_request(RequestCode.SEND_MESSAGE_V2)
    client_request.opaque = 41
    refusal = make_response(client_request, ResponseCode.MESSAGE_ILLEGAL, "too big")
    wrapped = link.answer(RemotingCommand(link.PUT, opaque=41), refusal)
    assert wrapped.code == link.ANSWER
    decoder = FrameDecoder()
    decoder.feed(wrapped.body)
    seen = decoder.next_command()
    assert seen is not None
    assert (seen.code, seen.opaque, seen.remark, seen.is_response) == (ResponseCode.MESSAGE_ILLEGAL, 41, "too big", True)


def test_hello_round_trip_and_garbage():
    hello = link.Hello("t0k3n", link.ROLE_CLIENT, "127.0.0.1:50000", "127.0.0.1:10911", 42)
    frame = link.hello_frame(hello)
    assert frame.is_oneway and link.read_hello(frame) == hello
    for body in (b"{", b"[1]"):
        with pytest.raises(ValueError):
            link.read_hello(RemotingCommand(link.HELLO, body=body))


def test_splitter_returns_whole_frames_however_the_bytes_arrive():
    frames = [encode_frame_bytes(make_request(code, {"k": "v" * code}, body=b"x" * code)) for code in (10, 11, 310)]
    stream = b"".join(frames)
    for step in (1, 7, len(stream)):
        splitter = FrameSplitter(1024)
        got = []
        for i in range(0, len(stream), step):
            got += splitter.feed(stream[i:i + step])
        assert [frame for _, _, frame in got] == frames
        assert all(serialize_type == SerializeType.JSON for serialize_type, _, _ in got)


@pytest.mark.parametrize("garbage", [b"\x7f\xff\xff\xff", b"\x00\x00\x00\x02", b"\x00\x00\x00\x08\x00\x00\x00\x09{bad"])
def test_splitter_refuses_lengths_no_frame_can_have(garbage):
    with pytest.raises(ProtocolError):
        FrameSplitter(1024).feed(garbage)


def test_sends_are_recognised_in_both_header_encodings_before_decoding():
    def parts(cmd: RemotingCommand) -> tuple[int, int, bytes]:
        frame = frame_bytes(cmd)
        mark = int.from_bytes(frame[4:8], "big")
        return mark >> 24, mark & 0xFFFFFF, frame

    for serialize_type in (SerializeType.JSON, SerializeType.ROCKETMQ):
        for code, expected in ((RequestCode.SEND_MESSAGE_V2, True), (RequestCode.SEND_MESSAGE, True),
                               (RequestCode.PULL_MESSAGE, False), (RequestCode.SEND_BATCH_MESSAGE, False)):
            cmd = make_request(code, {"b": "T"})
            cmd.serialize_type = serialize_type
            assert ClientSide._may_be_send(*parts(cmd)) is expected, (serialize_type, code)
