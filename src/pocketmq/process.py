"""What every PocketMQ server process shares: the upstream-style command line (-c, -p, -m, -h,
--key=value), logging to a file under ~/logs/rocketmqlogs, the event loop (uvloop when
installed) and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import logging.handlers
import os
import resource
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pocketmq.config import (
    ConfigError, apply_properties, config_items, format_value, load_properties_file, parse_cli_overrides,
)


@dataclass
class StartupArgs:
    config_file: str | None = None
    print_all: bool = False
    print_important: bool = False
    namesrv_addr: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)


def parse_startup_args(prog: str, argv: list[str], with_namesrv: bool) -> StartupArgs:
    parser = argparse.ArgumentParser(prog=prog, add_help=True,
                                     epilog="Any config key can be set with --<configKey>=<value>.")
    parser.add_argument("-c", "--configFile", dest="config_file", help="Config properties file")
    parser.add_argument("-p", "--printConfigItem", dest="print_all", action="store_true",
                        help="Print all config items")
    parser.add_argument("-m", "--printImportantConfig", dest="print_important", action="store_true",
                        help="Print important config items")
    if with_namesrv:
        parser.add_argument("-n", "--namesrvAddr", dest="namesrv_addr",
                            help="Name server address list, eg: 192.168.0.1:9876;192.168.0.2:9876")
    known, rest = parser.parse_known_args(argv)
    try:
        overrides = parse_cli_overrides(rest)
    except ConfigError as exc:
        parser.error(str(exc))
    return StartupArgs(config_file=known.config_file, print_all=known.print_all,
                       print_important=known.print_important,
                       namesrv_addr=getattr(known, "namesrv_addr", None), overrides=overrides)


def load_config_values(args: StartupArgs) -> dict[str, str]:
    """Properties from -c (relative paths are taken from the current directory), then overrides."""
    values: dict[str, str] = {}
    if args.config_file:
        try:
            values.update(load_properties_file(args.config_file))
        except OSError as exc:
            raise SystemExit(f"cannot read config file {args.config_file}: {exc.strerror}") from None
    values.update(args.overrides)
    return values


def apply_all(configs: list[Any], values: dict[str, str]) -> None:
    """Apply ``values`` to each config: as upstream, one key may set several configs."""
    for config in configs:
        try:
            apply_properties(config, values)
        except ConfigError as exc:
            raise SystemExit(str(exc)) from None


def print_config(configs: list[Any], important_only: bool) -> None:
    for config in configs:
        keys = getattr(config, "IMPORTANT_KEYS", ()) if important_only else None
        for key, value in config_items(config).items():
            if keys is None or key in keys:
                print(f"{key}={format_value(value)}")


LOG_FILE_MAX_BYTES = 128 * 1024 * 1024
LOG_FILE_BACKUPS = 10


def setup_logging(log_dir: str, file_name: str, max_bytes: int = LOG_FILE_MAX_BYTES,
                  backups: int = LOG_FILE_BACKUPS) -> str:
    """Log to ``log_dir/file_name``, rolled by size as upstream's logback setup does: at
    ``max_bytes`` the file moves to ``otherdays/<name>.1.log`` (older ones shift up, at most
    ``backups`` kept). Rolling by size, not by date, keeps it independent of the clock."""
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, file_name)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups)
    handler.namer = _otherdays_namer
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s - %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    return path


def _otherdays_namer(default_name: str) -> str:
    """``.../broker.log.3`` -> ``.../otherdays/broker.3.log`` (upstream's file names)."""
    base, _, index = default_name.rpartition(".")
    folder, name = os.path.split(base)
    stem, ext = os.path.splitext(name)
    otherdays = os.path.join(folder, "otherdays")
    os.makedirs(otherdays, exist_ok=True)
    return os.path.join(otherdays, f"{stem}.{index}{ext}")


def install_event_loop_policy() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def raise_open_files_limit() -> tuple[int, int]:
    """Lift the soft limit on open files to the hard one, as the JVM does for upstream's servers
    (-XX:+MaxFDLimit, on by default): a broker maps a file per consume queue, and a soft limit of
    1,024 would end it at a few hundred queues. Returns the (soft, hard) limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft >= hard:
        return soft, hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:
        logging.getLogger("pocketmq").warning("cannot raise the open files limit from %d to %d: %s", soft, hard, exc)
        return soft, hard
    return hard, hard


# The young generation's collection threshold for a running server (CPython's default is 700).
# A request that waits (a SYNC_FLUSH send for its fsync, a SYNC_MASTER send for its slave, a
# long-polling pull) keeps its coroutine, command and future alive across loop turns, so with
# tens of requests in flight the allocation count crosses 700 every few requests and the
# collector runs on the hot path, finding almost nothing to free: 3.6 us of CPU per send at 64
# SYNC_FLUSH sends in flight (bench/README.md, "The garbage collector"). Nearly every object
# here is freed by its reference count; the collector is kept for the rare cycle.
GC_YOUNG_THRESHOLD = 50_000


def tune_garbage_collector() -> None:
    """Collect what booting left, then collect the young generation every
    ``GC_YOUNG_THRESHOLD`` allocations instead of every 700 (older generations keep their
    default ratios to it)."""
    gc.collect()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def run_server(start: Callable[[], Awaitable[Any]], stop: Callable[[], Awaitable[None]]) -> int:
    """Start, wait for SIGTERM/SIGINT, stop. A failure to start exits non-zero with its reason."""
    install_event_loop_policy()
    raise_open_files_limit()

    async def main() -> int:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        try:
            await start()
        except OSError as exc:
            print(f"startup failed: {exc}", file=sys.stderr, flush=True)
            logging.getLogger("pocketmq").error("startup failed: %s", exc)
            await stop()
            return 1
        tune_garbage_collector()
        await stopping.wait()
        await stop()
        return 0

    return asyncio.run(main())
