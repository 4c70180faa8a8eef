"""The subcommand frame: options as upstream declares them (commons-cli ``Option``: short name,
long name, takes a value or not, description, required), a POSIX-style parser, the help text
``mqadmin help <command>`` prints (commons-cli ``HelpFormatter`` layout, width 110), and the
``Context`` a command runs in (output, the admin connection, failures to report).

Every subcommand gets ``-h/--help`` and ``-n/--namesrvAddr`` as upstream; listing commands also
get ``--json`` (PocketMQ extension).
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TextIO

from pocketmq.client.errors import MQBrokerError
from pocketmq.security.credentials import SessionCredentials
from pocketmq.tools.admin_ext import AdminError, AdminExt
from pocketmq.tools.jfmt import hashmap_order, jformat


@dataclass(frozen=True)
class Opt:
    short: str | None
    long: str
    has_arg: bool
    desc: str
    required: bool = False
    group: str | None = None  # a required one-of group (commons-cli OptionGroup)
    hidden: bool = False  # accepted but left out of the help, which stays upstream's

    @property
    def key(self) -> str:
        return self.short or self.long


COMMON = (Opt("h", "help", False, "Print help"),
          Opt("n", "namesrvAddr", True, "Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'"),
          # PocketMQ extensions (docs/security.md); without them ${ROCKETMQ_HOME}/conf/tools.yml.
          Opt(None, "accessKey", True, "ACL access key", hidden=True),
          Opt(None, "secretKey", True, "ACL secret key", hidden=True),
          Opt(None, "useTLS", False, "TLS to name servers and brokers", hidden=True))
JSON_OPT = Opt(None, "json", False, "Print the result as JSON (PocketMQ extension)")


class UsageError(Exception):
    pass


class CommandLine:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def has(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key)
        return default if value is None or value is True else str(value).strip()

    def flag(self, key: str) -> bool:
        return key in self.values


def parse(options: list[Opt], argv: list[str]) -> CommandLine:
    by_short = {o.short: o for o in options if o.short}
    by_long = {o.long: o for o in options}
    values: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token.startswith("--") and len(token) > 2:
            name, eq, inline = token[2:].partition("=")
            opt = by_long.get(name)
            if opt is None:
                raise UsageError(f"Unrecognized option: {token}")
        elif token.startswith("-") and len(token) > 1:
            # commons-cli: a short name may be longer than one letter (electMaster's -bn)
            name, inline, eq = (token[1:], "", "") if token[1:] in by_short else (token[1], token[2:], "")
            opt = by_short.get(name)
            if opt is None:
                raise UsageError(f"Unrecognized option: {token}")
            if inline and not opt.has_arg:
                raise UsageError(f"Unrecognized option: {token}")
            eq = "=" if inline else ""
        else:
            continue  # commons-cli keeps stray arguments; commands ignore them
        if opt.has_arg:
            if eq:
                values[opt.key] = inline
            elif i < len(argv):
                values[opt.key] = argv[i]
                i += 1
            else:
                raise UsageError(f"Missing argument for option: {opt.key}")
        else:
            values[opt.key] = True
    missing = [o.key for o in options if o.required and o.key not in values]
    if missing:
        raise UsageError(f"Missing required option{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    groups: dict[str, list[Opt]] = {}
    for o in options:
        if o.group:
            groups.setdefault(o.group, []).append(o)
    for members in groups.values():
        chosen = [o for o in members if o.key in values]
        if not chosen:
            raise UsageError(f"Missing required option: [{', '.join('-' + o.key for o in members)}]")
        if len(chosen) > 1:
            raise UsageError(f"The option '{chosen[1].key}' was specified but an option from this group has already "
                             f"been selected: '{chosen[0].key}'")
    return CommandLine(values)


def help_text(app: str, options: list[Opt], width: int = 110) -> str:
    """commons-cli HelpFormatter.printHelp(app, options, autoUsage=true)."""
    ordered = sorted((o for o in options if not o.hidden), key=lambda o: o.key.lower())

    def usage_item(o: Opt) -> str:
        text = ("-" + o.short) if o.short else ("--" + o.long)
        return text + (" <arg>" if o.has_arg else "")

    parts: list[str] = []
    seen_groups: set[str] = set()
    for o in ordered:
        if o.group:
            if o.group in seen_groups:
                continue
            seen_groups.add(o.group)
            members = [m for m in ordered if m.group == o.group]
            parts.append("(" + " | ".join(usage_item(m) for m in members) + ")")
        else:
            parts.append(usage_item(o) if o.required else f"[{usage_item(o)}]")
    usage = textwrap.fill(f"usage: {app} " + " ".join(parts), width=width,
                          subsequent_indent=" " * (len(f"usage: {app} ")), break_on_hyphens=False)
    lines = [usage]
    left = []
    for o in ordered:
        text = (f"-{o.short},--{o.long}" if o.short else f"   --{o.long}") + (" <arg>" if o.has_arg else "")
        left.append((" " + text, o.desc))
    pad = max(len(text) for text, _ in left) + 3
    for text, desc in left:
        wrapped = textwrap.wrap(desc, width=max(20, width - pad)) or [""]
        lines.append(text.ljust(pad) + wrapped[0])
        lines += [" " * pad + more for more in wrapped[1:]]
    return "\n".join(lines) + "\n"


@dataclass
class Context:
    """What a running command uses: ``admin`` (started on first use), ``out``/``printf`` for stdout,
    ``error`` for a one-line failure that still lets the command go on (exit code 1)."""

    namesrv: list[str]
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    json: bool = False
    failed: bool = False
    credentials: SessionCredentials | None = None
    use_tls: bool = False
    _admin: AdminExt | None = None

    async def admin(self) -> AdminExt:
        if self._admin is None:
            self._admin = await AdminExt(self.namesrv, credentials=self.credentials, use_tls=self.use_tls).start()
        return self._admin

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.shutdown()
            self._admin = None

    def printf(self, fmt: str, *args: Any) -> None:
        self.out.write(jformat(fmt, *args))

    def write(self, text: str) -> None:
        self.out.write(text)

    def emit_json(self, value: Any) -> None:
        self.out.write(json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")

    def error(self, message: str) -> None:
        self.failed = True
        self.err.write(f"mqadmin: {message}\n")
        self.err.flush()

    async def on_brokers(self, cl: "CommandLine", command: str, action: Callable[[str], Awaitable[None]]) -> None:
        """Upstream's -b/-c choice: with -b run ``action`` on that broker (a failure fails the
        command); with -c on every master of the cluster, a failure is reported per broker and the
        others go on."""
        if cl.has("b"):
            await action(cl.get("b"))
            return
        if not cl.has("c"):
            raise AdminError("give -b <brokerAddr> or -c <clusterName>")
        admin = await self.admin()
        for addr in hashmap_order(await admin.master_addrs(cl.get("c"))):
            try:
                await action(addr)
            except (MQBrokerError, OSError) as exc:
                self.error(f"{command}: {addr}: {exc}")


Runner = Callable[[Context, CommandLine], Awaitable[None]]


@dataclass
class Command:
    name: str
    desc: str
    options: list[Opt]
    run: Runner
    alias: str | None = None
    json: bool = False  # a listing command: gets --json

    def all_options(self) -> list[Opt]:
        return [*COMMON, *self.options, *([JSON_OPT] if self.json else [])]


REGISTRY: list[Command] = []


def command(name: str, desc: str, options: list[Opt] | tuple[Opt, ...] = (), *, alias: str | None = None,
            json: bool = False) -> Callable[[Runner], Runner]:
    def register(fn: Runner) -> Runner:
        REGISTRY.append(Command(name, desc, list(options), fn, alias, json))
        return fn
    return register


def find(name: str) -> Command | None:
    for cmd in REGISTRY:
        if cmd.name.lower() == name.lower() or (cmd.alias and cmd.alias.lower() == name.lower()):
            return cmd
    return None
