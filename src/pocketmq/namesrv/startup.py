"""``mqnamesrv``: start a name server as upstream's NamesrvStartup does (-c, -p, -m, -h,
--<configKey>=<value>), log to ~/logs/rocketmqlogs/namesrv.log, stop cleanly on SIGTERM."""

from __future__ import annotations

import logging
import ssl
import sys

from pocketmq.config import NamesrvConfig
from pocketmq.controller.config import ControllerConfig
from pocketmq.controller.service import ControllerService
from pocketmq.namesrv.controller import NamesrvController
from pocketmq.security.remote_address import AclConfigError
from pocketmq.security.tls import server_tls, tls_config
from pocketmq.process import (
    apply_all, load_config_values, parse_startup_args, print_config, run_server, setup_logging,
)

log = logging.getLogger("pocketmq.namesrv")


def main(argv: list[str] | None = None) -> int:
    args = parse_startup_args("mqnamesrv", sys.argv[1:] if argv is None else argv, with_namesrv=False)
    config = NamesrvConfig()
    controller_config = ControllerConfig()
    values = load_config_values(args)
    apply_all([config, controller_config], values)
    try:
        tls = tls_config(values)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    shown = [config, controller_config] if config.enableControllerInNamesrv else [config]
    if args.print_all or args.print_important:
        print_config(shown, important_only=args.print_important)
        return 0
    setup_logging(config.logDir, "namesrv.log")
    try:
        controller = NamesrvController(config, tls=server_tls(tls))
        # upstream NamesrvStartup: with enableControllerInNamesrv the name server also runs a
        # controller, on the controller's own port.
        hosted = ControllerService(controller_config) if config.enableControllerInNamesrv else None
    except (AclConfigError, OSError, ssl.SSLError, ValueError) as exc:  # a bad ACL/TLS file or controller key
        print(f"The Name Server cannot start: {exc}", file=sys.stderr)
        return 1

    async def start() -> None:
        await controller.start()
        if hosted is not None:
            await hosted.start()
            log.info("The Controller in the Name Server boot success, listenPort=%d", hosted.port)
        log.info("The Name Server boot success. serializeType=JSON, listenPort=%d", controller.port)
        print("The Name Server boot success. serializeType=JSON", flush=True)

    async def stop() -> None:
        if hosted is not None:
            await hosted.shutdown()
        await controller.shutdown()
        log.info("The Name Server shutdown.")

    return run_server(start, stop)


if __name__ == "__main__":
    sys.exit(main())
