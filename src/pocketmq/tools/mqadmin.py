"""``mqadmin``: RocketMQ 4.9's operator tool, command for command (``mqadmin <subcommand> -n ns ...``,
``mqadmin help <subcommand>``, ``mqadmin`` alone lists the subcommands).

Name servers come from ``-n`` (``;`` or ``,`` separated) or ``NAMESRV_ADDR``. Unlike upstream,
which prints a stack trace and exits 0, every failure here is one line on stderr
(``mqadmin: <command>: <reason>``) and exit code 1; a usage error prints the help and exits 1.

The subcommands live in one module per group: ``cmd_cluster``, ``cmd_topic``, ``cmd_group``,
``cmd_broker``, ``cmd_message``, ``cmd_namesrv``, ``cmd_inspect``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from typing import TextIO

from pocketmq.client.errors import MQBrokerError, MQClientError
from pocketmq.remoting.transport import RemotingConnectError, RemotingError, RemotingTimeoutError
from pocketmq.security.credentials import TOOLS_FILE, SessionCredentials, default_home, load_tools_yml
from pocketmq.tools import (  # noqa: F401 - each module registers its subcommands
    cmd_broker, cmd_cluster, cmd_controller, cmd_group, cmd_inspect, cmd_message, cmd_namesrv, cmd_topic,
)
from pocketmq.tools.admin_ext import AdminError, NoNamesrvError
from pocketmq.tools.command import REGISTRY, Command, Context, UsageError, find, help_text, parse

# Upstream's registration order (MQAdminStartup.initCommand), which the command list follows.
ORDER = ["updateTopic", "deleteTopic", "updateSubGroup", "deleteSubGroup", "updateBrokerConfig", "updateTopicPerm",
         "topicRoute", "topicStatus", "topicClusterList", "brokerStatus", "queryMsgById", "queryMsgByKey",
         "queryMsgByUniqueKey", "queryMsgByOffset", "printMsg", "printMsgByQueue", "brokerConsumeStats",
         "producerConnection", "consumerConnection", "consumerProgress", "consumerStatus", "cloneGroupOffset",
         "producer", "clusterList", "topicList", "updateKvConfig", "deleteKvConfig", "wipeWritePerm", "addWritePerm",
         "resetOffsetByTime", "cleanExpiredCQ", "deleteExpiredCommitLog", "cleanUnusedTopic", "statsAll",
         "clusterRT", "getNamesrvConfig", "updateNamesrvConfig", "getBrokerConfig", "queryCq", "sendMessage",
         "consumeMessage"]


def commands() -> list[Command]:
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(REGISTRY, key=lambda c: rank.get(c.name, len(rank)))


def print_command_list(out: TextIO) -> None:
    out.write("The most commonly used mqadmin commands are:\n")
    for cmd in commands():
        out.write(f"   {cmd.name:<20} {cmd.desc}\n")
    out.write("\nSee 'mqadmin help <command>' for more information on a specific command.\n")


def namesrv_list(value: str | None) -> list[str]:
    if value is None:
        value = os.environ.get("NAMESRV_ADDR", "")
    return [a.strip() for a in re.split(r"[;,]", value) if a.strip()]


def credentials(access_key: str | None, secret_key: str | None) -> SessionCredentials | None:
    """--accessKey/--secretKey when both are given, else ${ROCKETMQ_HOME}/conf/tools.yml as
    upstream's mqadmin reads it (ROCKETMQ_HOME unset: this distribution's folder)."""
    if access_key and secret_key:
        return SessionCredentials(access_key, secret_key)
    home = default_home(os.environ.get("ROCKETMQ_HOME", ""))
    return load_tools_yml(os.path.join(home, TOOLS_FILE))


def describe(exc: BaseException) -> str:
    if isinstance(exc, MQBrokerError):
        remark = (exc.remark or "").splitlines()[0] if exc.remark else exc.remark
        return f"CODE: {exc.code}  DESC: {remark}"
    if isinstance(exc, (RemotingTimeoutError, asyncio.TimeoutError)):
        return f"request timed out{': ' + str(exc) if str(exc) else ''}"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


async def _run(cmd: Command, ctx: Context, cl) -> None:  # noqa: ANN001
    try:
        await cmd.run(ctx, cl)
    finally:
        await ctx.close()


def run(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if not argv:
        print_command_list(out)
        return 0
    if argv[0] == "help" and len(argv) == 2:
        cmd = find(argv[1])
        if cmd is None:
            err.write(f"The sub command {argv[1]} not exist.\n")
            return 1
        out.write(help_text(f"mqadmin {cmd.name}", cmd.all_options()))
        return 0
    cmd = find(argv[0])
    if cmd is None:
        err.write(f"The sub command {argv[0]} not exist.\n")
        return 1
    options = cmd.all_options()
    try:
        cl = parse(options, argv[1:])
    except UsageError as exc:
        err.write(f"mqadmin {cmd.name}: {exc}\n")
        out.write(help_text(f"mqadmin {cmd.name}", options))
        return 1
    if cl.flag("h"):
        out.write(help_text(f"mqadmin {cmd.name}", options))
        return 0
    ctx = Context(namesrv=namesrv_list(cl.get("n")), out=out, err=err, json=cl.flag("json"),
                  credentials=credentials(cl.get("accessKey"), cl.get("secretKey")),
                  use_tls=cl.flag("useTLS") or os.environ.get("TLS_ENABLE", "").lower() == "true")
    try:
        asyncio.run(_run(cmd, ctx, cl))
    except NoNamesrvError as exc:
        ctx.error(str(exc))
    except RemotingConnectError as exc:
        ctx.error(f"{cmd.name}: {describe(exc)}")
    except (AdminError, MQBrokerError, MQClientError, RemotingError, OSError, asyncio.TimeoutError, ValueError) as exc:
        ctx.error(f"{cmd.name}: {describe(exc)}")
    except KeyboardInterrupt:
        return 130
    finally:
        out.flush()
    return 1 if ctx.failed else 0


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.CRITICAL)
    sys.exit(run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
