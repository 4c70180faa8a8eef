"""Client settings exchanged over Telemetry (upstream GrpcClientSettingsManager).

A client opens its Telemetry stream by sending its Settings; the endpoint keeps them per client
id and answers with the server's view: for a producer the retry backoff, ``max_body_size`` and
whether message types are validated; for a consumer ``fifo`` (the group's
``consumeMessageOrderly``, as the proxy last read it), the receive batch size, the long-polling
timeout and the group's retry policy. The Java client adopts what it gets and the
Go client waits for this answer before it starts, so it must always come.
"""

from __future__ import annotations

import threading
from typing import Callable

from google.protobuf.duration_pb2 import Duration

from pocketmq.proxy.config import ProxyConfig
from pocketmq.proxy.stubs import pb


def duration_ms(ms: int) -> Duration:
    value = Duration()
    value.FromMilliseconds(ms)
    return value


class ClientSettings:
    """Settings by client id; safe to use from the loop and from threads."""

    def __init__(self, config: ProxyConfig, is_fifo: Callable[[str], bool] = lambda group: False,
                 max_attempts: Callable[[str], int] | None = None) -> None:
        self.config = config
        self.is_fifo = is_fifo
        self.max_attempts = max_attempts or (lambda group: config.retryMaxTimes + 1)
        self._by_client: dict[str, pb.Settings] = {}
        self._lock = threading.Lock()

    def update(self, client_id: str, settings: pb.Settings) -> pb.Settings:
        """Keep the client's settings; return the server's answer to them."""
        with self._lock:
            self._by_client[client_id] = settings
        return self.merged(settings)

    def get(self, client_id: str) -> pb.Settings | None:
        with self._lock:
            settings = self._by_client.get(client_id)
        return None if settings is None else self.merged(settings)

    def remove(self, client_id: str) -> pb.Settings | None:
        with self._lock:
            settings = self._by_client.pop(client_id, None)
        return None if settings is None else self.merged(settings)

    def clients_publishing(self, topic: str) -> list[str]:
        """Client ids of the producers that declared ``topic`` in their settings."""
        with self._lock:
            return [cid for cid, s in self._by_client.items()
                    if s.HasField("publishing") and any(t.name == topic for t in s.publishing.topics)]

    def merged(self, settings: pb.Settings) -> pb.Settings:
        result = pb.Settings()
        result.CopyFrom(settings)
        if result.HasField("publishing"):
            self._merge_producer(result)
        elif result.HasField("subscription"):
            self._merge_consumer(result)
        result.metric.on = False
        return result

    def _merge_producer(self, settings: pb.Settings) -> None:
        config = self.config
        policy = settings.backoff_policy
        policy.max_attempts = config.grpcClientProducerMaxAttempts
        policy.exponential_backoff.initial.CopyFrom(duration_ms(config.grpcClientProducerBackoffInitialMillis))
        policy.exponential_backoff.max.CopyFrom(duration_ms(config.grpcClientProducerBackoffMaxMillis))
        policy.exponential_backoff.multiplier = config.grpcClientProducerBackoffMultiplier
        settings.publishing.validate_message_type = config.enableTopicMessageTypeCheck
        settings.publishing.max_body_size = config.maxMessageSize

    def _merge_consumer(self, settings: pb.Settings) -> None:
        config = self.config
        subscription = settings.subscription
        subscription.receive_batch_size = config.grpcClientConsumerLongPollingBatchSize
        subscription.long_polling_timeout.CopyFrom(duration_ms(config.grpcClientConsumerMaxLongPollingTimeoutMillis))
        subscription.fifo = self.is_fifo(subscription.group.name)
        policy = settings.backoff_policy
        policy.max_attempts = self.max_attempts(subscription.group.name)
        # Upstream's default group retry policy: exponential, 1 s to 2 h, x2.
        policy.exponential_backoff.initial.CopyFrom(duration_ms(1000))
        policy.exponential_backoff.max.CopyFrom(duration_ms(7_200_000))
        policy.exponential_backoff.multiplier = 2
