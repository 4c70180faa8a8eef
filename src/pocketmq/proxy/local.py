"""Local mode: ``mqbroker ... --enable-proxy`` runs a broker and the gRPC endpoint in one process,
as upstream's ProxyStartup in local mode does (the endpoint owns the process and embeds the
broker, so the broker room knows nothing of gRPC; bin/mqbroker hands --enable-proxy here).

The endpoint takes its keys (``grpcServerPort``, ...) from the broker's own config file and
``--key=value`` overrides. It sends only to its own broker set and advertises, for every broker of
a route, that broker's own endpoint: each embedded endpoint publishes ``host:grpcServerPort`` in
the name servers' KV config (namespace ``PROXY_ENDPOINT``, key: the broker's address), so the
presets can run several brokers with their endpoints on distinct ports of one host. A broker whose
endpoint is not published (no --enable-proxy) is left out of gRPC routes: no client could reach it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
from typing import Callable

from pocketmq.broker.startup import announce, boot_line, build_configs, prepare_controller
from pocketmq.client.errors import MQBrokerError
from pocketmq.clock import SYSTEM_CLOCK, Clock
from pocketmq.process import apply_all, load_config_values, parse_startup_args, print_config, run_server
from pocketmq.protocol.route import TopicRouteData
from pocketmq.protocol.namesrv_headers import GetKVConfigRequestHeader, PutKVConfigRequestHeader
from pocketmq.proxy.backend import ClusterBackend, WriteQueue
from pocketmq.proxy.config import ProxyConfig
from pocketmq.proxy.guard import RequestGuard
from pocketmq.proxy.server import GrpcEndpoint
from pocketmq.proxy.service import MessagingService
from pocketmq.proxy.stubs import pb
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.remoting.command import RemotingCommand
from pocketmq.remoting.transport import RemotingError
from pocketmq.security.server import request_signer
from pocketmq.security.tls import grpc_server_tls

log = logging.getLogger("pocketmq.proxy")

ENABLE_FLAG = "--enable-proxy"
KV_NAMESPACE = "PROXY_ENDPOINT"
ENDPOINT_TTL_SECONDS = 10.0
PUBLISH_PERIOD_SECONDS = 30.0


class LocalBackend(ClusterBackend):
    """Routes from the name servers; sends to this process's broker set only."""

    def __init__(self, namesrv_addr: str, broker_name: str, own_broker_addr: str, own_endpoint: str, *,
                 timeout_ms: int = 3000, clock: Clock = SYSTEM_CLOCK,
                 before_request: Callable[[RemotingCommand], None] | None = None) -> None:
        super().__init__(namesrv_addr, timeout_ms=timeout_ms, clock=clock, before_request=before_request)
        self.broker_name = broker_name
        self.own_broker_addr = own_broker_addr
        self.own_endpoint = own_endpoint
        self._endpoints: dict[str, tuple[float, str | None]] = {}

    def queues_of(self, route: TopicRouteData) -> list[WriteQueue]:
        return [q for q in super().queues_of(route) if q.broker_name == self.broker_name]

    async def publish_endpoint(self) -> None:
        header = PutKVConfigRequestHeader(KV_NAMESPACE, self.own_broker_addr, self.own_endpoint)
        for addr in self.api.namesrv_addrs:
            try:
                await self.api.call(addr, RequestCode.PUT_KV_CONFIG, header)
            except (RemotingError, MQBrokerError) as exc:
                log.warning("cannot publish the gRPC endpoint to name server %s: %s", addr, exc)

    async def endpoint_of(self, broker_addr: str) -> str | None:
        """``host:port`` of the endpoint embedded with the broker at ``broker_addr``, if any."""
        if broker_addr == self.own_broker_addr:
            return self.own_endpoint
        now = self.clock.monotonic()
        cached = self._endpoints.get(broker_addr)
        if cached is not None and now - cached[0] < ENDPOINT_TTL_SECONDS:
            return cached[1]
        try:
            response = await self.api.call_namesrv(RequestCode.GET_KV_CONFIG,
                                                   GetKVConfigRequestHeader(KV_NAMESPACE, broker_addr),
                                                   ok=(ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND))
            value = None
            if response.code == ResponseCode.SUCCESS:
                value = (response.ext_fields or {}).get("value") or None
        except (RemotingError, MQBrokerError) as exc:
            log.warning("cannot read the gRPC endpoint of %s: %s", broker_addr, exc)
            value = cached[1] if cached else None
        self._endpoints[broker_addr] = (now, value)
        return value

    async def broker_endpoints(self, broker_addr: str) -> pb.Endpoints | None:
        endpoint = await self.endpoint_of(broker_addr)
        if not endpoint:
            return None
        host, _, port = endpoint.rpartition(":")
        return pb.Endpoints(scheme=pb.IPv4, addresses=[pb.Address(host=host, port=int(port))])


def split_flag(argv: list[str]) -> list[str]:
    return [arg for arg in argv if arg != ENABLE_FLAG]


def main(argv: list[str] | None = None) -> int:
    argv = split_flag(sys.argv[1:] if argv is None else argv)
    broker_config, store_config, config_file, print_all, print_important, tls = build_configs(argv)
    proxy_config = ProxyConfig()
    args = parse_startup_args("mqbroker", argv, with_namesrv=True)
    apply_all([proxy_config], load_config_values(args))
    proxy_config.namesrvAddr = broker_config.namesrvAddr
    proxy_config.proxyMode = "local"
    if print_all or print_important:
        print_config([broker_config, store_config, proxy_config], important_only=print_important)
        return 0
    controller = prepare_controller(broker_config, store_config, config_file, tls)
    if controller is None:
        return 1
    own_addr = broker_config.broker_addr()
    own_endpoint = f"{broker_config.brokerIP1}:{proxy_config.grpcServerPort}"
    backend = LocalBackend(broker_config.namesrvAddr, broker_config.brokerName, own_addr, own_endpoint,
                           timeout_ms=proxy_config.remotingTimeoutMillis,
                           before_request=request_signer(broker_config.aclAccessKey, broker_config.aclSecretKey))
    # Requests to its own broker stay in the process (upstream's local mode calls the broker
    # directly too): the same frames, through memory instead of a loopback socket.
    backend.remoting.serve_in_process(own_addr, controller.server)
    # The endpoint speaks TLS with the broker's keys, and checks calls against the broker's ACL.
    acl = controller.acl.acl if controller.acl is not None else None
    try:
        server_tls = grpc_server_tls(proxy_config.grpc_tls(tls))
    except (OSError, ssl.SSLError) as exc:  # tlsCertPath/tlsKeyPath that do not load
        print(f"The broker cannot start: {exc}", file=sys.stderr)
        return 1
    endpoint = GrpcEndpoint(MessagingService(proxy_config, backend), proxy_config.grpcServerPort,
                            tls=server_tls, guard=RequestGuard(acl))
    tasks: list[asyncio.Task[None]] = []

    async def keep_publishing() -> None:
        while True:
            await backend.publish_endpoint()
            await asyncio.sleep(PUBLISH_PERIOD_SECONDS)

    async def start() -> None:
        await controller.start()
        await backend.start()
        await endpoint.start()
        tasks.append(asyncio.get_running_loop().create_task(keep_publishing()))
        announce(boot_line(broker_config))
        announce(f"The proxy boot success in local mode, grpcServerPort={proxy_config.grpcServerPort}")

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await endpoint.stop()
        await backend.close()
        await controller.shutdown()
        log.info("The broker[%s, %s] shutdown.", broker_config.brokerName, own_addr)

    return run_server(start, stop)


if __name__ == "__main__":
    sys.exit(main())
