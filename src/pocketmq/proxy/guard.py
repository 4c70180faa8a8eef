"""What every gRPC call passes before its handler (upstream's AuthenticationInterceptor and
ContextInitPipeline): the client's namespace and, when ACL is on, its ``authorization`` header.

- Namespaces (``x-mq-namespace``): when a call carries one, every Resource of the request is
  renamed ``ns%name`` for the brokers and every Resource of the answer gets its namespace back
  (``namespace``). A call without one is handed to its handler untouched.
- ACL (``enableACL`` in mqproxy, ``aclEnable`` of the broker with ``--enable-proxy``): the
  header is verified against plain_acl.yml (``security.plain_acl``: white lists, account,
  HmacSHA1 signature of ``x-mq-date-time``, then the permission each request needs, as upstream
  5.1's PlainAccessResource.parse for gRPC). A refused call gets its normal answer with status
  UNAUTHORIZED and the ACL's reason, as Apache RocketMQ 5.3's ResponseBuilder maps both
  authentication and authorization failures; a refused Telemetry command is answered so and
  dropped, the stream goes on. Off: the header is ignored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Awaitable, Callable

import grpc

from pocketmq.proxy.front import PeerTable
from pocketmq.proxy.namespace import unwrap_resources, wrap, wrap_resources
from pocketmq.proxy.service import remote_host_of
from pocketmq.proxy.stubs import pb
from pocketmq.security import permission
from pocketmq.security.access import java_hashmap_order, retry_topic
from pocketmq.security.plain_acl import AclDenied, PlainAcl
from pocketmq.security.signing import (
    GRPC_AUTHORIZATION, GRPC_DATE_TIME, BadAuthorization, grpc_signature_matches, parse_grpc_authorization,
)

log = logging.getLogger("pocketmq.proxy")

NAMESPACE_KEY = "x-mq-namespace"
SERVICE = "apache.rocketmq.v2.MessagingService"
_METHODS = pb.DESCRIPTOR.services_by_name["MessagingService"].methods_by_name


def response_class(method: str) -> Any:
    return getattr(pb, _METHODS[method].output_type.name)


def metadata_value(metadata: Any, key: str) -> str:
    for item_key, value in metadata or ():
        if item_key == key:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return ""


def _name(resource: pb.Resource, namespace: str) -> str:
    return wrap(resource.resource_namespace or namespace, resource.name)


def needed_resources(request: Any, namespace: str) -> dict[str, int]:
    """Resource -> permission a gRPC request needs (upstream 5.1 PlainAccessResource.parse):
    topics by name, groups as their retry topic, both with the client's namespace."""
    wanted: dict[str, int] = {}

    def topic(resource: pb.Resource, perm: int) -> None:
        wanted[_name(resource, namespace)] = perm

    def group(resource: pb.Resource, perm: int) -> None:
        wanted[str(retry_topic(_name(resource, namespace)))] = perm

    kind = type(request).__name__
    if kind == "HeartbeatRequest":
        if request.client_type in (pb.PUSH_CONSUMER, pb.SIMPLE_CONSUMER):
            if not request.HasField("group"):
                raise AclDenied("Consumer heartbeat doesn't have group", "")
            group(request.group, permission.SUB)
    elif kind == "SendMessageRequest":
        if not request.messages:
            raise AclDenied("SendMessageRequest, messageCount is zero", "")
        first = request.messages[0].topic
        if any(m.topic != first for m in request.messages):
            raise AclDenied("SendMessageRequest, messages' topic is not consistent", "")
        topic(first, permission.PUB)
    elif kind == "ReceiveMessageRequest":
        group(request.group, permission.SUB)
        topic(request.message_queue.topic, permission.SUB)
    elif kind in ("AckMessageRequest", "ForwardMessageToDeadLetterQueueRequest", "QueryAssignmentRequest",
                  "ChangeInvisibleDurationRequest"):
        group(request.group, permission.SUB)
        topic(request.topic, permission.SUB)
    elif kind == "EndTransactionRequest":
        topic(request.topic, permission.PUB)
    elif kind == "TelemetryCommand":
        if request.WhichOneof("command") == "settings":
            settings = request.settings
            for resource in settings.publishing.topics:
                topic(resource, permission.PUB)
            if settings.HasField("subscription"):
                group(settings.subscription.group, permission.SUB)
                for entry in settings.subscription.subscriptions:
                    topic(entry.topic, permission.SUB)
            if not settings.HasField("publishing") and not settings.HasField("subscription"):
                raise AclDenied("settings command doesn't have publishing or subscription", "")
    elif kind == "NotifyClientTerminationRequest":
        if request.group.name.strip():
            group(request.group, permission.SUB)
    elif kind == "QueryRouteRequest":
        topic(request.topic, permission.ANY)
    if len(wanted) <= 1:
        return wanted
    return {key: wanted[key] for key in java_hashmap_order(list(wanted))}


