"""Who is connected (upstream ProducerManager and ConsumerManager): producer and consumer
groups per channel, consumer subscriptions, idle-channel expiry, and the
NOTIFY_CONSUMER_IDS_CHANGED push when a group's membership changes."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pocketmq.protocol.client_bodies import SubscriptionData
from pocketmq.remoting.codes import RequestCode
from pocketmq.remoting.command import make_request
from pocketmq.remoting.transport import Connection, RemotingError

log = logging.getLogger("pocketmq.broker")

CHANNEL_EXPIRED_SECONDS = 120.0

# C++ sends these enums as ordinals; Java and Go send names (reference 3.5).
CONSUME_TYPES = ("CONSUME_ACTIVELY", "CONSUME_PASSIVELY")
MESSAGE_MODELS = ("BROADCASTING", "CLUSTERING")
CONSUME_FROM_WHERE = ("CONSUME_FROM_LAST_OFFSET", "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
                      "CONSUME_FROM_MIN_OFFSET", "CONSUME_FROM_MAX_OFFSET", "CONSUME_FROM_FIRST_OFFSET",
                      "CONSUME_FROM_TIMESTAMP")


def enum_name(value: Any, names: tuple[str, ...], default: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return names[value] if 0 <= value < len(names) else default
    if isinstance(value, str) and value:
        return value
    return default


@dataclass(slots=True)
class ClientChannelInfo:
    channel: Connection
    client_id: str
    language: str
    version: int
    last_update: float = field(default_factory=time.monotonic)


@dataclass
class ConsumerGroupInfo:
    group: str
    consume_type: str = "CONSUME_PASSIVELY"
    message_model: str = "CLUSTERING"
    consume_from_where: str = "CONSUME_FROM_LAST_OFFSET"
    subscriptions: dict[str, SubscriptionData] = field(default_factory=dict)
    channels: dict[Connection, ClientChannelInfo] = field(default_factory=dict)
    last_update: float = field(default_factory=time.monotonic)

    def client_ids(self) -> list[str]:
        return [info.client_id for info in self.channels.values()]


class ConsumerManager:
    def __init__(self, notify: Callable[[str, list[Connection]], None] | None = None) -> None:
        self.groups: dict[str, ConsumerGroupInfo] = {}
        self.notify = notify or notify_consumer_ids_changed

    def register(self, group: str, info: ClientChannelInfo, consume_type: str, message_model: str,
                 consume_from_where: str, subscriptions: list[SubscriptionData], notify_enabled: bool) -> bool:
        group_info = self.groups.get(group)
        if group_info is None:
            group_info = self.groups[group] = ConsumerGroupInfo(group)
        group_info.consume_type = consume_type
        group_info.message_model = message_model
        group_info.consume_from_where = consume_from_where
        group_info.last_update = time.monotonic()
        existing = group_info.channels.get(info.channel)
        channel_changed = existing is None or existing.client_id != info.client_id
        if existing is None:
            log.info("new consumer connected, group: %s %s %s channel: %s", group, consume_type, message_model,
                     info.client_id)
        group_info.channels[info.channel] = info
        if existing is not None:
            info.last_update = time.monotonic()
        subscriptions_changed = self._update_subscriptions(group_info, subscriptions)
        if channel_changed and notify_enabled:
            self.notify(group, list(group_info.channels))
        return channel_changed or subscriptions_changed

    @staticmethod
    def _update_subscriptions(group_info: ConsumerGroupInfo, subscriptions: list[SubscriptionData]) -> bool:
        changed = False
        wanted = {sub.topic: sub for sub in subscriptions}
        for topic, sub in wanted.items():
            old = group_info.subscriptions.get(topic)
            if old is None or old.subVersion < sub.subVersion or old.subString != sub.subString:
                group_info.subscriptions[topic] = sub
                changed = True
        for topic in list(group_info.subscriptions):
            if topic not in wanted:
                del group_info.subscriptions[topic]
                changed = True
        return changed

    def unregister(self, group: str, channel: Connection, notify_enabled: bool) -> None:
        group_info = self.groups.get(group)
        if group_info is None or group_info.channels.pop(channel, None) is None:
            return
        log.info("unregister consumer ok, group: %s channel: %s", group, channel.remote_address)
        if not group_info.channels:
            del self.groups[group]
        elif notify_enabled:
            self.notify(group, list(group_info.channels))

    def on_channel_closed(self, channel: Connection, notify_enabled: Callable[[str], bool]) -> None:
        for group, group_info in list(self.groups.items()):
            if channel in group_info.channels:
                del group_info.channels[channel]
                log.info("NETTY EVENT: remove not active channel from ConsumerGroupInfo, group: %s %s", group,
                         channel.remote_address)
                if not group_info.channels:
                    del self.groups[group]
                elif notify_enabled(group):
                    self.notify(group, list(group_info.channels))

    def scan_idle(self, now: float | None = None) -> list[Connection]:
        now = time.monotonic() if now is None else now
        idle = []
        for group_info in self.groups.values():
            for channel, info in list(group_info.channels.items()):
                if now - info.last_update > CHANNEL_EXPIRED_SECONDS:
                    log.warning("SCAN: remove expired channel from ConsumerManager, %s", info.client_id)
                    idle.append(channel)
        return idle

    def find(self, group: str) -> ConsumerGroupInfo | None:
        return self.groups.get(group)

    def find_subscription(self, group: str, topic: str) -> SubscriptionData | None:
        group_info = self.groups.get(group)
        return group_info.subscriptions.get(topic) if group_info else None

    def groups_of_topic(self, topic: str) -> set[str]:
        return {group for group, info in self.groups.items() if topic in info.subscriptions}


def notify_consumer_ids_changed(group: str, channels: list[Connection]) -> None:
    for channel in channels:
        try:
            channel.invoke_oneway(make_request(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, {"consumerGroup": group},
                                               language="JAVA"))
        except RemotingError as exc:
            log.warning("notifyConsumerIdsChanged to %s failed: %s", channel.remote_address, exc)


class ProducerManager:
    def __init__(self) -> None:
        self.groups: dict[str, dict[Connection, ClientChannelInfo]] = {}

    def register(self, group: str, info: ClientChannelInfo) -> None:
        channels = self.groups.setdefault(group, {})
        if info.channel not in channels:
            log.info("new producer connected, group: %s channel: %s", group, info.client_id)
        channels[info.channel] = info

    def unregister(self, group: str, channel: Connection) -> None:
        channels = self.groups.get(group)
        if channels is not None:
            channels.pop(channel, None)
            if not channels:
                del self.groups[group]

    def on_channel_closed(self, channel: Connection) -> None:
        for group in list(self.groups):
            self.unregister(group, channel)

    def scan_idle(self, now: float | None = None) -> list[Connection]:
        now = time.monotonic() if now is None else now
        return [channel for channels in self.groups.values() for channel, info in channels.items()
                if now - info.last_update > CHANNEL_EXPIRED_SECONDS]

    def any_channel(self, group: str) -> Connection | None:
        """A live producer channel of ``group`` (transaction back-checks go to one of them)."""
        for channel in self.groups.get(group, {}):
            if channel.is_open:
                return channel
        return None
