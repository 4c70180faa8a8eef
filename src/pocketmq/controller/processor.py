"""The controller's request handlers (upstream ControllerRequestProcessor): one function per
request code, decoding headers and bodies, asking the ControllerManager, and answering with
upstream's codes, remarks, headers and bodies. A body that does not parse is answered with
CONTROLLER_INVALID_REQUEST; a store that cannot be reached with SYSTEM_ERROR."""

from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable

from pocketmq.config import ConfigError, apply_properties, config_items, format_value, parse_properties
from pocketmq.controller import replicas as r
from pocketmq.controller.manager import ControllerManager
from pocketmq.controller.store import StoreCorrupt, StoreUnavailable
from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerRequestCode as Req, ControllerResponseCode as Code
from pocketmq.remoting.codes import ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.header import decode_header, encode_header
from pocketmq.remoting.transport import Connection, Dispatcher

log = logging.getLogger("pocketmq.controller")

Handler = Callable[[RemotingCommand, Connection], Awaitable[RemotingCommand]]


def _answer(request: RemotingCommand, outcome: r.Outcome) -> RemotingCommand:
    fields = encode_header(outcome.header) if outcome.header is not None else None
    return make_response(request, outcome.code, outcome.remark, ext_fields=fields, body=outcome.body)


def _store_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            return await handler(request, channel)
        except (StoreUnavailable, StoreCorrupt) as exc:
            log.error("request %d refused: %s", request.code, exc)
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"controller store unavailable: {exc}")
        except OverflowError as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(exc))
    return guarded


class ControllerProcessor:
    def __init__(self, manager: ControllerManager) -> None:
        self.manager = manager

    def register_all(self, dispatcher: Dispatcher) -> None:
        table: dict[int, Handler] = {
            Req.CONTROLLER_ALTER_SYNC_STATE_SET: self.alter_sync_state_set,
            Req.CONTROLLER_ELECT_MASTER: self.elect_master,
            Req.CONTROLLER_REGISTER_BROKER: self.register_broker,
            Req.CONTROLLER_GET_REPLICA_INFO: self.get_replica_info,
            Req.CONTROLLER_GET_METADATA_INFO: self.get_metadata_info,
            Req.CONTROLLER_GET_SYNC_STATE_DATA: self.get_sync_state_data,
            Req.BROKER_HEARTBEAT: self.broker_heartbeat,
            Req.UPDATE_CONTROLLER_CONFIG: self.update_controller_config,
            Req.GET_CONTROLLER_CONFIG: self.get_controller_config,
            Req.CLEAN_BROKER_DATA: self.clean_broker_data,
            Req.CONTROLLER_GET_NEXT_BROKER_ID: self.get_next_broker_id,
            Req.CONTROLLER_APPLY_BROKER_ID: self.apply_broker_id,
        }
        for code, handler in table.items():
            dispatcher.register(code, _store_errors(handler))

    async def alter_sync_state_set(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(p.AlterSyncStateSetRequestHeader, request.ext_fields)
        try:
            proposed = p.SyncStateSet.decode(request.body_bytes())
        except ValueError as exc:
            return make_response(request, Code.CONTROLLER_INVALID_REQUEST, f"bad SyncStateSet body: {exc}")
        return _answer(request, await self.manager.alter_sync_state_set(header, proposed))

    async def elect_master(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(p.ElectMasterRequestHeader, request.ext_fields)
        return _answer(request, await self.manager.elect_master(header))

    async def register_broker(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(p.RegisterBrokerToControllerRequestHeader, request.ext_fields)
        return _answer(request, await self.manager.register_broker(header))

    async def get_replica_info(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(p.GetReplicaInfoRequestHeader, request.ext_fields)
        return _answer(request, await self.manager.get_replica_info(header))

    async def get_metadata_info(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        return make_response(request, ext_fields=encode_header(self.manager.metadata()))

    async def get_sync_state_data(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            names = p.decode_broker_names(request.body_bytes())
        except ValueError as exc:
            return make_response(request, Code.CONTROLLER_INVALID_REQUEST, str(exc))
        if not names:
            return make_response(request)
        info = await self.manager.get_sync_state_data(names)
        return make_response(request, body=info.encode())

    async def broker_heartbeat(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(p.BrokerHeartbeatRequestHeader, request.ext_fields)
        if header.brokerId is None:
            return make_response(request, Code.CONTROLLER_INVALID_REQUEST, "Heart beat with empty brokerId")
        self.manager.on_heartbeat(header, channel)
        return make_response(request, ResponseCode.SUCCESS, "Heart beat success")

    async def clean_broker_data(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(p.CleanControllerBrokerDataRequestHeader, request.ext_fields)
        return _answer(request, await self.manager.clean_broker_data(header))

    async def get_next_broker_id(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(p.GetNextBrokerIdRequestHeader, request.ext_fields)
        return _answer(request, await self.manager.get_next_broker_id(header))

    async def apply_broker_id(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        header = decode_header(p.ApplyBrokerIdRequestHeader, request.ext_fields)
        return _answer(request, await self.manager.apply_broker_id(header))

    async def get_controller_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        items = config_items(self.manager.config)
        text = "".join(f"{key}={format_value(value)}\n" for key, value in items.items())
        return make_response(request, body=text.encode())

    async def update_controller_config(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        body = request.body_bytes()
        if not body:
            return make_response(request)
        values: dict[str, Any] = parse_properties(body.decode("utf-8", "replace"))
        black = {"configBlackList", "configStorePath", "rocketmqHome"}
        black.update(k for k in self.manager.config.configBlackList.split(";") if k)
        if any(key in black for key in values):
            return make_response(request, ResponseCode.NO_PERMISSION, "Can not update config in black list.")
        try:
            apply_properties(self.manager.config, values)
        except ConfigError as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, str(exc))
        return make_response(request)
