"""Message lookups (upstream QueryMessageProcessor): by key through the index (QUERY_MESSAGE,
also by unique key) and by commit-log offset (VIEW_MESSAGE_BY_ID). Bodies are the raw stored
entries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketmq.protocol.client_headers import QueryMessageRequestHeader, ViewMessageRequestHeader
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import decode_header
from pocketmq.remoting.transport import Connection

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController


class QueryProcessor:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker

    def register_all(self, register) -> None:
        register(RequestCode.QUERY_MESSAGE, self.query_message)
        register(RequestCode.VIEW_MESSAGE_BY_ID, self.view_message_by_id)

    def query_message(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(QueryMessageRequestHeader, request.ext_fields)
        max_num = header.maxNum
        if (request.field("_UNIQUE_KEY_QUERY") or "").lower() == "true":
            max_num = self.broker.store_config.defaultQueryMaxNum
        max_num = max(1, min(max_num, 64 * 1024))
        result = self.broker.store.query_message(header.topic, header.key, max_num, header.beginTimestamp,
                                                 header.endTimestamp)
        fields = {"indexLastUpdateTimestamp": str(result.index_last_update_timestamp),
                  "indexLastUpdatePhyoffset": str(result.index_last_update_phyoffset)}
        if not result.buffers:
            return make_response(request, ResponseCode.QUERY_NOT_FOUND,
                                 "can not find message, maybe time range not correct", ext_fields=fields)
        return make_response(request, ext_fields=fields, body=list(result.buffers))

    def view_message_by_id(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(ViewMessageRequestHeader, request.ext_fields)
        raw = self.broker.store.look_message_by_offset(header.offset) if header.offset >= 0 else None
        if raw is None:
            return make_response(request, ResponseCode.SYSTEM_ERROR,
                                 f"can not find message by the offset, {header.offset}")
        return make_response(request, body=raw)
