"""The broker's calls to its name servers (upstream BrokerOuterAPI): register with every name
server at once, unregister on clean stop. A name server that does not answer is logged and
skipped; the others still get the registration.

A registration of only the changed topics (upstream registerIncrementBrokerData) is sent as such
only to a name server that took the whole table over the same connection: one that restarted
(its connection closed) or was never reached gets the whole table instead, or it would hold the
new data version with only the new topics and skip the periodic registration of the rest."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from pocketmq.config import split_namesrv_addr
from pocketmq.protocol.route import RegisterBrokerBody, TopicConfigWrapper, TopicRouteData
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import make_request
from pocketmq.remoting.transport import Connection, RemotingClient, RemotingError

log = logging.getLogger("pocketmq.broker")


class _Registration:
    """One REGISTER_BROKER body and its fields."""

    def __init__(self, wrapper: TopicConfigWrapper, fields: dict[str, str], compressed: bool,
                 whole: bool = True) -> None:
        self.body = RegisterBrokerBody(wrapper).encode(compressed)
        self.fields = dict(fields, bodyCrc32=str(zlib.crc32(self.body) & 0x7FFFFFFF))
        self.topics = len(wrapper.topicConfigTable)
        self.whole = whole


@dataclass(slots=True)
class RegisterResult:
    master_addr: str | None = None
    ha_server_addr: str | None = None


class NamesrvApi:
    def __init__(self, client: RemotingClient, namesrv_addr: str) -> None:
        self.client = client
        self.addresses = split_namesrv_addr(namesrv_addr)
        self._whole_table_on: dict[str, Connection] = {}  # the connection each last took the whole table on

    async def register_broker_all(self, cluster: str, broker_addr: str, broker_name: str, broker_id: int,
                                  ha_server_addr: str, wrapper: TopicConfigWrapper, timeout_ms: int,
                                  compressed: bool = False, oneway: bool = False,
                                  whole_table: Callable[[], TopicConfigWrapper] | None = None) -> RegisterResult | None:
        """``wrapper`` is the whole topic table, or with ``whole_table`` given only the changed
        topics, and ``whole_table`` makes the whole one for a name server that needs it."""
        fields = {"brokerName": broker_name, "brokerAddr": broker_addr, "clusterName": cluster,
                  "haServerAddr": ha_server_addr, "brokerId": str(broker_id),
                  "compressed": "true" if compressed else "false"}
        given = _Registration(wrapper, fields, compressed, whole=whole_table is None)
        need_whole: set[str] = set() if whole_table is None else \
            {addr for addr in self.addresses if not self._took_whole_table(addr)}
        whole = _Registration(whole_table(), fields, compressed) if whole_table and need_whole else given
        results = await asyncio.gather(*(
            self._register_one(addr, whole if addr in need_whole else given, timeout_ms / 1000, oneway)
            for addr in self.addresses))
        found = [r for r in results if r is not None]
        for result in found:
            if result.master_addr:
                return result
        return found[0] if found else None

    def _took_whole_table(self, addr: str) -> bool:
        connection = self.client.open_connection(addr)
        return connection is not None and self._whole_table_on.get(addr) is connection

    async def _register_one(self, addr: str, registration: "_Registration", timeout: float,
                            oneway: bool) -> RegisterResult | None:
        request = make_request(RequestCode.REGISTER_BROKER, dict(registration.fields), registration.body,
                               language="JAVA")
        try:
            if oneway:
                await self.client.invoke_oneway(addr, request)
                return None
            response = await self.client.invoke(addr, request, timeout)
        except RemotingError as exc:
            log.warning("registerBroker to name server %s failed: %s", addr, exc)
            return None
        if response.code != ResponseCode.SUCCESS:
            log.warning("registerBroker to name server %s refused: %s %s", addr, response.code, response.remark)
            return None
        log.info("register broker[%s]to name server %s OK, %d topic(s)", registration.fields["brokerId"], addr,
                 registration.topics)
        connection = self.client.open_connection(addr)
        if registration.whole and connection is not None:
            self._whole_table_on[addr] = connection
        fields_out = response.ext_fields or {}
        return RegisterResult(fields_out.get("masterAddr") or None, fields_out.get("haServerAddr") or None)

    async def unregister_broker_all(self, cluster: str, broker_addr: str, broker_name: str, broker_id: int) -> None:
        fields = {"brokerName": broker_name, "brokerAddr": broker_addr, "clusterName": cluster,
                  "brokerId": str(broker_id)}

        async def one(addr: str) -> None:
            try:
                await self.client.invoke(addr, make_request(RequestCode.UNREGISTER_BROKER, dict(fields),
                                                            language="JAVA"), 3.0)
                log.info("unregisterBroker OK, NamesrvAddr: %s", addr)
            except RemotingError as exc:
                log.warning("unregisterBroker Exception, %s: %s", addr, exc)

        await asyncio.gather(*(one(addr) for addr in self.addresses))

    async def get_topic_route(self, topic: str, timeout: float = 3.0) -> TopicRouteData | None:
        """The topic's route from the first name server that has it (upstream TopicRouteInfoManager
        asks for QUERY_ASSIGNMENT); None when none has."""
        for addr in self.addresses:
            request = make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": topic}, language="JAVA")
            try:
                response = await self.client.invoke(addr, request, timeout)
            except RemotingError as exc:
                log.warning("getTopicRouteInfo from name server %s failed: %s", addr, exc)
                continue
            if response.code == ResponseCode.SUCCESS and response.body:
                return TopicRouteData.decode(response.body_bytes())
        return None
