"""The console's web application (aiohttp, on the process's event loop): one handler a page or
action, forms posted and redirected back with a one-line notice or error (post/redirect/get),
and two small JSON feeds for the live charts. Handlers only translate HTTP to ``ConsoleService``
calls and its results to ``pages``; a failure becomes a page that says what went wrong."""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote, urlencode

from aiohttp import web

from pocketmq.console import pages
from pocketmq.console.service import DLQ_PREFIX, MAX_BODY_BYTES, ConsoleError, ConsoleService, PutLatency

STATIC = Path(__file__).with_name("static")
SERVICE: web.AppKey[ConsoleService] = web.AppKey("service", ConsoleService)
LATENCY: web.AppKey[PutLatency] = web.AppKey("latency", PutLatency)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def back(location: str, *, notice: str | None = None, error: str | None = None) -> web.HTTPSeeOther:
    query = {k: v for k, v in (("notice", notice), ("error", error)) if v}
    sep = "&" if "?" in location else "?"
    return web.HTTPSeeOther(location + (sep + urlencode(query) if query else ""))


def flash(request: web.Request) -> dict[str, str | None]:
    return {"notice": request.query.get("notice"), "error": request.query.get("error")}


def with_flash(page: str, request: web.Request) -> str:
    """Insert the redirect's notice or error under the page's heading."""
    notes = flash(request)
    extra = "".join(f'<p class="{cls}" id="{cls}">{pages.esc(text)}</p>'
                    for cls, text in (("notice", notes["notice"]), ("error", notes["error"])) if text)
    return page.replace("</h1>", "</h1>" + extra, 1) if extra else page


