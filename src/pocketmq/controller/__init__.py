"""RocketMQ 5 controller mode (RIP-44): the controller that keeps each broker set's master,
masterEpoch and SyncStateSet, hands out brokerIds, watches broker heartbeats, elects a new master
from the in-sync replicas when the master dies, and tells the brokers of the change.

Modules: ``config`` (ControllerConfig, upstream's keys), ``replicas`` (the per-broker-set state
and upstream ReplicasInfoManager's decisions, pure), ``elect`` (DefaultElectPolicy), ``heartbeat``
(broker liveness on an injected clock), ``store`` (the file store) and ``etcd_store`` (every change
one compare-and-swap transaction in etcd), ``manager`` (ties decisions to the store, triggers
elections, notifies brokers), ``processor`` (request handlers), ``startup`` (``mqcontroller``).

May import: ``pocketmq.clock``, ``pocketmq.config``, ``pocketmq.persist``, ``pocketmq.process``,
``pocketmq.remoting``, ``pocketmq.protocol``. Nothing from namesrv, broker or store: the name
server hosts a controller (``enableControllerInNamesrv``) by importing this room, so in the room
order it sits right after ``protocol``.
"""
