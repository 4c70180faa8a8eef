"""``mqbroker``: start a broker as upstream's BrokerStartup does (-c, -n, -p, -m, -h,
--<configKey>=<value>, NAMESRV_ADDR), log to ~/logs/rocketmqlogs/broker.log, register with the
name servers and stop cleanly (unregistering) on SIGTERM."""

from __future__ import annotations

import logging
import os
import ssl
import sys

from pocketmq.broker.controller import BrokerController
from pocketmq.config import BrokerConfig, MessageStoreConfig
from pocketmq.security.remote_address import AclConfigError
from pocketmq.security.tls import TlsConfig, client_context, server_tls, tls_config
from pocketmq.process import (
    apply_all, load_config_values, parse_startup_args, print_config, run_server, setup_logging,
)

log = logging.getLogger("pocketmq.broker")


def build_configs(argv: list[str]) -> tuple[BrokerConfig, MessageStoreConfig, str | None, bool, bool, TlsConfig]:
    args = parse_startup_args("mqbroker", argv, with_namesrv=True)
    broker_config = BrokerConfig()
    store_config = MessageStoreConfig()
    values = load_config_values(args)
    if args.namesrv_addr:
        values["namesrvAddr"] = args.namesrv_addr
    apply_all([broker_config, store_config], values)
    broker_config.namesrvAddr = broker_config.namesrvAddr.replace(",", ";")
    config_file = os.path.abspath(args.config_file) if args.config_file else None
    try:
        tls = tls_config(values)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return broker_config, store_config, config_file, args.print_all, args.print_important, tls


def check_configs(broker: BrokerConfig, store: MessageStoreConfig) -> str | None:
    if store.brokerRole not in ("ASYNC_MASTER", "SYNC_MASTER", "SLAVE"):
        return f"brokerRole must be ASYNC_MASTER, SYNC_MASTER or SLAVE, not {store.brokerRole}"
    if store.flushDiskType not in ("ASYNC_FLUSH", "SYNC_FLUSH"):
        return f"flushDiskType must be ASYNC_FLUSH or SYNC_FLUSH, not {store.flushDiskType}"
    if store.brokerRole == "SLAVE" and broker.brokerId <= 0:
        return "Slave's brokerId must be > 0"
    if store.timerPrecisionMs <= 0:
        return f"timerPrecisionMs must be > 0, not {store.timerPrecisionMs}"
    for address in filter(None, broker.namesrvAddr.split(";")):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            return (f"Please set the namesrvAddr correctly, e.g. 127.0.0.1:9876;192.168.0.1:9876; "
                    f"{address!r} is not host:port")
    return None


def prepare_controller(broker_config: BrokerConfig, store_config: MessageStoreConfig, config_file: str | None,
                       tls: TlsConfig) -> BrokerController | None:
    """Check the configs, start logging, build the broker; None after one line on stderr."""
    problem = check_configs(broker_config, store_config)
    if problem:
        print(problem, file=sys.stderr)
        return None
    setup_logging(broker_config.logDir, "broker.log")
    return make_controller(broker_config, store_config, config_file, tls)


def make_controller(broker_config: BrokerConfig, store_config: MessageStoreConfig, config_file: str | None,
                    tls: TlsConfig) -> BrokerController | None:
    """The broker, or None after one line on stderr when its ACL or TLS files are bad."""
    try:
        return BrokerController(broker_config, store_config, config_file=config_file, tls=server_tls(tls),
                                client_ssl=client_context(tls))
    except (AclConfigError, OSError, ssl.SSLError) as exc:  # a bad plain_acl.yml or TLS file
        print(f"The broker cannot start: {exc}", file=sys.stderr)
        return None


def boot_line(broker_config: BrokerConfig) -> str:
    """Upstream's boot line, which scripts and tests wait for."""
    tip = f"The broker[{broker_config.brokerName}, {broker_config.broker_addr()}] boot success. serializeType=JSON"
    if broker_config.namesrvAddr:
        tip += f" and name server is {broker_config.namesrvAddr}"
    return tip


def announce(line: str) -> None:
    log.info(line)
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    broker_config, store_config, config_file, print_all, print_important, tls = build_configs(
        sys.argv[1:] if argv is None else argv)
    if print_all or print_important:
        print_config([broker_config, store_config], important_only=print_important)
        return 0
    controller = prepare_controller(broker_config, store_config, config_file, tls)
    if controller is None:
        return 1

    async def start() -> None:
        await controller.start()
        announce(boot_line(broker_config))

    async def stop() -> None:
        await controller.shutdown()
        log.info("The broker[%s, %s] shutdown.", broker_config.brokerName, broker_config.broker_addr())

    return run_server(start, stop)


if __name__ == "__main__":
    sys.exit(main())
