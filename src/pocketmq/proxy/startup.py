"""``mqproxy``: the RocketMQ 5 gRPC endpoint in cluster mode, as upstream's ProxyStartup
(``mqproxy -n <namesrv>``; -c, -p, -m, --<configKey>=<value>, NAMESRV_ADDR): finds brokers through
the name servers, serves gRPC on grpcServerPort (8081) — plaintext, and TLS on the same port
with ``tls.server.certPath``/``keyPath`` (the keys of security.tls) — checks calls against
plain_acl.yml with ``enableACL=true``, logs to ~/logs/rocketmqlogs/proxy.log and stops cleanly
on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys

from pocketmq.process import (
    apply_all, load_config_values, parse_startup_args, print_config, run_server, setup_logging,
)
from pocketmq.proxy.backend import ClusterBackend
from pocketmq.proxy.config import ProxyConfig
from pocketmq.proxy.guard import RequestGuard
from pocketmq.proxy.server import GrpcEndpoint
from pocketmq.proxy.service import MessagingService
from pocketmq.security.remote_address import AclConfigError
from pocketmq.security.server import ServerAcl, request_signer
from pocketmq.security.tls import TlsConfig, grpc_server_tls, tls_config

log = logging.getLogger("pocketmq.proxy")


def build_config(argv: list[str]) -> tuple[ProxyConfig, bool, bool, TlsConfig]:
    args = parse_startup_args("mqproxy", argv, with_namesrv=True)
    config = ProxyConfig()
    values = load_config_values(args)
    if args.namesrv_addr:
        values["namesrvAddr"] = args.namesrv_addr
    apply_all([config], values)
    try:
        tls = tls_config(values)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return config, args.print_all, args.print_important, tls


def check_config(config: ProxyConfig) -> str | None:
    if config.proxyMode.lower() != "cluster":
        return f"mqproxy runs in cluster mode only (proxyMode={config.proxyMode}); use mqbroker --enable-proxy"
    if not config.namesrvAddr:
        return "Please set the namesrvAddr (-n or NAMESRV_ADDR)"
    if not 0 < config.grpcServerPort < 65536:
        return f"grpcServerPort {config.grpcServerPort} is not a port"
    return None


def main(argv: list[str] | None = None) -> int:
    config, print_all, print_important, tls = build_config(sys.argv[1:] if argv is None else argv)
    if print_all or print_important:
        print_config([config], important_only=print_important)
        return 0
    problem = check_config(config)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    setup_logging(config.logDir, "proxy.log")
    try:
        server_tls = grpc_server_tls(config.grpc_tls(tls))
        acl = ServerAcl.for_home(config.rocketmqHome) if config.enableACL else None
    except (AclConfigError, OSError, ssl.SSLError) as exc:  # a bad plain_acl.yml or TLS file
        print(f"The proxy cannot start: {exc}", file=sys.stderr)
        return 1
    backend = ClusterBackend(config.namesrvAddr, timeout_ms=config.remotingTimeoutMillis,
                             before_request=request_signer(config.aclAccessKey, config.aclSecretKey))
    endpoint = GrpcEndpoint(MessagingService(config, backend), config.grpcServerPort, tls=server_tls,
                            guard=RequestGuard(acl.acl if acl is not None else None))
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        await backend.start()
        await endpoint.start()
        if acl is not None:
            tasks.append(asyncio.get_running_loop().create_task(acl.watch()))
        tip = (f"The proxy boot success in cluster mode, grpcServerPort={config.grpcServerPort}, "
               f"name server is {config.namesrvAddr}")
        log.info(tip)
        print(tip, flush=True)

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await endpoint.stop()
        await backend.close()
        log.info("The proxy shutdown.")

    return run_server(start, stop)


if __name__ == "__main__":
    sys.exit(main())
