"""``mqcontroller``: start a standalone controller as upstream's ControllerStartup does
(-c, -p, -m, --<configKey>=<value>), log to ~/logs/rocketmqlogs/controller.log, stop cleanly on
SIGTERM."""

from __future__ import annotations

import logging
import sys

from pocketmq.controller.config import ControllerConfig
from pocketmq.controller.service import ControllerService
from pocketmq.process import apply_all, load_config_values, parse_startup_args, print_config, run_server, setup_logging

log = logging.getLogger("pocketmq.controller")


def main(argv: list[str] | None = None) -> int:
    args = parse_startup_args("mqcontroller", sys.argv[1:] if argv is None else argv, with_namesrv=False)
    config = ControllerConfig()
    apply_all([config], load_config_values(args))
    if args.print_all or args.print_important:
        print_config([config], important_only=args.print_important)
        return 0
    try:
        service = ControllerService(config)
    except ValueError as exc:
        print(f"The Controller cannot start: {exc}", file=sys.stderr)
        return 1
    setup_logging(config.logDir, "controller.log")

    async def start() -> None:
        await service.start()
        log.info("The Controller boot success, listenPort=%d, store=%s", service.port, service.store.describe())
        print(f"The Controller boot success. listenPort={service.port}", flush=True)

    async def stop() -> None:
        await service.shutdown()
        log.info("The Controller shutdown.")

    return run_server(start, stop)


if __name__ == "__main__":
    sys.exit(main())
