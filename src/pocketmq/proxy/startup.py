"""``mqproxy``: the RocketMQ 5 gRPC endpoint in cluster mode, as upstream's ProxyStartup
(``mqproxy -n <namesrv>``; -c, -p, -m, --<configKey>=<value>, NAMESRV_ADDR): finds brokers through
the name servers, serves gRPC on grpcServerPort (8081), logs to ~/logs/rocketmqlogs/proxy.log
and stops cleanly on SIGTERM."""

from __future__ import annotations

import logging
import sys

from pocketmq.process import (
    apply_all, load_config_values, parse_startup_args, print_config, run_server, setup_logging,
)
from pocketmq.proxy.backend import ClusterBackend
from pocketmq.proxy.config import ProxyConfig
from pocketmq.proxy.server import GrpcEndpoint
from pocketmq.proxy.service import MessagingService

log = logging.getLogger("pocketmq.proxy")


def build_config(argv: list[str]) -> tuple[ProxyConfig, bool, bool]:
    args = parse_startup_args("mqproxy", argv, with_namesrv=True)
    config = ProxyConfig()
    values = load_config_values(args)
    if args.namesrv_addr:
        values["namesrvAddr"] = args.namesrv_addr
    apply_all([config], values)
    return config, args.print_all, args.print_important


def check_config(config: ProxyConfig) -> str | None:
    if config.proxyMode.lower() != "cluster":
        return f"mqproxy runs in cluster mode only (proxyMode={config.proxyMode}); use mqbroker --enable-proxy"
    if not config.namesrvAddr:
        return "Please set the namesrvAddr (-n or NAMESRV_ADDR)"
    if not 0 < config.grpcServerPort < 65536:
        return f"grpcServerPort {config.grpcServerPort} is not a port"
    return None


def main(argv: list[str] | None = None) -> int:
    config, print_all, print_important = build_config(sys.argv[1:] if argv is None else argv)
    if print_all or print_important:
        print_config([config], important_only=print_important)
        return 0
    problem = check_config(config)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    setup_logging(config.logDir, "proxy.log")
    backend = ClusterBackend(config.namesrvAddr, timeout_ms=config.remotingTimeoutMillis)
    endpoint = GrpcEndpoint(MessagingService(config, backend), config.grpcServerPort)

    async def start() -> None:
        await backend.start()
        await endpoint.start()
        tip = (f"The proxy boot success in cluster mode, grpcServerPort={config.grpcServerPort}, "
               f"name server is {config.namesrvAddr}")
        log.info(tip)
        print(tip, flush=True)

    async def stop() -> None:
        await endpoint.stop()
        await backend.close()
        log.info("The proxy shutdown.")

    return run_server(start, stop)


if __name__ == "__main__":
    sys.exit(main())
