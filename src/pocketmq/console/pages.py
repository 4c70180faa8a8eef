"""HTML of the console's pages, rendered on the server. Every value that came from the cluster or
from a user (topic and group names, keys, properties, bodies) goes through ``esc``: a topic name
or a body holding ``<script>`` is shown as text, never run."""

from __future__ import annotations

import html
import time
from typing import Any, Iterable
from urllib.parse import quote

from pocketmq.console.service import BODY_PREVIEW_BYTES, BrokerRow, GroupView, QueueRow, is_system_topic
from pocketmq.protocol.message import MessageExt

NAV = (("/", "Cluster"), ("/topics", "Topics"), ("/groups", "Consumer groups"), ("/messages", "Messages"),
       ("/dlq", "Dead letters"), ("/send", "Send"))


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def url(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def fmt_time(ms: int) -> str:
    if ms <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"


def layout(title: str, body: str, *, notice: str | None = None, error: str | None = None,
           scripts: Iterable[str] = ()) -> str:
    nav = "".join(f'<a href="{href}">{esc(label)}</a>' for href, label in NAV)
    flash = ""
    if notice:
        flash += f'<p class="notice" id="notice">{esc(notice)}</p>'
    if error:
        flash += f'<p class="error" id="error">{esc(error)}</p>'
    tags = "".join(f'<script src="/static/{esc(s)}"></script>' for s in scripts)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)} - PocketMQ console</title>'
            f'<link rel="stylesheet" href="/static/console.css"></head><body>'
            f'<header><strong>PocketMQ</strong><nav>{nav}</nav></header><main><h1>{esc(title)}</h1>{flash}{body}</main>'
            f'{tags}</body></html>')


def table(headers: Iterable[str], rows: Iterable[Iterable[Any]], table_id: str, raw_columns: set[int] = frozenset()
          ) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = []
    for row in rows:
        cells = "".join(f"<td>{cell if i in raw_columns else esc(cell)}</td>" for i, cell in enumerate(row))
        lines.append(f"<tr>{cells}</tr>")
    return f'<table id="{esc(table_id)}"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>'


def link(href: str, text: str) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


# ---------------------------------------------------------------------- cluster
def cluster_page(brokers: list[BrokerRow], namesrv: str) -> str:
    rows = [(b.cluster, b.name, b.broker_id, b.addr, b.role, b.version, b.put_tps, b.get_tps,
             "" if b.slave_lag_bytes is None else b.slave_lag_bytes, b.disk_ratio,
             b.error and f"unreachable: {b.error}" or "up") for b in brokers]
    body = (f'<p>Name servers: <code id="namesrv">{esc(namesrv)}</code></p>'
            + table(("Cluster", "Broker", "Id", "Address", "Role", "Version", "In TPS", "Out TPS",
                     "Slave lag (bytes)", "Disk used", "State"), rows, "brokers")
            + '<h2>Live</h2><div class="chart" id="tps-chart" data-source="/api/overview" data-series="putTps,getTps">'
              '</div><div class="chart" id="latency-chart" data-source="/api/overview" data-series="putLatencyMs">'
              '</div><p class="status" id="live-status"></p>')
    return layout("Cluster", body, scripts=["console.js"])


# ---------------------------------------------------------------------- topics
def topics_page(topics: list[str], clusters: list[str], show_system: bool) -> str:
    shown = [t for t in topics if show_system or not is_system_topic(t)]
    rows = [(link(url("topic", t), t),) for t in shown]
    toggle = link("/topics?system=0", "hide system topics") if show_system else link("/topics?system=1",
                                                                                       "show system topics")
    options = "".join(f"<option>{esc(c)}</option>" for c in clusters)
    form = ('<h2>Create or update a topic</h2><form method="post" action="/topics" id="create-topic">'
            '<label>Topic <input name="topic" id="topic-name" required></label>'
            f'<label>Cluster <select name="cluster">{options}</select></label>'
            '<label>Queues <input name="queues" type="number" value="8" min="1" max="1024"></label>'
            '<label>Perm <select name="perm"><option value="6">RW</option><option value="4">R</option>'
            '<option value="2">W</option></select></label><button type="submit">Save</button></form>')
    return layout("Topics", f"<p>{toggle}</p>" + table(("Topic",), rows, "topics", {0}) + form)


