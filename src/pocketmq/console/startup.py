"""``mqconsole``: the built-in web console as its own process (-n for the name servers,
--consolePort, --consoleHost), logging to ~/logs/rocketmqlogs/console.log, stopping cleanly on
SIGTERM. ``make cluster`` starts one and prints its URL."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from pocketmq.config import ConsoleConfig
from pocketmq.console.app import build_app
from pocketmq.console.service import ConsoleService
from pocketmq.security.credentials import SessionCredentials
from pocketmq.process import apply_all, load_config_values, parse_startup_args, print_config, run_server, setup_logging

log = logging.getLogger("pocketmq.console")


def main(argv: list[str] | None = None) -> int:
    args = parse_startup_args("mqconsole", sys.argv[1:] if argv is None else argv, with_namesrv=True)
    config = ConsoleConfig()
    values = load_config_values(args)
    if args.namesrv_addr:
        values["namesrvAddr"] = args.namesrv_addr
    apply_all([config], values)
    if args.print_all or args.print_important:
        print_config([config], important_only=args.print_important)
        return 0
    if not config.namesrvAddr:
        raise SystemExit("mqconsole: no name server address: give -n host:port or set NAMESRV_ADDR")
    setup_logging(config.logDir, "console.log")
    credentials = None
    if config.consoleAccessKey:
        credentials = SessionCredentials(config.consoleAccessKey, config.consoleSecretKey)
    svc = ConsoleService(config.namesrvAddr, timeout=config.consoleAdminTimeoutMillis / 1000,
                         credentials=credentials, use_tls=config.consoleUseTLS)
    runner = web.AppRunner(build_app(svc, config.consoleReadOnly), access_log=log)

    async def start() -> None:
        await svc.start()
        await runner.setup()
        await web.TCPSite(runner, config.consoleHost, config.consolePort).start()
        url = f"http://{'127.0.0.1' if config.consoleHost in ('0.0.0.0', '') else config.consoleHost}:{config.consolePort}/"
        log.info("The console boot success at %s, name servers %s", url, config.namesrvAddr)
        print(f"The console boot success. {url}", flush=True)

    async def stop() -> None:
        await runner.cleanup()
        await svc.shutdown()

    return run_server(start, stop)


if __name__ == "__main__":
    sys.exit(main())
