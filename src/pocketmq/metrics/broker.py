"""The broker's families, built at scrape time from what the broker already keeps (RocketMQ 5's
BrokerMetricsManager, DefaultStoreMetricsManager and RemotingMetricsManager names and labels):
messages and throughput in/out, message size, consumer lag/inflight/queueing, connections,
storage size and flush/dispatch lag, processor watermarks, slave lag and rpc latency. Every
series carries ``cluster``, ``node_type`` ("broker") and ``node_id`` (the broker name).

The broker is read duck-typed (this room sits above ``broker``); see the attribute list in
``BrokerCollector.__init__``."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from pocketmq.metrics.buckets import MESSAGE_SIZE_BUCKETS, cumulative
from pocketmq.metrics.rpc import RpcLatency
from pocketmq.protocol.message import decode_message
from pocketmq.protocol.version import version_desc

# Upstream's processor thread pools; PocketMQ runs every handler on one event loop and queues none.
PROCESSORS = ("send", "async_put", "pull", "ack", "query_message", "client_manager", "heartbeat", "lite_pull",
              "transaction", "consumer_manager", "admin", "reply")
CONSUME_MODES = {"CONSUME_ACTIVELY": "pull", "CONSUME_PASSIVELY": "push", "CONSUME_POP": "pop"}
SYSTEM_GROUP_PREFIX = "CID_RMQ_SYS_"
SYSTEM_GROUPS = {"TOOLS_CONSUMER", "FILTERSRV_CONSUMER", "__MONITOR_CONSUMER", "CLIENT_INNER_PRODUCER",
                 "SELF_TEST_P_GROUP", "SELF_TEST_C_GROUP", "CID_ONS-HTTP-PROXY", "CID_ONSAPI_PERMISSION",
                 "CID_ONSAPI_OWNER", "CID_ONSAPI_PULL", "CID_RMQ_SYS_TRANS", "__MONITOR_PRODUCER"}


def _bool(value: bool) -> str:
    return "true" if value else "false"


class BrokerCollector:
    """A prometheus_client collector over a running BrokerController. Reads: ``config``
    (brokerClusterName, brokerName, brokerPermission), ``stats_manager``, ``store``,
    ``topic_config_manager``, ``subscription_group_manager``, ``consumer_offset_manager``,
    ``consumer_manager``, ``producer_manager``, ``ha_service``."""

    def __init__(self, broker: Any, rpc: RpcLatency, clock_ms: Callable[[], int]) -> None:
        self.broker = broker
        self.rpc = rpc
        self.clock_ms = clock_ms

    def base(self) -> dict[str, str]:
        config = self.broker.config
        return {"cluster": config.brokerClusterName, "node_type": "broker", "node_id": config.brokerName}

    def collect(self) -> Iterator[Metric]:
        base = self.base()
        yield from self._messages_in(base)
        yield from self._messages_out(base)
        yield from self._lag(base)
        yield from self._connections(base)
        yield from self._storage(base)
        yield from self._broker(base)
        yield from self._slave_lag(base)
        yield self.rpc.family(base)

    # ----------------------------------------------------------------------------- messages
    def _is_system_topic(self, topic: str) -> bool:
        return topic in self.broker.topic_config_manager.system_topics

    def _is_system_group(self, group: str) -> bool:
        return group.startswith(SYSTEM_GROUP_PREFIX) or group in SYSTEM_GROUPS

    def _messages_in(self, base: dict[str, str]) -> Iterator[Metric]:
        labels = [*base, "topic", "message_type", "is_system"]
        messages = CounterMetricFamily("rocketmq_messages_in", "Total number of incoming messages", labels=labels)
        throughput = CounterMetricFamily("rocketmq_throughput_in", "Total traffic of incoming messages (bytes)",
                                         labels=labels)
        size = HistogramMetricFamily("rocketmq_message_size", "Incoming messages size (bytes)", labels=labels)
        for (topic, message_type), typed in list(self.broker.stats_manager.typed_in.items()):
            values = [*base.values(), topic, message_type, _bool(self._is_system_topic(topic))]
            messages.add_metric(values, typed.messages)
            throughput.add_metric(values, typed.bytes)
            size.add_metric(values, cumulative(MESSAGE_SIZE_BUCKETS, typed.size_buckets), float(typed.size_sum))
        yield from (messages, throughput, size)

    def _messages_out(self, base: dict[str, str]) -> Iterator[Metric]:
        labels = [*base, "topic", "consumer_group", "is_retry", "is_system"]
        messages = CounterMetricFamily("rocketmq_messages_out", "Total number of outgoing messages", labels=labels)
        throughput = CounterMetricFamily("rocketmq_throughput_out", "Total traffic of outgoing messages (bytes)",
                                         labels=labels)
        for topic, group, nums, size in self.broker.stats_manager.group_get():
            values = [*base.values(), topic, group, _bool(topic.startswith("%RETRY%")),
                      _bool(self._is_system_topic(topic) or self._is_system_group(group))]
            messages.add_metric(values, nums)
            throughput.add_metric(values, size)
        yield from (messages, throughput)
        stats = self.broker.stats_manager
        dlq = CounterMetricFamily("rocketmq_send_to_dlq_messages", "Consumer send to DLQ messages",
                                  labels=[*base, "consumer_group", "topic", "is_system"])
        for (group, topic), n in sorted(stats.dlq.items()):
            dlq.add_metric([*base.values(), group, topic,
                            _bool(self._is_system_topic(topic) or self._is_system_group(group))], n)
        commits = CounterMetricFamily("rocketmq_commit_messages", "Total number of commit messages",
                                      labels=[*base, "topic"])
        rollbacks = CounterMetricFamily("rocketmq_rollback_messages", "Total number of rollback messages",
                                        labels=[*base, "topic"])
        for (topic, committed), n in sorted(stats.end_transactions.items()):
            (commits if committed else rollbacks).add_metric([*base.values(), topic], n)
        yield from (dlq, commits, rollbacks)

    # ---------------------------------------------------------------------------------- lag
    def _group_topics(self) -> set[tuple[str, str]]:
        broker = self.broker
        pairs = set()
        for key in list(broker.consumer_offset_manager.table):
            topic, _, group = key.partition("@")
            pairs.add((group, topic))
        for group, info in list(broker.consumer_manager.groups.items()):
            pairs.update((group, topic) for topic in info.subscriptions)
        return {(g, t) for g, t in pairs if broker.topic_config_manager.get(t) is not None}

    def _lag(self, base: dict[str, str]) -> Iterator[Metric]:
        labels = [*base, "consumer_group", "topic", "is_retry", "is_system"]
        lag = GaugeMetricFamily("rocketmq_consumer_lag_messages", "Consumer lag messages", labels=labels)
        lag_latency = GaugeMetricFamily("rocketmq_consumer_lag_latency", "Consumer lag time (milliseconds)",
                                        labels=labels)
        inflight = GaugeMetricFamily("rocketmq_consumer_inflight_messages", "Consumer inflight messages",
                                     labels=labels)
        queueing = GaugeMetricFamily("rocketmq_consumer_queueing_latency", "Consumer queueing time (milliseconds)",
                                     labels=labels)
        ready = GaugeMetricFamily("rocketmq_consumer_ready_messages", "Consumer ready messages", labels=labels)
        now = self.clock_ms()
        for group, topic in sorted(self._group_topics()):
            figures = self._lag_of(group, topic)
            if figures is None:
                continue
            total_lag, total_inflight, total_ready, unconsumed_ts, unpulled_ts = figures
            values = [*base.values(), group, topic, _bool(topic.startswith("%RETRY%")),
                      _bool(self._is_system_topic(topic) or self._is_system_group(group))]
            lag.add_metric(values, total_lag)
            lag_latency.add_metric(values, max(0, now - unconsumed_ts) if unconsumed_ts else 0)
            inflight.add_metric(values, total_inflight)
            queueing.add_metric(values, max(0, now - unpulled_ts) if unpulled_ts else 0)
            ready.add_metric(values, total_ready)
        yield from (lag, lag_latency, inflight, queueing, ready)

    def _lag_of(self, group: str, topic: str) -> tuple[int, int, int, int, int] | None:
        """(lag, inflight, ready, earliest unconsumed store time, earliest unpulled store time)."""
        broker = self.broker
        store = broker.store
        topic_config = broker.topic_config_manager.get(topic)
        if topic_config is None:
            return None
        pulled_table = broker.stats_manager.pulled
        total_lag = total_inflight = total_ready = 0
        unconsumed_ts = unpulled_ts = 0
        for queue_id in range(topic_config.writeQueueNums):
            committed = broker.consumer_offset_manager.query(group, topic, queue_id)
            if committed < 0:
                continue
            max_offset = store.get_max_offset_in_queue(topic, queue_id)
            committed = min(committed, max_offset)
            pulled = min(max(pulled_table.get((topic, group, queue_id), committed), committed), max_offset)
            total_lag += max_offset - committed
            total_inflight += pulled - committed
            total_ready += max_offset - pulled
            if committed < max_offset:
                ts = store.get_message_store_timestamp(topic, queue_id, committed)
                if ts > 0:
                    unconsumed_ts = min(unconsumed_ts or ts, ts)
            if pulled < max_offset:
                ts = store.get_message_store_timestamp(topic, queue_id, pulled)
                if ts > 0:
                    unpulled_ts = min(unpulled_ts or ts, ts)
        return total_lag, total_inflight, total_ready, unconsumed_ts, unpulled_ts

    # -------------------------------------------------------------------------- connections
    def _connections(self, base: dict[str, str]) -> Iterator[Metric]:
        broker = self.broker
        producers = GaugeMetricFamily("rocketmq_producer_connections", "Producer connections",
                                      labels=[*base, "language", "version", "protocol_type"])
        counts: dict[tuple[str, ...], int] = {}
        for channels in list(broker.producer_manager.groups.values()):
            for info in list(channels.values()):
                key = (str(info.language).lower(), version_desc(info.version).lower())
                counts[key] = counts.get(key, 0) + 1
        for (language, version), n in sorted(counts.items()):
            producers.add_metric([*base.values(), language, version, "remoting"], n)
        consumers = GaugeMetricFamily("rocketmq_consumer_connections", "Consumer connections",
                                      labels=[*base, "consumer_group", "language", "version", "consume_mode",
                                              "protocol_type", "is_system"])
        counts = {}
        for group, info in list(broker.consumer_manager.groups.items()):
            mode = CONSUME_MODES.get(info.consume_type, str(info.consume_type).lower())
            for channel_info in list(info.channels.values()):
                key = (group, str(channel_info.language).lower(), version_desc(channel_info.version).lower(), mode)
                counts[key] = counts.get(key, 0) + 1
        for (group, language, version, mode), n in sorted(counts.items()):
            consumers.add_metric([*base.values(), group, language, version, mode, "remoting",
                                  _bool(self._is_system_group(group))], n)
        yield from (producers, consumers)

    # ------------------------------------------------------------------------------ storage
    def _storage(self, base: dict[str, str]) -> Iterator[Metric]:
        store = self.broker.store
        labels = list(base)
        values = list(base.values())
        size = GaugeMetricFamily("rocketmq_storage_size", "Broker storage size (bytes of commit log and "
                                 "consume queue files)", labels=labels)
        files = list(store.commit_log.queue.files)
        for table in list(store.consume_queue_table.values()):
            for cq in list(table.values()):
                files += cq.queue.files
        size.add_metric(values, sum(mf.file_size for mf in files))
        flush = GaugeMetricFamily("rocketmq_storage_flush_behind_bytes", "Broker flush behind bytes", labels=labels)
        flush.add_metric(values, store.commit_log.queue.how_much_fall_behind())
        dispatch = GaugeMetricFamily("rocketmq_storage_dispatch_behind_bytes", "Broker dispatch behind bytes",
                                     labels=labels)
        dispatch.add_metric(values, store.dispatch_behind_bytes())
        reserve = GaugeMetricFamily("rocketmq_storage_message_reserve_time",
                                    "Broker message reserve time (milliseconds)", labels=labels)
        earliest = store.get_earliest_message_time_overall()
        reserve.add_metric(values, max(0, self.clock_ms() - earliest) if earliest > 0 else 0)
        yield from (size, flush, dispatch, reserve)

    # ------------------------------------------------------------------------------- broker
    def _broker(self, base: dict[str, str]) -> Iterator[Metric]:
        broker = self.broker
        labels, values = list(base), list(base.values())
        watermark = GaugeMetricFamily("rocketmq_processor_watermark", "Request processor watermark",
                                      labels=[*labels, "processor"])
        for processor in PROCESSORS:
            watermark.add_metric([*values, processor], 0)
        permission = GaugeMetricFamily("rocketmq_broker_permission", "Broker permission", labels=labels)
        permission.add_metric(values, broker.config.brokerPermission)
        topics = GaugeMetricFamily("rocketmq_topic_number", "Active topic number", labels=labels)
        topics.add_metric(values, len(broker.topic_config_manager.table))
        groups = GaugeMetricFamily("rocketmq_consumer_group_number", "Active subscription group number",
                                   labels=labels)
        groups.add_metric(values, len(broker.subscription_group_manager.table))
        yield from (watermark, permission, topics, groups)

    def _slave_lag(self, base: dict[str, str]) -> Iterator[Metric]:
        """PocketMQ's own (RocketMQ 5 has no family for it): per connected slave, how many commit
        log bytes it has not acknowledged and how old the oldest of them is."""
        labels = [*base, "slave_addr"]
        lag_bytes = GaugeMetricFamily("rocketmq_slave_lag_bytes", "Commit log bytes a slave has not acknowledged",
                                      labels=labels)
        lag_ms = GaugeMetricFamily("rocketmq_slave_lag_latency",
                                   "Age of the oldest commit log message a slave has not acknowledged (milliseconds)",
                                   labels=labels)
        ha = self.broker.ha_service
        store = self.broker.store
        max_offset = store.get_max_phy_offset()
        for conn in list(ha.connections) if ha is not None else []:
            acked = max(0, conn.slave_ack_offset)
            behind = max(0, max_offset - acked)
            latency = 0
            if behind > 0:
                raw = store.look_message_by_offset(acked)
                if raw is not None:
                    try:
                        latency = max(0, self.clock_ms() - decode_message(raw).store_timestamp)
                    except (ValueError, IndexError):
                        latency = 0
            lag_bytes.add_metric([*base.values(), conn.addr], behind)
            lag_ms.add_metric([*base.values(), conn.addr], latency)
        yield from (lag_bytes, lag_ms)
