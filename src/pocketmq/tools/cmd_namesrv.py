"""Name-server subcommands (upstream ``tools/command/namesrv``): updateKvConfig, deleteKvConfig,
getNamesrvConfig, updateNamesrvConfig, wipeWritePerm, addWritePerm. KV and perm changes go to
every name server given with ``-n`` (or ``NAMESRV_ADDR``)."""

from __future__ import annotations

from pocketmq.tools.command import Context, Opt, command


@command("updateKvConfig", "Create or update KV config.",
         [Opt("s", "namespace", True, "set the namespace", required=True),
          Opt("k", "key", True, "set the key name", required=True),
          Opt("v", "value", True, "set the key value", required=True)])
async def update_kv_config(ctx: Context, cl) -> None:  # noqa: ANN001
    await (await ctx.admin()).put_kv(cl.get("s"), cl.get("k"), cl.get("v"))
    ctx.printf("create or update kv config to namespace success.%n")


@command("deleteKvConfig", "Delete KV config.",
         [Opt("s", "namespace", True, "set the namespace", required=True),
          Opt("k", "key", True, "set the key name", required=True)])
async def delete_kv_config(ctx: Context, cl) -> None:  # noqa: ANN001
    await (await ctx.admin()).delete_kv(cl.get("s"), cl.get("k"))
    ctx.printf("delete kv config from namespace success.%n")


def _servers(cl) -> list[str] | None:  # noqa: ANN001
    value = cl.get("n")
    if not value:
        return None
    return [s for s in value.replace(",", ";").split(";") if s]


@command("getNamesrvConfig", "Get configs of name server.", [], json=True)
async def get_namesrv_config(ctx: Context, cl) -> None:  # noqa: ANN001
    configs = await (await ctx.admin()).namesrv_config(_servers(cl))
    if ctx.json:
        ctx.emit_json(configs)
        return
    for addr, props in configs.items():
        ctx.printf("============%s============\n", addr)
        for key, value in props.items():
            ctx.printf("%-50s=  %s\n", key, value)


@command("updateNamesrvConfig", "Update configs of name server.",
         [Opt("k", "key", True, "config key", required=True), Opt("v", "value", True, "config value", required=True)])
async def update_namesrv_config(ctx: Context, cl) -> None:  # noqa: ANN001
    key, value = cl.get("k"), cl.get("v")
    servers = _servers(cl)
    await (await ctx.admin()).update_namesrv_config({key: value}, servers)
    shown = "" if servers is None else "[" + ", ".join(servers) + "]"
    ctx.printf("update name server config success!%s\n%s : %s\n", shown, key, value)


async def _perm(ctx: Context, cl, wipe: bool) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    admin._need_namesrv()
    name = cl.get("b")
    verb = "wipe" if wipe else "add"
    for addr in admin.namesrv_addrs:
        try:
            count = await (admin.wipe_write_perm(addr, name) if wipe else admin.add_write_perm(addr, name))
            ctx.printf(f"{verb} write perm of broker[%s] in name server[%s] OK, %d%n", name, addr, count)
        except Exception as exc:
            ctx.printf(f"{verb} write perm of broker[%s] in name server[%s] Failed%n", name, addr)
            ctx.error(f"{verb}WritePerm: {addr}: {exc}")


@command("wipeWritePerm", "Wipe write perm of broker in all name server you defined in the -n param",
         [Opt("b", "brokerName", True, "broker name", required=True)])
async def wipe_write_perm(ctx: Context, cl) -> None:  # noqa: ANN001
    await _perm(ctx, cl, wipe=True)


@command("addWritePerm", "Add write perm of broker in all name server you defined in the -n param",
         [Opt("b", "brokerName", True, "broker name", required=True)])
async def add_write_perm(ctx: Context, cl) -> None:  # noqa: ANN001
    await _perm(ctx, cl, wipe=False)