class RequestGuard(grpc.aio.ServerInterceptor):
    """The interceptor; ``acl`` None: ACL off. ``peers`` (set by the endpoint) names the real
    client behind a connection relayed by the TLS front."""

    def __init__(self, acl: PlainAcl | None = None) -> None:
        self.acl = acl
        self.peers: PeerTable | None = None

    # ------------------------------------------------------------------ checks
    def remote_address(self, context: grpc.aio.ServicerContext) -> str:
        """The TCP peer (through the front: the connection's, never what a PROXY header claims)."""
        connected = self.peers.connected(context.peer() or "") if self.peers is not None else None
        return connected or remote_host_of(context)

    def refusal(self, request: Any, metadata: Any, namespace: str, context: grpc.aio.ServicerContext) -> pb.Status | None:
        """None when the request may pass; else the status to answer it with."""
        if self.acl is None:
            return None
        try:
            needed = needed_resources(request, namespace)
            authorization = metadata_value(metadata, GRPC_AUTHORIZATION)
            access_key, signature = parse_grpc_authorization(authorization) if authorization else (None, "")
            date_time = metadata_value(metadata, GRPC_DATE_TIME)
            self.acl.check_access(0, access_key or None, self.remote_address(context),
                                  lambda secret: bool(signature) and grpc_signature_matches(signature, secret, date_time),
                                  needed)
        except (AclDenied, BadAuthorization) as exc:
            message = exc.message if isinstance(exc, AclDenied) else str(exc)
            log.info("ACL refused %s from %s: %s", type(request).__name__, self.remote_address(context), message)
            return pb.Status(code=pb.UNAUTHORIZED, message=message)
        return None

    # ------------------------------------------------------------------ interception
    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        service, _, method = (details.method or "").lstrip("/").rpartition("/")
        if handler is None or service != SERVICE or method not in _METHODS:
            return handler
        metadata = details.invocation_metadata
        namespace = metadata_value(metadata, NAMESPACE_KEY)
        if self.acl is None and not namespace:
            return handler  # nothing to do: the call goes straight to its handler
        answer = response_class(method)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, answer, metadata, namespace),
                request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._server_stream(handler.unary_stream, answer, metadata, namespace),
                request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self._bidi_stream(handler.stream_stream, answer, metadata, namespace),
                request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
        return handler

    def _unary(self, inner: Any, answer: Any, metadata: Any, namespace: str) -> Any:
        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            refused = self.refusal(request, metadata, namespace, context)
            if refused is not None:
                return answer(status=refused)
            if namespace:
                wrap_resources(request, namespace)
            response = await inner(request, context)
            if namespace and response is not None:
                unwrap_resources(response)
            return response
        return behavior

    def _server_stream(self, inner: Any, answer: Any, metadata: Any, namespace: str) -> Any:
        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            refused = self.refusal(request, metadata, namespace, context)
            if refused is not None:
                yield answer(status=refused)
                return
            if namespace:
                wrap_resources(request, namespace)
            async for response in inner(request, context):
                if namespace:
                    unwrap_resources(response)
                yield response
        return behavior

    def _bidi_stream(self, inner: Any, answer: Any, metadata: Any, namespace: str) -> Any:
        async def behavior(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            refusals: asyncio.Queue[Any] = asyncio.Queue()

            async def admitted() -> AsyncIterator[Any]:
                async for request in requests:
                    refused = self.refusal(request, metadata, namespace, context)
                    if refused is not None:
                        refusals.put_nowait(answer(status=refused))
                        continue
                    if namespace:
                        wrap_resources(request, namespace)
                    yield request

            responses = inner(admitted(), context).__aiter__()
            next_response = asyncio.ensure_future(responses.__anext__())
            next_refusal = asyncio.ensure_future(refusals.get())
            try:
                while True:
                    done, _ = await asyncio.wait({next_response, next_refusal}, return_when=asyncio.FIRST_COMPLETED)
                    if next_refusal in done:
                        yield next_refusal.result()
                        next_refusal = asyncio.ensure_future(refusals.get())
                    if next_response in done:
                        try:
                            response = next_response.result()
                        except StopAsyncIteration:
                            break
                        if namespace:
                            unwrap_resources(response)
                        yield response
                        next_response = asyncio.ensure_future(responses.__anext__())
            finally:
                next_refusal.cancel()
                next_response.cancel()
        return behavior
