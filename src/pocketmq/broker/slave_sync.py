"""A slave copying its master's metadata (upstream SlaveSynchronize), every 10 s.

Topic configs (GET_ALL_TOPIC_CONFIG, 21) and subscription groups (GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
201) are replaced when the master's data version differs; consumer offsets
(GET_ALL_CONSUMER_OFFSET, 43) are merged over the slave's own (so offsets committed on the slave
while the master was away stay for groups the master does not know); delay offsets
(GET_ALL_DELAY_OFFSET, 45), POP's message request modes (GET_ALL_MESSAGE_REQUEST_MODE, 402) and
the timer checkpoint (GET_TIMER_CHECK_POINT, 60) are replaced. The master is the address the name
server returned at registration; a slave never syncs from itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson

from pocketmq.protocol.client_bodies import SubscriptionGroupConfig
from pocketmq.protocol import fastjson
from pocketmq.protocol.route import DataVersion, TopicConfigWrapper
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import make_request

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")

FIRST_DELAY_SECONDS = 3.0
PERIOD_SECONDS = 10.0
TIMEOUT_SECONDS = 3.0


class SlaveSynchronize:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker

    def _master(self) -> str | None:
        addr = self.broker.master_addr
        if not addr or addr == self.broker.config.broker_addr():
            return None
        return addr

    async def _fetch(self, addr: str, code: int) -> bytes | None:
        response = await self.broker.remoting_client.invoke(addr, make_request(code), TIMEOUT_SECONDS)
        if response.code != ResponseCode.SUCCESS:
            log.warning("slave sync: request %d to master %s answered %d %s", code, addr, response.code,
                        response.remark)
            return None
        return bytes(response.body or b"")

    async def sync_all(self) -> None:
        for step in (self.sync_topic_config, self.sync_consumer_offset, self.sync_delay_offset,
                     self.sync_timer_check_point, self.sync_subscription_group_config,
                     self.sync_message_request_mode):
            addr = self._master()
            if addr is None:
                return
            try:
                await step(addr)
            except Exception as exc:  # one failing step must not stop the others
                log.warning("slave sync %s from %s failed: %s", step.__name__, addr, exc)

    async def sync_topic_config(self, addr: str) -> None:
        body = await self._fetch(addr, RequestCode.GET_ALL_TOPIC_CONFIG)
        if body is None:
            return
        wrapper = TopicConfigWrapper.from_dict(orjson.loads(body))
        manager = self.broker.topic_config_manager
        version = manager.data_version
        if (wrapper.dataVersion.timestamp, wrapper.dataVersion.counter) == (version.timestamp, version.counter):
            return
        manager.table.clear()
        manager.table.update(wrapper.topicConfigTable)
        manager.data_version = DataVersion(wrapper.dataVersion.timestamp, wrapper.dataVersion.counter)
        manager.persist()
        log.info("slave sync: topic config from master %s, %d topics", addr, len(wrapper.topicConfigTable))

    async def sync_consumer_offset(self, addr: str) -> None:
        body = await self._fetch(addr, RequestCode.GET_ALL_CONSUMER_OFFSET)
        if body is None:
            return
        data = fastjson.loads(body) if body else {}
        table = {key: {int(q): int(o) for q, o in offsets.items()}
                 for key, offsets in (data.get("offsetTable") or {}).items()}
        manager = self.broker.consumer_offset_manager
        manager.replace_all({**manager.table, **table})
        manager.persist()

    async def sync_delay_offset(self, addr: str) -> None:
        body = await self._fetch(addr, RequestCode.GET_ALL_DELAY_OFFSET)
        if not body:
            return
        data = fastjson.loads(body)
        offsets = {int(level): int(offset) for level, offset in (data.get("offsetTable") or {}).items()}
        self.broker.schedule.replace_offsets(offsets)

    async def sync_timer_check_point(self, addr: str) -> None:
        body = await self._fetch(addr, RequestCode.GET_TIMER_CHECK_POINT)
        if body:
            self.broker.timer.replace_checkpoint(fastjson.loads(body))

    async def sync_subscription_group_config(self, addr: str) -> None:
        body = await self._fetch(addr, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
        if body is None:
            return
        data = orjson.loads(body)
        version = DataVersion.from_dict(data.get("dataVersion"))
        manager = self.broker.subscription_group_manager
        if (version.timestamp, version.counter) == (manager.data_version.timestamp, manager.data_version.counter):
            return
        table = {name: SubscriptionGroupConfig.from_dict(group)
                 for name, group in (data.get("subscriptionGroupTable") or {}).items()}
        manager.replace_all(table, version)
        log.info("slave sync: subscription groups from master %s, %d groups", addr, len(table))

    async def sync_message_request_mode(self, addr: str) -> None:
        body = await self._fetch(addr, RequestCode.GET_ALL_MESSAGE_REQUEST_MODE)
        if body:
            self.broker.pop_service.assignment.replace_all(fastjson.loads(body))
