"""The broker's calls to its name servers (upstream BrokerOuterAPI): register with every name
server at once, unregister on clean stop. A name server that does not answer is logged and
skipped; the others still get the registration."""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass

from pocketmq.config import split_namesrv_addr
from pocketmq.protocol.route import RegisterBrokerBody, TopicConfigWrapper, TopicRouteData
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import make_request
from pocketmq.remoting.transport import RemotingClient, RemotingError

log = logging.getLogger("pocketmq.broker")


@dataclass(slots=True)
class RegisterResult:
    master_addr: str | None = None
    ha_server_addr: str | None = None


class NamesrvApi:
    def __init__(self, client: RemotingClient, namesrv_addr: str) -> None:
        self.client = client
        self.addresses = split_namesrv_addr(namesrv_addr)

    async def register_broker_all(self, cluster: str, broker_addr: str, broker_name: str, broker_id: int,
                                  ha_server_addr: str, wrapper: TopicConfigWrapper, timeout_ms: int,
                                  compressed: bool = False, oneway: bool = False) -> RegisterResult | None:
        body = RegisterBrokerBody(wrapper).encode(compressed)
        fields = {"brokerName": broker_name, "brokerAddr": broker_addr, "clusterName": cluster,
                  "haServerAddr": ha_server_addr, "brokerId": str(broker_id),
                  "compressed": "true" if compressed else "false", "bodyCrc32": str(zlib.crc32(body) & 0x7FFFFFFF)}
        topics = len(wrapper.topicConfigTable)
        results = await asyncio.gather(*(self._register_one(addr, fields, body, timeout_ms / 1000, oneway, topics)
                                         for addr in self.addresses))
        found = [r for r in results if r is not None]
        for result in found:
            if result.master_addr:
                return result
        return found[0] if found else None

    async def _register_one(self, addr: str, fields: dict[str, str], body: bytes, timeout: float,
                            oneway: bool, topics: int) -> RegisterResult | None:
        request = make_request(RequestCode.REGISTER_BROKER, dict(fields), body, language="JAVA")
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
        log.info("register broker[%s]to name server %s OK, %d topic(s)", fields["brokerId"], addr, topics)
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
