"""The store process's side of the worker link (broker.worker_link): hellos and prepared sends.

A link connection is trusted once its HELLO carries the token the broker gave its workers; it
then stands for the worker's client (its address is the client's). A PUT is placed exactly as
the send processor's ordinary path places a message; whatever that path would check first and
this one cannot (a topic to create, a queue out of range, a broker not taking writes, ACL) is
answered FALLBACK, and the worker sends the client's original request instead.
"""

from __future__ import annotations

import hmac
import logging
import random
from typing import TYPE_CHECKING, Callable

from pocketmq.protocol import message as m
from pocketmq.protocol.route import is_writeable
from pocketmq.remoting.codes import RequestCode, ResponseCode, SerializeType
from pocketmq.remoting.command import RemotingCommand, make_error
from pocketmq.remoting.transport import Connection
from pocketmq.broker import worker_link as link
from pocketmq.broker.send_processor import parse_host
from pocketmq.store.results import PutMessageStatus

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")

_TRUSTED = "worker_link_trusted"


class LinkProcessor:
    def __init__(self, broker: "BrokerController", token: str,
                 on_worker: Callable[[int, Connection], None]) -> None:
        self.broker = broker
        self.token = token
        self.on_worker = on_worker  # a worker's control connection said hello: (pid, connection)

    def register(self, register: Callable[[int, object], None]) -> None:
        register(link.HELLO, self.hello)
        register(link.PUT, self.put)

    def hello(self, request: RemotingCommand, channel: Connection) -> RemotingCommand | None:
        if request.serialize_type != SerializeType.WORKER_LINK:
            return _not_supported(request)
        try:
            hello = link.read_hello(request)
        except ValueError as exc:
            log.warning("closing worker link: %s", exc)
            channel.abort()
            return None
        if not hmac.compare_digest(hello.token, self.token):
            log.warning("closing worker link: wrong token")
            channel.abort()
            return None
        channel.attributes[_TRUSTED] = True
        channel.remote_address = hello.remote_address
        channel.local_address = hello.local_address
        if hello.role == link.ROLE_CONTROL:
            self.on_worker(hello.pid, channel)
        return None

    async def put(self, request: RemotingCommand, channel: Connection) -> RemotingCommand | None:
        if request.serialize_type != SerializeType.WORKER_LINK:
            return _not_supported(request)
        if not channel.attributes.get(_TRUSTED):
            channel.abort()
            return None
        try:
            put = link.read_put(request.body_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("closing worker link from %s: %s", channel.remote_address, exc)
            channel.abort()
            return None
        broker = self.broker
        config = broker.config
        topic_config = broker.topic_config_manager.get(put.topic)
        if (topic_config is None or broker.acl is not None or not is_writeable(config.brokerPermission)
                or (config.startAcceptSendRequestTimeStamp
                    and config.startAcceptSendRequestTimeStamp > broker.store.clock.now_ms())
                or put.queue_id >= max(topic_config.readQueueNums, topic_config.writeQueueNums)):
            return link.fallback(request)
        queue_id = put.queue_id
        if queue_id < 0:
            queue_id = random.randrange(max(1, topic_config.writeQueueNums))
        msg = m.MessageExtBrokerInner(
            topic=put.topic, body=put.body, queue_id=queue_id, flag=put.flag, properties_string=put.properties,
            sys_flag=put.sys_flag, born_timestamp=put.born_timestamp, born_host=parse_host(channel.remote_address),
            reconsume_times=put.reconsume_times)
        msg.tags_code = put.tags_code
        result = await broker.store.put_message(msg)
        broker.send_processor.count_put(put.topic, put.properties, result)
        append = result.append_result
        if result.status is PutMessageStatus.PUT_OK and append is not None and append.is_ok():
            region = config.regionId.encode("utf-8")[:255]
            return link.put_done(request, append.logics_offset, queue_id, append.msg_id, config.traceOn, region)
        # Anything else is answered here, in the client's own encoding, as the send processor would.
        stand_in = RemotingCommand(RequestCode.SEND_MESSAGE_V2, opaque=request.opaque,
                                   serialize_type=SerializeType(put.serialize_type))
        return link.answer(request, broker.send_processor.put_response(stand_in, result, queue_id))


def _not_supported(request: RemotingCommand) -> RemotingCommand:
    return make_error(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, f" request type {request.code} not supported")
