"""The RocketMQ 5 gRPC endpoint, as upstream's proxy: ``apache.rocketmq.v2.MessagingService`` for
the official 5.x clients (Java, Go, Python, ...), on grpcio's asyncio server in the process's own
event loop. Cluster mode is its own process (``mqproxy -n <namesrv>``) that finds brokers through
the name servers and talks to them over remoting, as any client does.

May import: remoting, protocol, client (the remoting client and its API), config, clock, process.
Never imports broker or store: it reaches brokers over the wire only.

Modules: ``messaging.proto`` (the wire contract) and ``stubs`` (its generated code), ``config``
(ProxyConfig keys), ``status`` (upstream status codes and the error -> status mapping),
``settings`` (client settings exchanged over Telemetry), ``convert`` (gRPC message -> remoting
send), ``backend`` (routes and sends over remoting), ``service`` (the RPC handlers), ``server``
(the gRPC server) and ``startup`` (``mqproxy``).
"""