def topic_page(topic: str, route: Any, queues: list[QueueRow], clusters: list[str]) -> str:
    perms = {qd.brokerName: qd.perm for qd in route.queueDatas}
    brokers = [(bd.brokerName, bd.cluster, ", ".join(f"{bid}={addr}" for bid, addr in sorted(bd.brokerAddrs.items())),
                perms.get(bd.brokerName, "")) for bd in route.brokerDatas]
    queue_rows = [(q.broker, q.queue_id, q.min_offset, q.max_offset, q.max_offset - q.min_offset) for q in queues]
    options = "".join(f"<option>{esc(c)}</option>" for c in clusters)
    body = ("<h2>Route</h2>" + table(("Broker", "Cluster", "Addresses", "Perm"), brokers, "route")
            + "<h2>Queues</h2>" + table(("Broker", "Queue", "Min offset", "Max offset", "Messages"), queue_rows, "queues")
            + f'<p>{link("/messages?topic=" + quote(topic, safe=""), "Find messages of this topic")} · '
              f'{link("/send?topic=" + quote(topic, safe=""), "Send a test message")}</p>'
            + f'<h2>Delete</h2><form method="post" action="{esc(url("topic", topic, "delete"))}" id="delete-topic">'
              f'<label>Cluster <select name="cluster">{options}</select></label>'
              '<button type="submit" class="danger">Delete topic</button></form>')
    return layout(f"Topic {topic}", body)


# ---------------------------------------------------------------------- groups
def groups_page(groups: list[str], clusters: list[str]) -> str:
    rows = [(link(url("group", g), g),) for g in groups]
    options = "".join(f"<option>{esc(c)}</option>" for c in clusters)
    form = ('<h2>Create a consumer group</h2><form method="post" action="/groups" id="create-group">'
            '<label>Group <input name="group" required></label>'
            f'<label>Cluster <select name="cluster">{options}</select></label><button type="submit">Save</button></form>')
    return layout("Consumer groups", table(("Group",), rows, "groups", {0}) + form)


def group_page(view: GroupView, clusters: list[str]) -> str:
    conns = [(c.clientId, c.clientAddr, c.language, c.version) for c in view.connections]
    subs = [(topic, expr) for topic, expr in sorted(view.subscriptions.items())]
    parts = [f'<p>Total lag: <strong id="total-lag">{view.lag}</strong> · consume TPS {view.consume_tps:.1f}</p>']
    if view.error:
        parts.append(f'<p class="warn">{esc(view.error)}</p>')
    parts.append("<h2>Connections</h2>" + table(("Client id", "Address", "Language", "Version"), conns, "connections"))
    parts.append("<h2>Subscriptions</h2>" + table(("Topic", "Expression"), subs, "subscriptions"))
    for topic, rows in sorted(view.queues.items()):
        parts.append(f"<h2>Lag on {esc(topic)}</h2>" + table(
            ("Broker", "Queue", "Broker offset", "Consumer offset", "Lag"),
            [(q.broker, q.queue_id, q.max_offset, q.consumer_offset, q.lag) for q in rows], f"lag-{topic}"))
    parts.append(f'<div class="chart" id="lag-chart" data-source="{esc(url("api", "group", view.name))}" '
                 'data-series="lag"></div><p class="status" id="live-status"></p>')
    topics = "".join(f"<option>{esc(t)}</option>" for t in sorted(view.queues) if not t.startswith("%RETRY%"))
    options = "".join(f"<option>{esc(c)}</option>" for c in clusters)
    parts.append(f'<h2>Reset offset by time</h2><form method="post" action="{esc(url("group", view.name, "reset"))}" '
                 f'id="reset-offset"><label>Topic <select name="topic">{topics}</select></label>'
                 '<label>Time <input name="time" placeholder="yyyy-MM-dd HH:mm:ss, ms, or now" required></label>'
                 '<button type="submit">Reset</button></form>')
    parts.append(f'<h2>Delete</h2><form method="post" action="{esc(url("group", view.name, "delete"))}" '
                 f'id="delete-group"><label>Cluster <select name="cluster">{options}</select></label>'
                 '<button type="submit" class="danger">Delete group</button></form>')
    return layout(f"Consumer group {view.name}", "".join(parts), scripts=["console.js"])


