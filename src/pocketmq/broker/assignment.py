"""Server-side queue assignment for RocketMQ 5 remoting consumers (upstream
QueryAssignmentProcessor and MessageRequestModeManager): SET_MESSAGE_REQUEST_MODE (401, what
``mqadmin setConsumeMode`` sends) records per topic and group whether its consumers PULL or POP,
persisted to ``config/messageRequestMode.json``; QUERY_ASSIGNMENT (400) answers a consumer that
asks the broker for its queues (a 5.x DefaultMQPushConsumer with ``clientRebalance=false``):
in POP mode every consumer gets every broker of the topic with queue id -1 (popShareQueueNum 0,
as upstream's allocate4Pop; otherwise its own queues and those of the popShareQueueNum clients
after it), in PULL mode the queues are shared out averagely (AVG) among the
group's clients. Retry topics are always PULL. GET_ALL_MESSAGE_REQUEST_MODE (402) is what a slave
copies from its master."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from pocketmq.persist import load_json_file, write_file_safely
from pocketmq.protocol import fastjson
from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.route import is_readable
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand, make_response
from pocketmq.remoting.transport import Connection

if TYPE_CHECKING:
    from pocketmq.broker.controller import BrokerController

log = logging.getLogger("pocketmq.broker")

PULL, POP = "PULL", "POP"
RETRY_PREFIX = "%RETRY%"
STRATEGY_AVG = "AVG"


@dataclass
class RequestMode:
    """Upstream SetMessageRequestModeRequestBody."""

    topic: str
    consumerGroup: str
    mode: str = PULL
    popShareQueueNum: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"consumerGroup": self.consumerGroup, "mode": self.mode, "popShareQueueNum": self.popShareQueueNum,
                "topic": self.topic}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RequestMode":
        mode = str(data.get("mode") or PULL).upper()
        if mode not in (PULL, POP):
            raise ValueError(f"unknown message request mode {mode}")
        return cls(str(data["topic"]), str(data["consumerGroup"]), mode, int(data.get("popShareQueueNum") or 0))


class MessageRequestModeManager:
    def __init__(self, store_root: str) -> None:
        self.path = os.path.join(store_root, "config", "messageRequestMode.json")
        self.table: dict[str, dict[str, RequestMode]] = {}

    def load(self) -> None:
        data = load_json_file(self.path, orjson.loads)
        self.table = self.decode_table(data or {})

    def encode(self, pretty: bool = False) -> bytes:
        """Upstream MessageRequestModeSerializeWrapper."""
        payload = {"messageRequestModeMap": {t: {g: m.to_dict() for g, m in groups.items()}
                                             for t, groups in self.table.items()}}
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2 if pretty else 0)

    def decode_table(self, data: dict[str, Any]) -> dict[str, dict[str, RequestMode]]:
        table: dict[str, dict[str, RequestMode]] = {}
        for topic, groups in (data.get("messageRequestModeMap") or {}).items():
            for group, body in (groups or {}).items():
                try:
                    table.setdefault(topic, {})[group] = RequestMode.from_dict(body)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("skipping a bad request mode of %s/%s: %s", topic, group, exc)
        return table

    def persist(self) -> None:
        write_file_safely(self.path, self.encode(pretty=True))

    def get(self, topic: str, group: str) -> RequestMode | None:
        return self.table.get(topic, {}).get(group)

    def set(self, mode: RequestMode) -> None:
        self.table.setdefault(mode.topic, {})[mode.consumerGroup] = mode


def allocate_averagely(group_client: str, queues: list[MessageQueue], clients: list[str]) -> list[MessageQueue]:
    """Upstream AllocateMessageQueueAveragely."""
    if group_client not in clients:
        return []
    index, count, n = clients.index(group_client), len(clients), len(queues)
    mod = n % count
    size = (n // count + (1 if index < mod else 0)) if n > count else 1
    start = index * size if mod == 0 or index < mod else index * size + mod
    return [queues[start + i] for i in range(min(size, n - start))]


class AssignmentService:
    def __init__(self, broker: "BrokerController") -> None:
        self.broker = broker
        self.modes = MessageRequestModeManager(broker.store_config.storePathRootDir)
        self.modes.load()

    def register(self, register: Any) -> None:
        register(RequestCode.QUERY_ASSIGNMENT, self.query_assignment)
        register(RequestCode.SET_MESSAGE_REQUEST_MODE, self.set_message_request_mode)
        register(RequestCode.GET_ALL_MESSAGE_REQUEST_MODE, self.get_all_message_request_mode)

    async def get_all_message_request_mode(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        """GET_ALL_MESSAGE_REQUEST_MODE (402): what a slave copies."""
        return make_response(request, body=self.modes.encode())

    def replace_all(self, data: dict[str, Any]) -> None:
        """A slave takes its master's modes (upstream SlaveSynchronize.syncMessageRequestMode)."""
        table = self.modes.decode_table(data)
        if table != self.modes.table:
            self.modes.table = table
            self.modes.persist()

    async def set_message_request_mode(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            mode = RequestMode.from_dict(fastjson.loads(request.body_bytes() or b"{}"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"bad SetMessageRequestModeRequestBody: {exc}")
        if mode.topic.startswith(RETRY_PREFIX):
            return make_response(request, ResponseCode.NO_PERMISSION, "retry topic is not allowed to set mode")
        if self.broker.topic_config_manager.get(mode.topic) is None:
            return make_response(request, ResponseCode.TOPIC_NOT_EXIST, f"topic[{mode.topic}] not exist")
        if self.broker.subscription_group_manager.find(mode.consumerGroup) is None:
            return make_response(request, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST,
                                 "subscription group does not exist")
        self.modes.set(mode)
        self.modes.persist()
        return make_response(request)

    async def query_assignment(self, request: RemotingCommand, channel: Connection) -> RemotingCommand:
        try:
            body = fastjson.loads(request.body_bytes() or b"{}")
            topic, group = str(body["topic"]), str(body["consumerGroup"])
            client_id = str(body.get("clientId") or "")
            model = str(body.get("messageModel") or "CLUSTERING")
            strategy = str(body.get("strategyName") or STRATEGY_AVG)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return make_response(request, ResponseCode.SYSTEM_ERROR, f"bad QueryAssignmentRequestBody: {exc}")
        mode = self.modes.get(topic, group) or RequestMode(topic, group, PULL)
        if topic.startswith(RETRY_PREFIX):
            mode = RequestMode(topic, group, PULL)
        queues = await self._assign(topic, group, client_id, model, strategy, mode)
        assignments = None if queues is None else [
            {"attachments": None, "messageQueue": mq.to_dict(), "mode": mode.mode} for mq in queues]
        return make_response(request, body=fastjson.dumps({"messageQueueAssignments": assignments}))

    async def _subscribe_queues(self, topic: str) -> list[MessageQueue] | None:
        """Every readable queue of the topic in its route (upstream TopicRouteInfoManager)."""
        route = await self.broker.namesrv_api.get_topic_route(topic)
        if route is None:
            return None
        queues = [MessageQueue(topic, q.brokerName, i) for q in route.queueDatas if is_readable(q.perm)
                  for i in range(q.readQueueNums)]
        return sorted(queues, key=lambda mq: (mq.topic, mq.brokerName, mq.queueId))

    async def _assign(self, topic: str, group: str, client_id: str, model: str, strategy: str,
                      mode: RequestMode) -> list[MessageQueue] | None:
        queues = await self._subscribe_queues(topic)
        if queues is None or model == "BROADCASTING":
            return queues
        info = self.broker.consumer_manager.find(group)
        if info is None:
            return None
        clients = sorted(info.client_ids())
        if mode.mode == POP and (mode.popShareQueueNum <= 0 or mode.popShareQueueNum >= len(clients) - 1):
            brokers = sorted({mq.brokerName for mq in queues})
            return [MessageQueue(topic, name, -1) for name in brokers]
        if strategy != STRATEGY_AVG:
            log.warning("QueryLoad: unsupported strategy [%s]", strategy)
            return None
        mine = allocate_averagely(client_id, queues, clients)
        if mode.mode == POP and client_id in clients and len(clients) <= len(queues):
            # upstream allocate4Pop: also pop the queues of the popShareQueueNum clients after it
            index = clients.index(client_id)
            for i in range(1, mode.popShareQueueNum + 1):
                mine += allocate_averagely(clients[(index + i) % len(clients)], queues, clients)
        return mine
