"""The console room: PocketMQ's built-in web console (cluster, topics, consumer groups, messages,
dead letters, a send form and live charts), in the spirit of rocketmq-dashboard, served by aiohttp
on the process's event loop. It talks to a cluster only through PocketMQ's admin API and client,
so it works against Apache RocketMQ 4.9 as well.

May import: ``pocketmq.client``, ``pocketmq.security`` (credentials), ``pocketmq.protocol``,
``pocketmq.remoting``, ``pocketmq.clock``, ``pocketmq.config`` and ``pocketmq.process``. Nothing imports it but its own startup.

Modules: ``service`` (what pages show and do, as data), ``pages`` (HTML, everything escaped),
``app`` (the aiohttp routes), ``startup`` (``mqconsole``), ``static/`` (one CSS and one JS file,
no build step).
"""