# ---------------------------------------------------------------------- messages
def messages_page(topic: str, results: list[MessageExt] | None, searched: str | None,
                  error: str | None = None) -> str:
    forms = (
        '<form method="get" action="/messages" id="by-key"><h2>By key</h2>'
        f'<label>Topic <input name="topic" value="{esc(topic)}"></label><label>Key <input name="key"></label>'
        '<button type="submit">Find</button></form>'
        '<form method="get" action="/messages" id="by-id"><h2>By message id</h2>'
        f'<label>Topic <input name="topic" value="{esc(topic)}"></label><label>Id <input name="id" size="40"></label>'
        '<button type="submit">Find</button></form>'
        '<form method="get" action="/messages" id="by-time"><h2>By topic and time</h2>'
        f'<label>Topic <input name="topic" value="{esc(topic)}"></label>'
        '<label>From <input name="begin" placeholder="yyyy-MM-dd HH:mm:ss"></label>'
        '<label>To <input name="end" placeholder="yyyy-MM-dd HH:mm:ss"></label><button type="submit">Find</button></form>')
    found = ""
    if results is not None:
        rows = [(link(message_url(m), m.msg_id), m.properties.get("UNIQ_KEY", ""), m.topic, m.tags or "",
                 m.keys or "", m.queue_id, m.queue_offset, fmt_time(m.store_timestamp)) for m in results]
        found = (f"<h2>{len(results)} found for {esc(searched)}</h2>"
                 + table(("Offset id", "Unique key", "Topic", "Tags", "Keys", "Queue", "Offset", "Stored"), rows,
                         "results", {0}))
    return layout("Messages", forms + found, error=error)


def message_url(msg: MessageExt) -> str:
    return f"/message?topic={quote(msg.topic, safe='')}&id={quote(msg.msg_id, safe='')}"


def message_page(msg: MessageExt, groups: list[str]) -> str:
    headers = [("Topic", msg.topic), ("Offset id", msg.msg_id), ("Unique key", msg.properties.get("UNIQ_KEY", "")),
               ("Tags", msg.tags or ""), ("Keys", msg.keys or ""), ("Queue", msg.queue_id),
               ("Queue offset", msg.queue_offset), ("Commit log offset", msg.commit_log_offset),
               ("Born", f"{fmt_time(msg.born_timestamp)} from {msg.born_host[0]}:{msg.born_host[1]}"),
               ("Stored", f"{fmt_time(msg.store_timestamp)} on {msg.store_host[0]}:{msg.store_host[1]}"),
               ("Reconsume times", msg.reconsume_times), ("Body size", len(msg.body))]
    props = sorted(msg.properties.items())
    preview = msg.body[:BODY_PREVIEW_BYTES].decode("utf-8", "replace")
    more = f" (first {BODY_PREVIEW_BYTES} of {len(msg.body)} bytes)" if len(msg.body) > BODY_PREVIEW_BYTES else ""
    options = "".join(f"<option>{esc(g)}</option>" for g in groups)
    body = (table(("Header", "Value"), headers, "headers") + "<h2>Properties</h2>"
            + table(("Name", "Value"), props, "properties")
            + f'<h2>Body{esc(more)}</h2><pre id="body">{esc(preview)}</pre>'
            + f'<h2>Resend to a consumer group</h2><form method="post" action="/message/resend" id="resend">'
              f'<input type="hidden" name="topic" value="{esc(msg.topic)}">'
              f'<input type="hidden" name="id" value="{esc(msg.msg_id)}">'
              f'<label>Group <select name="group">{options}</select></label><button type="submit">Resend</button></form>')
    return layout("Message", body)


def dlq_page(groups: list[str]) -> str:
    rows = [(link(f"/messages?dlq={quote(g, safe='')}", "%DLQ%" + g), link(url("group", g), g)) for g in groups]
    return layout("Dead letters", "<p>Messages that failed every retry of a group land in its dead-letter "
                                  "topic. Open one to browse it and resend a message to the group.</p>"
                  + table(("Dead-letter topic", "Group"), rows, "dlq", {0, 1}))


def send_page(topic: str, result: Any | None, error: str | None = None) -> str:
    done = ""
    if result is not None:
        done = (f'<p class="notice" id="send-result">{esc(result.status.name)}: message id '
                f'<code>{esc(result.msg_id)}</code>, offset id <code>{esc(result.offset_msg_id)}</code>, '
                f'queue {esc(result.message_queue.brokerName)}/{esc(result.message_queue.queueId)}</p>')
    form = ('<form method="post" action="/send" id="send-form">'
            f'<label>Topic <input name="topic" value="{esc(topic)}" required></label>'
            '<label>Tags <input name="tags"></label><label>Keys <input name="keys"></label>'
            '<label>Body <textarea name="body" rows="6" cols="60" required></textarea></label>'
            '<button type="submit">Send</button></form>')
    return layout("Send a test message", done + form, error=error)


def error_page(title: str, reason: str) -> str:
    return layout(title, f'<p class="error" id="error">{esc(reason)}</p><p>{link("/", "Back to the cluster")}</p>')
