"""The RocketMQ 5 gRPC endpoint, as upstream's proxy: ``apache.rocketmq.v2.MessagingService`` for
the official 5.x clients (Java, Go, Python, ...), on grpcio's asyncio server in the process's own
event loop. Cluster mode is its own process (``mqproxy -n <namesrv>``) that finds brokers through
the name servers and talks to them over remoting, as any client does.

Local mode (``mqbroker --enable-proxy``, ``local``) runs a broker and the endpoint in one process,
as upstream's local mode does: the endpoint embeds a BrokerController, so the broker room never
knows of gRPC.

May import: remoting, protocol, security (plain ACL, signatures, TLS settings), client (the
remoting client and its API), config, clock, process; ``local`` also broker (to embed one). The
RPC handlers reach brokers over remoting only.

Modules: ``messaging.proto`` (the wire contract) and ``stubs`` (its generated code), ``config``
(ProxyConfig keys), ``status`` (upstream status codes and the error -> status mapping),
``settings`` (client settings exchanged over Telemetry), ``convert`` (gRPC message -> remoting
send), ``backend`` (routes and sends over remoting), ``service`` (the RPC handlers), ``guard``
(what every call passes first: namespaces, the ``authorization`` header against plain ACL),
``namespace`` (``ns%name`` both ways), ``front`` (plaintext and TLS on one port: the first-byte
sniffing relay), ``haproxy`` (the PROXY protocol header a balancer may send first), ``server`` (the gRPC server), ``startup`` (``mqproxy``) and ``local``
(``mqbroker --enable-proxy``).
"""
