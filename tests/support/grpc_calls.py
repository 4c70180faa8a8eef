"""Raw MessagingService calls for tests that talk gRPC without an official client."""

from __future__ import annotations

from typing import Sequence

from pocketmq.proxy.stubs import pb, pb_grpc


def receive(stub: pb_grpc.MessagingServiceStub, metadata: Sequence[tuple[str, str]], topic: str, group: str, *,
            batch: int = 16, invisible_s: int = 30, poll_s: int = 5, queue_id: int = -1,
            expression: pb.FilterExpression | None = None, broker: str = "broker-a",
            ) -> tuple[list[int], list[pb.Message]]:
    """One ReceiveMessage: the status codes and the messages of its response stream."""
    request = pb.ReceiveMessageRequest(
        group=pb.Resource(name=group), batch_size=batch,
        filter_expression=expression or pb.FilterExpression(type=pb.TAG, expression="*"),
        message_queue=pb.MessageQueue(topic=pb.Resource(name=topic), id=queue_id, broker=pb.Broker(name=broker)))
    request.invisible_duration.FromSeconds(invisible_s)
    request.long_polling_timeout.FromSeconds(poll_s)
    codes, messages = [], []
    for response in stub.ReceiveMessage(request, metadata=metadata, timeout=poll_s + 10):
        kind = response.WhichOneof("content")
        if kind == "status":
            codes.append(response.status.code)
        elif kind == "message":
            messages.append(response.message)
    return codes, messages
