"""BrokerController: one running broker. Owns the store, the config managers, the client
managers, the request processors on the main and fast ports, name server registration, and
the periodic tasks (offset persistence, idle-client scan, registration)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import ssl
from typing import Any

from pocketmq import ROCKETMQ_VERSION, ROCKETMQ_VERSION_DESC
from pocketmq.aio import cancel_and_wait
from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.broker.admin_inspect import InspectProcessor
from pocketmq.broker.admin_processor import AdminProcessor
from pocketmq.broker.client_manager import ConsumerManager, ProducerManager
from pocketmq.protocol.client_bodies import SubscriptionData
from pocketmq.broker.client_processor import ClientProcessor
from pocketmq.broker.consumer_offset import ConsumerOffsetManager
from pocketmq.broker.filter import SQL92, FilterSyntaxError, SqlMessageFilter, compile_sql92, describe_error
from pocketmq.broker.namesrv_api import NamesrvApi
from pocketmq.broker.pop import PopService
from pocketmq.broker.pull_processor import PullProcessor
from pocketmq.broker.query_processor import QueryProcessor
from pocketmq.broker.rebalance_lock import RebalanceLockManager
from pocketmq.broker.replicas_manager import ReplicasManager
from pocketmq.broker.schedule import SCHEDULE_TOPIC, ScheduleMessageService
from pocketmq.broker.timer import TimerMessageService
from pocketmq.store.timer import TIMER_TOPIC
from pocketmq.broker.send_processor import SendProcessor
from pocketmq.broker.slave_sync import SlaveSynchronize
from pocketmq.broker.stats_manager import BrokerStatsManager
from pocketmq.broker.subscription_group import SubscriptionGroupManager
from pocketmq.broker.topic_config import TopicConfigManager
from pocketmq.broker.transaction import TransactionService
from pocketmq.config import BrokerConfig, MessageStoreConfig, config_items, render_properties
from pocketmq.metrics.exporter import PromExporter, exporter_enabled
from pocketmq.metrics.serve import start_broker_metrics
from pocketmq.persist import write_file_safely
from pocketmq.protocol.route import PERM_READ, PERM_WRITE, DataVersion, TopicConfigWrapper
from pocketmq.protocol.controller import ControllerRequestCode
from pocketmq.remoting.codes import RequestCode
from pocketmq.remoting.command import RemotingCommand
from pocketmq.remoting.tls import ServerTls
from pocketmq.remoting.transport import Connection, Dispatcher, RemotingClient, RemotingServer
from pocketmq.security.acl_admin import AclAdminProcessor, AclConfigEditor
from pocketmq.security.server import ServerAcl, request_signer
from pocketmq.store.ha import HAService
from pocketmq.store.message_store import MessageStore

log = logging.getLogger("pocketmq.broker")

MASTER_ID = 0
CLIENT_SCAN_SECONDS = 10.0
MASTER_SEARCH_SECONDS = 1.0
ORDER_INFO_PERSIST_SECONDS = 10.0


class BrokerController:
    def __init__(self, config: BrokerConfig, store_config: MessageStoreConfig, host: str = "0.0.0.0",
                 config_file: str | None = None, clock: Clock = SYSTEM_CLOCK, tls: ServerTls | None = None,
                 client_ssl: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.store_config = store_config
        self.host = host
        self.config_file = config_file
        self.config_data_version = DataVersion()
        if config.enableControllerMode:
            # The controllers choose the master; until they do, this broker takes no writes.
            store_config.brokerRole = "SLAVE"
        elif store_config.brokerRole != "SLAVE":
            config.brokerId = MASTER_ID
        store_config.haListenPort = config.listenPort + 1
        root = store_config.storePathRootDir
        self.store = MessageStore(store_config, (config.brokerIP1, config.listenPort), clock=clock)
        self.topic_config_manager = TopicConfigManager(config, root)
        self.subscription_group_manager = SubscriptionGroupManager(config, root)
        self.consumer_offset_manager = ConsumerOffsetManager(root)
        self.schedule = ScheduleMessageService(self.store, root, store_config.messageDelayLevel)
        self.timer = TimerMessageService(self.store, root, store_config.timerPrecisionMs,
                                         store_config.timerFlushIntervalMs)
        self.store.truncation_listeners += [self.timer.on_store_truncated, self.schedule.on_store_truncated]
        self.consumer_manager = ConsumerManager()
        self.producer_manager = ProducerManager()
        self.lock_manager = RebalanceLockManager()
        self.clock = clock
        self.stats_manager = BrokerStatsManager(config.brokerClusterName, clock.now_ms)
        self.transactions = TransactionService(self)
        self.remoting_client = RemotingClient(before_request=request_signer(config.aclAccessKey, config.aclSecretKey),
                                              ssl_context=client_ssl)  # tls.enable: TLS to name servers, master
        self.namesrv_api = NamesrvApi(self.remoting_client, config.namesrvAddr)
        self.master_addr: str | None = None
        self.ha_master_addr: str | None = None
        self.ha_service: HAService | None = None
        self.replicas_manager: ReplicasManager | None = None

        self.send_processor = SendProcessor(self)
        self.pull_processor = PullProcessor(self)
        self.pop_service = PopService(self, clock=clock)
        self.dispatcher = Dispatcher()
        self.fast_dispatcher = Dispatcher()
        self.acl: ServerAcl | None = None
        if config.aclEnable:
            self.acl = ServerAcl.for_home(config.rocketmqHome)
            self.acl.install(self.dispatcher, self.fast_dispatcher)
        self._register_processors()
        # The HA port serves TLS only when TLS is enforced: a permissive HA port stays plaintext
        # (Apache slaves), as PocketMQ does not sniff the first byte of an HA stream.
        self.ha_ssl_server = tls.context if tls is not None and tls.mode == "enforcing" else None
        self.server = RemotingServer(self.dispatcher, max_frame_length=config.maxFrameLength,
                                     on_close=self._on_channel_close, tls=tls)
        self.fast_server = RemotingServer(self.fast_dispatcher, max_frame_length=config.maxFrameLength,
                                          on_close=self._on_channel_close, tls=tls)
        self._tasks: list[asyncio.Task[None]] = []
        self.metrics: PromExporter | None = None
        self._register_pending = False
        self._register_whole_table = False
        self._register_topics: set[str] = set()
        self._registered_version: tuple[int, int] | None = None
        # The newest registration of changed topics: its data version, its topics and the
        # sends of that version still under way (see register_broker_all).
        self._incremental: tuple[tuple[int, int], set[str], list[asyncio.Future[None]]] | None = None

    @property
    def is_slave(self) -> bool:
        return self.store_config.brokerRole == "SLAVE"

    # ---------------------------------------------------------------------------- processors
    def _register_processors(self) -> None:
        def both(code: int, handler: Any) -> None:
            self.dispatcher.register(code, handler)
            self.fast_dispatcher.register(code, handler)

        for code in (RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE,
                     RequestCode.CONSUMER_SEND_MSG_BACK):
            both(code, self.send_processor.process)
        # Pull is served on the main port only, as upstream.
        self.dispatcher.register(RequestCode.PULL_MESSAGE, self.pull_processor.process)
        ClientProcessor(self).register_all(both)
        QueryProcessor(self).register_all(both)
        AdminProcessor(self).register_all(both)
        AclAdminProcessor(AclConfigEditor(self.acl.acl, self.store.clock) if self.acl is not None else None).register_all(both)
        InspectProcessor(self, self.clock).register_all(both)
        both(RequestCode.END_TRANSACTION, self.transactions.end_transaction)
        self.pop_service.register(self.dispatcher.register)  # POP on the main port, as pull
        both(ControllerRequestCode.NOTIFY_BROKER_ROLE_CHANGED, self._role_changed)

    async def _role_changed(self, request: RemotingCommand, channel: Connection) -> RemotingCommand | None:
        if self.replicas_manager is None:
            log.warning("NOTIFY_BROKER_ROLE_CHANGED from %s ignored: enableControllerMode=false", channel.remote_address)
            return None
        return await self.replicas_manager.on_role_changed(request, channel)

    def message_filter(self, subscription: SubscriptionData) -> Any:
        """The store-side filter of a subscription (SQL92 when enabled); None for tag filtering."""
        if (subscription.expressionType or "TAG").upper() != SQL92 or not self.config.enablePropertyFilter:
            return None
        try:
            return SqlMessageFilter(compile_sql92(subscription.subString))
        except FilterSyntaxError:
            return None  # check_filter refused it before the pull got here

    def check_filter(self, subscription: SubscriptionData) -> str | None:
        """Why a subscription's expression cannot be used, or None."""
        expression_type = (subscription.expressionType or "TAG").upper()
        if expression_type == "TAG":
            return None
        if expression_type != SQL92:
            return f"The broker does not support expression type {subscription.expressionType}"
        try:
            compile_sql92(subscription.subString)
        except FilterSyntaxError as exc:
            return describe_error(subscription.subString, exc)
        return None

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        os.makedirs(self.store_config.storePathRootDir, exist_ok=True)
        self.topic_config_manager.load()
        self.subscription_group_manager.load()
        self.consumer_offset_manager.load()
        self.pop_service.order_info.load()
        self.schedule.load()
        self.timer.load()
        self.store.message_arriving_listener = self._on_message_arriving
        await self.store.start()
        self.ha_service = HAService(self.store, self.store_config, host=self.host,
                                    master_addr=lambda: self.ha_master_addr, ssl_server=self.ha_ssl_server,
                                    ssl_client=self.remoting_client.ssl_context,
                                    controller_mode=self.config.enableControllerMode)
        await self.ha_service.start()
        if self.config.enableControllerMode:
            self.store.read_limit = self.ha_service.read_limit
        await self.server.start(self.host, self.config.listenPort)
        await self.fast_server.start(self.host, self.config.fast_port())
        if exporter_enabled(self.config.metricsExporterType):
            self.metrics = await start_broker_metrics(self)
        loop = asyncio.get_running_loop()
        if not self.is_slave:
            self.schedule.start()
            if self.store_config.timerWheelEnable:
                self.timer.start()
            self.transactions.start()
        if self.config.enableControllerMode:
            self.replicas_manager = ReplicasManager(self)
            self.replicas_manager.start()
        else:
            await self.register_broker_all()
        self._tasks += [
            loop.create_task(self._every(self._register_period(), self.register_broker_all, first_delay=10.0)),
            loop.create_task(self._every(self.config.flushConsumerOffsetInterval / 1000, self._persist_offsets)),
            # upstream persists consumerFilter and consumerOrderInfo every 10 s
            loop.create_task(self._every(ORDER_INFO_PERSIST_SECONDS, self.pop_service.order_info.persist)),
            loop.create_task(self._every(CLIENT_SCAN_SECONDS, self._scan_idle_channels)),
            loop.create_task(self._every(1.0, self.stats_manager.tick, first_delay=0.0)),
            loop.create_task(self.pop_service.revive_loop()),
        ]
        if self.acl is not None:
            self._tasks.append(loop.create_task(self.acl.watch()))
        if self.is_slave or self.config.enableControllerMode:
            self._tasks.append(loop.create_task(self._every(10.0, self._slave_sync, first_delay=3.0)))
        if self.is_slave and not self.config.enableControllerMode:
            if self.ha_master_addr is None and not self.store_config.haMasterAddress:
                self._tasks.append(loop.create_task(self._find_master()))

    async def _slave_sync(self) -> None:
        if self.is_slave:
            await SlaveSynchronize(self).sync_all()

    async def on_role_change(self, master: bool, master_addr: str | None, ha_addr: str | None) -> None:
        """Controller mode: the replicas manager made this broker the master (brokerId 0) or a
        slave (its own brokerId) of ``master_addr``; the name servers learn it at once."""
        manager = self.replicas_manager
        if master:
            self.config.brokerId = MASTER_ID
            self.master_addr = None
            self.ha_master_addr = None
            if not self.schedule.running:
                self.schedule.start()
            if self.store_config.timerWheelEnable and not self.timer.running:
                self.timer.start()
            if not self.transactions.running:
                self.transactions.start()
        else:
            self.config.brokerId = manager.broker_controller_id if manager and manager.broker_controller_id else 1
            self.master_addr = master_addr
            self.ha_master_addr = ha_addr
            await self.schedule.stop()
            await self.timer.stop()
            await self.transactions.stop()
        self.topic_config_manager.data_version.next_version()
        self.register_soon()

    async def _find_master(self) -> None:
        """A slave started before its master learns the master's HA address from a registration
        answer: ask every second until one names it, instead of waiting for the next periodic
        registration (30 s), during which a SYNC_MASTER would answer SLAVE_NOT_AVAILABLE."""
        while self.ha_master_addr is None:
            await asyncio.sleep(MASTER_SEARCH_SECONDS)
            try:
                await self.register_broker_all()
            except Exception as exc:  # a name server down or slow: try again next second
                log.warning("registration while looking for the master failed: %s", exc)
        log.info("slave found its master at %s (HA %s)", self.master_addr, self.ha_master_addr)

    def _register_period(self) -> float:
        return max(10.0, min(self.config.registerNameServerPeriod / 1000, 60.0))

    async def _every(self, seconds: float, action: Any, first_delay: float | None = None) -> None:
        await asyncio.sleep(seconds if first_delay is None else min(first_delay, seconds))
        while True:
            try:
                result = action()
                if asyncio.iscoroutine(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic task %s failed", getattr(action, "__name__", action))
            await asyncio.sleep(seconds)

    async def shutdown(self) -> None:
        await cancel_and_wait(self._tasks)
        if self.replicas_manager is not None:
            await self.replicas_manager.shutdown()
        await self.schedule.stop()
        await self.timer.stop()
        await self.transactions.stop()
        self.pull_processor.hold_service.wake_all()
        try:
            await asyncio.wait_for(self.namesrv_api.unregister_broker_all(
                self.config.brokerClusterName, self.config.broker_addr(), self.config.brokerName, self.config.brokerId),
                5.0)
        except asyncio.TimeoutError:
            log.warning("unregister from name servers timed out")
        # Network parts get a bounded time each: whatever a peer does, the store below is still
        # flushed and closed, and SIGTERM always ends the process.
        await _bounded(self.server.close(), "main port")
        await _bounded(self.fast_server.close(), "fast port")
        if self.metrics is not None:
            await _bounded(self.metrics.close(), "metrics endpoint")
        if self.ha_service is not None:
            await _bounded(self.ha_service.shutdown(), "HA service")
        await _bounded(self.remoting_client.close(), "remoting client")
        self.topic_config_manager.flush()  # a topic change still being written
        self.consumer_offset_manager.persist()
        self.consumer_offset_manager.flush()
        self.pop_service.order_info.persist()
        self.schedule.persist()
        await self.store.shutdown()

    # --------------------------------------------------------------------------- registration
    def topic_wrapper(self, only: set[str] | None = None) -> TopicConfigWrapper:
        """The topic table to register (or just the ``only`` topics), with the data version; a
        broker without read or write permission shows that permission on every topic (copies:
        the table itself keeps the topics' own)."""
        wrapper = self.topic_config_manager.wrapper(only)
        perm = self.config.brokerPermission
        if not (perm & PERM_READ and perm & PERM_WRITE):
            wrapper.topicConfigTable = {name: dataclasses.replace(topic_config, perm=perm)
                                        for name, topic_config in wrapper.topicConfigTable.items()}
        return wrapper

    async def register_broker_all(self, only: set[str] | None = None) -> None:
        """Registers with every name server: the whole topic table, or with ``only`` just those
        topics (upstream registerIncrementBrokerData: a name server adds them to what it has)."""
        if self.config.enableControllerMode and (self.replicas_manager is None
                                                  or self.replicas_manager.master_broker_id is None):
            return  # no role yet: the name servers hear of this broker once the controller chose
        # Every topic changed since the last registration goes too, not only the caller's: topics
        # created concurrently share one data version, and a name server takes one registration
        # per data version (4.9.x), so the first one sent at that version must carry them all.
        pending, self._register_topics = self._register_topics, set()
        sent: asyncio.Future[None] | None = None
        if only is not None:
            only = only | pending
            # A second registration at the same data version must not be sent: a 4.9 name
            # server handles requests on a pool of threads, may take it first, and then ignores
            # the one that carried the other topics. Wait for that one instead.
            version = self.topic_config_manager.data_version
            key = (version.timestamp, version.counter)
            last = self._incremental
            if last is not None and last[0] == key and only <= last[1]:
                await asyncio.gather(*last[2])
                return
            sent = asyncio.get_running_loop().create_future()
            if last is not None and last[0] == key:
                last[1].update(only)
                last[2].append(sent)
            else:
                self._incremental = (key, set(only), [sent])
        wrapper = self.topic_wrapper(only)
        try:
            result = await self.namesrv_api.register_broker_all(
                self.config.brokerClusterName, self.config.broker_addr(), self.config.brokerName,
                self.config.brokerId, f"{self.config.ha_ip()}:{self.store_config.haListenPort}", wrapper,
                self.config.registerBrokerTimeoutMills, self.config.compressedRegister,
                whole_table=None if only is None else self.topic_wrapper)
        finally:
            if sent is not None and not sent.done():
                sent.set_result(None)
        self._registered_version = (wrapper.dataVersion.timestamp, wrapper.dataVersion.counter)
        if result is not None and self.is_slave and not self.config.enableControllerMode:
            self.master_addr = result.master_addr
            if result.ha_server_addr and not self.store_config.haMasterAddress:
                self.ha_master_addr = result.ha_server_addr

    def register_soon(self, topic: str | None = None) -> None:
        """Re-register at the next loop turn; several changes coalesce into one. ``topic``: only
        that topic was created or changed, so only the changed topics are sent (with the new data
        version), not the whole table: creating N topics one by one costs O(N), not O(N^2)."""
        if topic is None:
            self._register_whole_table = True
        else:
            self.topic_changed(topic)
        if self._register_pending:
            return
        self._register_pending = True

        async def run() -> None:
            self._register_pending = False
            whole, self._register_whole_table = self._register_whole_table, False
            if whole or self._register_topics:  # none left: a registration since took them
                await self.register_broker_all(None if whole else set())

        self._tasks.append(asyncio.get_running_loop().create_task(run()))
        self._tasks = [task for task in self._tasks if not task.done()]

    def topic_changed(self, topic: str) -> None:
        """``topic`` was created or changed: the next registration of changed topics sends it."""
        self._register_topics.add(topic)

    def register_soon_if_topics_changed(self) -> None:
        version = self.topic_config_manager.data_version
        if self._registered_version != (version.timestamp, version.counter):
            self.register_soon()

    # ------------------------------------------------------------------------- housekeeping
    def _persist_offsets(self) -> None:
        self.consumer_offset_manager.persist_if_dirty()
        if self.schedule.dirty:
            self.schedule.persist()

    def _scan_idle_channels(self) -> None:
        for channel in self.consumer_manager.scan_idle() + self.producer_manager.scan_idle():
            channel.close()

    def _on_channel_close(self, channel: Connection) -> None:
        self.producer_manager.on_channel_closed(channel)
        self.consumer_manager.on_channel_closed(channel, self._notify_enabled)

    def _notify_enabled(self, group: str) -> bool:
        config = self.subscription_group_manager.find(group, auto_create=False)
        return config.notifyConsumerIdsChangedEnable if config else True

    def _on_message_arriving(self, topic: str, queue_id: int, next_offset: int, tags_code: int, store_ts: int,
                             properties: Any) -> None:
        self.pull_processor.hold_service.notify_message_arriving(topic, queue_id, next_offset, tags_code)
        self.pop_service.on_message_arriving(topic)
        if topic == SCHEDULE_TOPIC:
            self.schedule.on_message_arriving(queue_id)
        elif topic == TIMER_TOPIC:
            self.timer.on_message_arriving()

    def persist_config(self) -> None:
        path = self.config_file or os.path.join(self.store_config.storePathRootDir, "config", "broker.properties")
        values = {**config_items(self.config), **config_items(self.store_config)}
        try:
            write_file_safely(path, render_properties(values).encode())
        except OSError as exc:
            log.warning("cannot persist broker config to %s: %s", path, exc)

    # ---------------------------------------------------------------------------- runtime info
    def runtime_info(self) -> dict[str, str]:
        info = self.store.get_runtime_info()
        info.update(self.schedule.runtime_info())
        info.update(self.timer.runtime_info())
        if self.ha_service is not None:
            info.update(self.ha_service.runtime_info())
        if self.replicas_manager is not None:
            info.update(self.replicas_manager.runtime_info())
        info.update({
            "brokerVersionDesc": ROCKETMQ_VERSION_DESC,
            "brokerVersion": str(ROCKETMQ_VERSION),
            "sendThreadPoolQueueSize": "0", "sendThreadPoolQueueCapacity": str(self.config.sendThreadPoolQueueCapacity),
            "pullThreadPoolQueueSize": "0", "pullThreadPoolQueueCapacity": str(self.config.pullThreadPoolQueueCapacity),
            "queryThreadPoolQueueSize": "0", "queryThreadPoolQueueCapacity": "20000",
            "EndTransactionQueueSize": "0", "EndTransactionThreadPoolQueueCapacity": "100000",
            "sendThreadPoolQueueHeadWaitTimeMills": "0", "pullThreadPoolQueueHeadWaitTimeMills": "0",
            "queryThreadPoolQueueHeadWaitTimeMills": "0",
            "startAcceptSendRequestTimeStamp": str(self.config.startAcceptSendRequestTimeStamp),
        })
        return info


STOP_STEP_SECONDS = 10.0


async def _bounded(step: Any, what: str) -> None:
    try:
        await asyncio.wait_for(step, STOP_STEP_SECONDS)
    except asyncio.TimeoutError:
        log.warning("stopping the %s took over %.0f s; going on with the shutdown", what, STOP_STEP_SECONDS)
