"""Prometheus metrics, built in (RocketMQ 5's RIP-46 names, labels and keys).

``metricsExporterType=PROM`` (default ``DISABLE``) makes a broker or a name server serve
``/metrics`` on ``metricsPromExporterHost:metricsPromExporterPort`` (5557) from its own event loop.
The hot paths only add to plain ints (the broker's stats manager, the rpc latency buckets here);
the families are built at scrape time by custom collectors.

May import: ``remoting`` (request/response code names), ``protocol`` (message decoding, version
names) and ``prometheus_client``. It reads the broker and name server duck-typed, so its place is
after ``protocol`` and before ``namesrv``: ``namesrv`` and ``broker`` import it, not the reverse.
"""