def guarded(title: str) -> Callable[[Handler], Handler]:
    """A page whose data could not be had says why (502), instead of a traceback or a hang."""
    def wrap(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ConsoleError as exc:
                return html(pages.error_page(title, str(exc)), status=502)
        return run
    return wrap


def service(request: web.Request) -> ConsoleService:
    return request.app[SERVICE]


# ---------------------------------------------------------------------- pages
@guarded("Cluster")
async def cluster(request: web.Request) -> web.StreamResponse:
    brokers = await service(request).brokers()
    return html(with_flash(pages.cluster_page(brokers, service(request).namesrv_addr), request))


@guarded("Topics")
async def topics(request: web.Request) -> web.StreamResponse:
    svc = service(request)
    page = pages.topics_page(await svc.topics(), await svc.clusters(), request.query.get("system") == "1")
    return html(with_flash(page, request))


async def create_topic(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    topic = str(form.get("topic", "")).strip()
    try:
        await service(request).create_topic(topic, str(form.get("cluster", "")), int(str(form.get("queues", "8"))),
                                            int(str(form.get("perm", "6"))))
    except (ConsoleError, ValueError) as exc:
        raise back("/topics", error=f"topic {topic!r} not saved: {exc}") from None
    raise back(pages.url("topic", topic), notice=f"topic {topic} saved")


@guarded("Topic")
async def topic(request: web.Request) -> web.StreamResponse:
    name = request.match_info["topic"]
    svc = service(request)
    try:
        route, queues = await svc.topic_queues(name)
    except ConsoleError as exc:
        return html(pages.error_page(f"Topic {name}", f"no such topic {name!r}: {exc}"), status=404)
    return html(with_flash(pages.topic_page(name, route, queues, await svc.clusters()), request))


async def delete_topic(request: web.Request) -> web.StreamResponse:
    name = request.match_info["topic"]
    form = await request.post()
    try:
        await service(request).delete_topic(name, str(form.get("cluster", "")))
    except ConsoleError as exc:
        raise back(pages.url("topic", name), error=f"not deleted: {exc}") from None
    raise back("/topics", notice=f"topic {name} deleted")


@guarded("Consumer groups")
async def groups(request: web.Request) -> web.StreamResponse:
    svc = service(request)
    return html(with_flash(pages.groups_page(await svc.groups(), await svc.clusters()), request))


async def create_group(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = str(form.get("group", "")).strip()
    try:
        await service(request).create_group(name, str(form.get("cluster", "")))
    except ConsoleError as exc:
        raise back("/groups", error=f"group {name!r} not saved: {exc}") from None
    raise back(pages.url("group", name), notice=f"group {name} saved")


@guarded("Consumer group")
async def group(request: web.Request) -> web.StreamResponse:
    name = request.match_info["group"]
    svc = service(request)
    try:
        view = await svc.group(name)
    except ConsoleError as exc:
        return html(pages.error_page(f"Consumer group {name}", str(exc)), status=404)
    return html(with_flash(pages.group_page(view, await svc.clusters()), request))


async def reset_offset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["group"]
    form = await request.post()
    where = pages.url("group", name)
    try:
        when = parse_time(str(form.get("time", "")))
        table = await service(request).reset_offset(name, str(form.get("topic", "")), when)
    except (ConsoleError, ValueError) as exc:
        raise back(where, error=f"offsets not reset: {exc}") from None
    raise back(where, notice=f"offsets of {len(table)} queues reset to {pages.fmt_time(when)}")


async def delete_group(request: web.Request) -> web.StreamResponse:
    name = request.match_info["group"]
    form = await request.post()
    try:
        await service(request).delete_group(name, str(form.get("cluster", "")))
    except ConsoleError as exc:
        raise back(pages.url("group", name), error=f"not deleted: {exc}") from None
    raise back("/groups", notice=f"group {name} deleted")


async def messages(request: web.Request) -> web.StreamResponse:
    svc = service(request)
    q = request.query
    topic = q.get("topic", "").strip()
    results, searched = None, None
    try:
        if q.get("dlq"):
            topic = DLQ_PREFIX + q["dlq"]
            results, searched = await svc.by_time(topic, 0, 2**62), topic
        elif q.get("key"):
            results, searched = await svc.by_key(topic, q["key"].strip()), f"key {q['key'].strip()}"
        elif q.get("id"):
            results, searched = [await svc.by_id(topic, q["id"])], f"id {q['id'].strip()}"
        elif q.get("begin") or q.get("end"):
            begin = parse_time(q.get("begin") or "0")
            end = parse_time(q.get("end") or "now")
            results, searched = await svc.by_time(topic, begin, end), f"{topic} from {q.get('begin')} to {q.get('end')}"
    except (ConsoleError, ValueError) as exc:
        return html(pages.messages_page(topic, None, None, error=str(exc)), status=400)
    return html(with_flash(pages.messages_page(topic, results, searched), request))


@guarded("Message")
async def message(request: web.Request) -> web.StreamResponse:
    svc = service(request)
    msg = await svc.by_id(request.query.get("topic", ""), request.query.get("id", ""))
    return html(with_flash(pages.message_page(msg, await svc.groups()), request))


async def resend(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    topic, msg_id, group_name = (str(form.get(k, "")) for k in ("topic", "id", "group"))
    where = f"/message?topic={quote(topic, safe='')}&id={quote(msg_id, safe='')}"
    try:
        result = await service(request).resend_to_group(msg_id, topic, group_name)
    except ConsoleError as exc:
        raise back(where, error=f"not resent: {exc}") from None
    raise back(where, notice=f"resent to {group_name}: {result.status.name}, message id {result.msg_id}")


@guarded("Dead letters")
async def dlq(request: web.Request) -> web.StreamResponse:
    return html(with_flash(pages.dlq_page(await service(request).dlq_groups()), request))


async def send_form(request: web.Request) -> web.StreamResponse:
    return html(with_flash(pages.send_page(request.query.get("topic", ""), None), request))


async def send(request: web.Request) -> web.StreamResponse:
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        return html(pages.error_page("Send a test message",
                                     f"the message is too large: the broker takes bodies up to {MAX_BODY_BYTES} bytes"),
                    status=413)
    topic = str(form.get("topic", "")).strip()
    body = str(form.get("body", "")).encode("utf-8")
    try:
        result = await service(request).send(topic, body, str(form.get("tags", "")).strip(),
                                             str(form.get("keys", "")).strip())
    except ConsoleError as exc:
        return html(pages.send_page(topic, None, error=f"not sent: {exc}"), status=400)
    return html(pages.send_page(topic, result))


# ---------------------------------------------------------------------- live feeds
async def api_overview(request: web.Request) -> web.StreamResponse:
    try:
        brokers = await service(request).brokers()
    except ConsoleError as exc:
        return web.json_response({"error": str(exc), "time": int(time.time() * 1000)})
    down = [b.addr for b in brokers if b.error]

    def total(field: str) -> float:
        return round(sum(float(getattr(b, field)) for b in brokers if _is_number(getattr(b, field))), 2)

    return web.json_response({"time": int(time.time() * 1000), "putTps": total("put_tps"),
                              "getTps": total("get_tps"), "putLatencyMs": request.app[LATENCY].mean_ms(brokers),
                              "down": down,
                              "error": f"unreachable: {', '.join(down)}" if down else None})


async def api_group(request: web.Request) -> web.StreamResponse:
    try:
        view = await service(request).group(request.match_info["group"])
    except ConsoleError as exc:
        return web.json_response({"error": str(exc), "time": int(time.time() * 1000)})
    return web.json_response({"time": int(time.time() * 1000), "lag": view.lag, "tps": view.consume_tps,
                              "error": None})


def _is_number(text: Any) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def parse_time(text: str) -> int:
    """``now``, epoch milliseconds, or a local ``yyyy-MM-dd HH:mm:ss`` (``T`` between works too)."""
    text = text.strip()
    if text == "now":
        return int(time.time() * 1000)
    if text.isdigit():
        return int(text)
    try:
        when = datetime.datetime.fromisoformat(text.replace("#", " "))
    except ValueError:
        raise ValueError(f"bad time {text!r}: give now, milliseconds or yyyy-MM-dd HH:mm:ss") from None
    return int(when.timestamp() * 1000)


@web.middleware
async def read_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """consoleReadOnly=true: every page, no change."""
    if request.method == "POST":
        return html(pages.error_page("Read-only console", "this console is read-only (consoleReadOnly=true)"),
                    status=403)
    return await handler(request)


def build_app(svc: ConsoleService, read_only_mode: bool = False) -> web.Application:
    # A send form may carry a body up to the broker's limit; anything larger is refused with 413.
    app = web.Application(client_max_size=MAX_BODY_BYTES + 64 * 1024,
                          middlewares=[read_only] if read_only_mode else [])
    app[SERVICE] = svc
    app[LATENCY] = PutLatency()
    app.add_routes([
        web.get("/", cluster), web.get("/topics", topics), web.post("/topics", create_topic),
        web.get("/topic/{topic}", topic), web.post("/topic/{topic}/delete", delete_topic),
        web.get("/groups", groups), web.post("/groups", create_group),
        web.get("/group/{group}", group), web.post("/group/{group}/reset", reset_offset),
        web.post("/group/{group}/delete", delete_group),
        web.get("/messages", messages), web.get("/message", message), web.post("/message/resend", resend),
        web.get("/dlq", dlq), web.get("/send", send_form), web.post("/send", send),
        web.get("/api/overview", api_overview), web.get("/api/group/{group}", api_group),
        web.static("/static", STATIC),
    ])
    return app
