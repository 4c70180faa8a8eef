"""Message subcommands (upstream ``tools/command/message``): queryMsgById, queryMsgByKey,
queryMsgByUniqueKey, queryMsgByOffset, printMsg, printMsgByQueue, sendMessage, consumeMessage.

Messages print as upstream prints them: the ``%-20s %s`` detail block with the body written to
``/tmp/rocketmq/msgbodys/<msgId>``, then the message track (which consumer groups consumed it);
``MessageExt.toString()`` for the print/consume commands. Where upstream puts a Java exception's
text in a track's ``exceptionDesc`` we put the one-line reason.
"""

from __future__ import annotations

import os
import time

from pocketmq.client.errors import MQBrokerError
from pocketmq.protocol.client_bodies import MessageQueue
from pocketmq.protocol.message import MessageExt
from pocketmq.protocol.route import MASTER_ID
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.tools.admin_ext import TOOLS_CONSUMER_GROUP, AdminError, AdminExt
from pocketmq.tools.command import Context, Opt, command
from pocketmq.tools.jfmt import hashmap_str, host_port, human_time2, java_bytes, jval, mq_order, parse_timestamp, \
    socket_addr

BODY_DIR = "/tmp/rocketmq/msgbodys"


def client_msg_id(msg: MessageExt) -> str:
    """MessageClientExt.getMsgId(): the UNIQ_KEY when there is one, else the offset id."""
    return msg.uniq_key or msg.msg_id


def message_ext_str(msg: MessageExt, broker_name: str | None = None) -> str:
    """MessageExt.toString() of a client-decoded message."""
    tx = msg.uniq_key if msg.properties.get("TRAN_MSG") == "true" else None
    inner = (f"Message{{topic='{msg.topic}', flag={msg.flag}, properties={hashmap_str(msg.properties)}, "
             f"body={java_bytes(msg.body)}, transactionId='{jval(tx)}'}}")
    return (f"MessageExt [brokerName={jval(broker_name)}, queueId={msg.queue_id}, storeSize={msg.store_size}, "
            f"queueOffset={msg.queue_offset}, sysFlag={msg.sys_flag}, bornTimestamp={msg.born_timestamp}, "
            f"bornHost={socket_addr(msg.born_host)}, storeTimestamp={msg.store_timestamp}, "
            f"storeHost={socket_addr(msg.store_host)}, msgId={msg.msg_id}, commitLogOffset={msg.commit_log_offset}, "
            f"bodyCRC={msg.body_crc}, reconsumeTimes={msg.reconsume_times}, "
            f"preparedTransactionOffset={msg.prepared_transaction_offset}, toString()={inner}]")


def _body_file(msg: MessageExt, index: int = 0) -> str:
    os.makedirs(BODY_DIR, exist_ok=True)
    path = f"{BODY_DIR}/{client_msg_id(msg)}" + (f"_{index}" if index > 0 else "")
    with open(path, "wb") as f:
        f.write(msg.body)
    return path


async def _consumed(admin: AdminExt, msg: MessageExt, group: str) -> bool:
    stats = await admin.consume_stats(group)
    info = await admin.cluster_info()
    for mq, w in stats.offsetTable.items():
        if mq.topic == msg.topic and mq.queueId == msg.queue_id:
            bd = info.brokerAddrTable.get(mq.brokerName)
            if bd is not None and bd.brokerAddrs.get(MASTER_ID) == host_port(msg.store_host):
                if w.consumerOffset > msg.queue_offset:
                    return True
    return False


async def track_text(admin: AdminExt, msg: MessageExt) -> str:
    """messageTrackDetail, printed as upstream does (no trailing newline)."""
    tracks = []
    for group in await admin.topic_consumed_by(msg.topic) or []:
        kind, desc = "UNKNOWN", None
        try:
            cc = await admin.consumer_connection(group)
        except MQBrokerError as exc:
            kind = "NOT_ONLINE" if exc.code == ResponseCode.CONSUMER_NOT_ONLINE else kind
            tracks.append((group, kind, f"CODE:{exc.code} DESC:{exc.remark}"))
            continue
        except Exception as exc:
            code = getattr(exc, "code", None)
            tracks.append((group, kind, f"CODE: {code}  DESC: {exc}" if code else str(exc)))
            continue
        if cc.consumeType == "CONSUME_ACTIVELY":
            kind = "PULL"
        elif cc.consumeType == "CONSUME_PASSIVELY":
            try:
                consumed = await _consumed(admin, msg, group)
            except (AdminError, MQBrokerError) as exc:
                code = getattr(exc, "code", None)
                if code == ResponseCode.CONSUMER_NOT_ONLINE:
                    kind = "NOT_ONLINE"
                tracks.append((group, kind, f"CODE:{code} DESC:{getattr(exc, 'remark', None) or exc}"))
                continue
            if consumed:
                kind = "CONSUMED"
                sd = cc.subscriptionTable.get(msg.topic)
                if sd is not None and not (msg.tags in sd.tagsSet or "*" in sd.tagsSet or not sd.tagsSet):
                    kind = "CONSUMED_BUT_FILTERED"
            else:
                kind = "NOT_CONSUME_YET"
        tracks.append((group, kind, desc))
    if not tracks:
        return "\n\nWARN: No Consumer"
    return "\n\n" + "".join(f"MessageTrack [consumerGroup={g}, trackType={k}, exceptionDesc={jval(d)}]"
                            for g, k, d in tracks)


def detail_lines(msg: MessageExt, body_path: str, offset_id: bool) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [("OffsetID:", msg.msg_id)] if offset_id else []
    rows += [("Topic:", msg.topic), ("Tags:", f"[{jval(msg.tags)}]"), ("Keys:", f"[{jval(msg.keys)}]"),
             ("Queue ID:", msg.queue_id), ("Queue Offset:", msg.queue_offset),
             ("CommitLog Offset:", msg.commit_log_offset), ("Reconsume Times:", msg.reconsume_times),
             ("Born Timestamp:", human_time2(msg.born_timestamp)),
             ("Store Timestamp:", human_time2(msg.store_timestamp)),
             ("Born Host:", host_port(msg.born_host)), ("Store Host:", host_port(msg.store_host)),
             ("System Flag:", msg.sys_flag), ("Properties:", hashmap_str(msg.properties)),
             ("Message Body Path:", body_path)]
    return rows


async def print_detail(ctx: Context, admin: AdminExt, msg: MessageExt, *, offset_id: bool = True,
                       index: int = 0) -> None:
    path = _body_file(msg, index)
    for label, value in detail_lines(msg, path, offset_id):
        ctx.printf("%-20s %s%n", label, value)
    try:
        ctx.write(await track_text(admin, msg))
    except Exception as exc:  # upstream prints the stack trace and carries on
        ctx.err.write(f"mqadmin: message track: {exc}\n")


def msg_json(msg: MessageExt, broker_name: str | None = None) -> dict:
    return {"msgId": client_msg_id(msg), "offsetMsgId": msg.msg_id, "topic": msg.topic, "brokerName": broker_name,
            "tags": msg.tags, "keys": msg.keys, "queueId": msg.queue_id, "queueOffset": msg.queue_offset,
            "commitLogOffset": msg.commit_log_offset, "reconsumeTimes": msg.reconsume_times,
            "bornTimestamp": msg.born_timestamp, "storeTimestamp": msg.store_timestamp,
            "bornHost": host_port(msg.born_host), "storeHost": host_port(msg.store_host), "sysFlag": msg.sys_flag,
            "properties": msg.properties, "body": msg.body.decode("utf-8", "replace")}


def _send_result_str(r) -> str:  # noqa: ANN001
    mq = r.message_queue
    return (f"SendResult [sendStatus={r.status.name}, msgId={r.msg_id}, offsetMsgId={r.offset_msg_id}, "
            f"messageQueue={mq}, queueOffset={r.queue_offset}]")


async def _consume_directly(ctx: Context, admin: AdminExt, group: str, client_id: str, msg_id: str,
                            topic: str | None = None) -> None:
    if topic is not None:
        found = await admin.query_message(topic, msg_id, 32, unique=True)
        if not found:
            raise AdminError(f"Query message by id finished, but no message. {msg_id}")
        msg = found[0]
    else:
        msg = await admin.view_message(msg_id)
    response = await admin.call(host_port(msg.store_host), RequestCode.CONSUME_MESSAGE_DIRECTLY,
                                {"consumerGroup": group, "clientId": client_id, "msgId": msg.msg_id},
                                timeout=admin.timeout * 3)
    from pocketmq.protocol.client_bodies import loads

    r = loads(response.body_bytes())
    ctx.printf("%s", f"ConsumeMessageDirectlyResult [order={jval(r.get('order', False))}, "
                     f"autoCommit={jval(r.get('autoCommit', True))}, consumeResult={jval(r.get('consumeResult'))}, "
                     f"remark={jval(r.get('remark'))}, spentTimeMills={r.get('spentTimeMills', 0)}]")


@command("queryMsgById", "Query Message by Id",
         [Opt("i", "msgId", True, "Message Id", required=True),
          Opt("g", "consumerGroup", True, "consumer group name"),
          Opt("d", "clientId", True, "The consumer's client id"),
          Opt("s", "sendMessage", True, "resend message"),
          Opt("u", "unitName", True, "unit name")], json=True)
async def query_msg_by_id(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    ids = [i.strip() for i in cl.get("i").split(",") if i.strip()]
    if not ids:
        raise AdminError("queryMsgById: no message id given (-i)")
    if cl.has("g") and cl.has("d"):
        for msg_id in ids:
            await _consume_directly(ctx, admin, cl.get("g"), cl.get("d"), msg_id)
        return
    if cl.has("s"):
        if (cl.get("s") or "").lower() != "true":
            return
        from pocketmq.client.message import Message

        producer = await admin.producer("ReSendMsgById")
        try:
            for msg_id in ids:
                msg = await admin.view_message(msg_id)
                ctx.printf("prepare resend msg. originalMsgId=%s", msg_id)
                props = {k: v for k, v in msg.properties.items() if k not in ("MIN_OFFSET", "MAX_OFFSET")}
                result = await producer.send(Message(topic=msg.topic, body=msg.body, flag=msg.flag, properties=props))
                ctx.printf("%s", _send_result_str(result))
        finally:
            await producer.shutdown()
        return
    found = []
    for msg_id in ids:
        msg = await admin.view_message(msg_id)
        if ctx.json:
            found.append(msg_json(msg))
        else:
            await print_detail(ctx, admin, msg)
    if ctx.json:
        ctx.emit_json(found)


@command("queryMsgByKey", "Query Message by Key",
         [Opt("t", "topic", True, "topic name", required=True),
          Opt("k", "msgKey", True, "Message Key", required=True)], json=True)
async def query_msg_by_key(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    msgs = await admin.query_message(cl.get("t"), cl.get("k"), 64, unique=False)
    if ctx.json:
        ctx.emit_json([msg_json(m) for m in msgs])
        return
    ctx.printf("%-50s %4s %40s%n", "#Message ID", "#QID", "#Offset")
    for msg in msgs:
        ctx.printf("%-50s %4d %40d%n", client_msg_id(msg), msg.queue_id, msg.queue_offset)


@command("queryMsgByUniqueKey", "Query Message by Unique key",
         [Opt("i", "msgId", True, "Message Id", required=True),
          Opt("g", "consumerGroup", True, "consumer group name"),
          Opt("d", "clientId", True, "The consumer's client id"),
          Opt("t", "topic", True, "The topic of msg", required=True),
          Opt("a", "showAll", False, "Print all message, the limit is 32")], json=True)
async def query_msg_by_unique_key(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    msg_id, topic = cl.get("i"), cl.get("t")
    if cl.has("g") and cl.has("d"):
        await _consume_directly(ctx, admin, cl.get("g"), cl.get("d"), msg_id, topic)
        return
    msgs = sorted(await admin.query_message(topic, msg_id, 32, unique=True), key=lambda m: m.store_timestamp)
    shown = msgs if cl.flag("a") else msgs[:1]
    if ctx.json:
        ctx.emit_json([msg_json(m) for m in shown])
        return
    for i, msg in enumerate(shown):
        await print_detail(ctx, admin, msg, offset_id=False, index=i)


async def _pull_one(admin: AdminExt, mq: MessageQueue, offset: int, expression: str = "*") -> list[MessageExt]:
    result = await admin.pull(mq, expression, offset, 1)
    return result.messages


@command("queryMsgByOffset", "Query Message by offset",
         [Opt("t", "topic", True, "topic name", required=True),
          Opt("b", "brokerName", True, "Broker Name", required=True),
          Opt("i", "queueId", True, "Queue Id", required=True),
          Opt("o", "offset", True, "Queue Offset", required=True)], json=True)
async def query_msg_by_offset(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    mq = MessageQueue(cl.get("t"), cl.get("b"), int(cl.get("i")))
    msgs = await _pull_one(admin, mq, int(cl.get("o")))
    if ctx.json:
        ctx.emit_json([msg_json(m, mq.brokerName) for m in msgs[:1]])
        return
    if msgs:
        await print_detail(ctx, admin, msgs[0])


def _print_messages(ctx: Context, msgs: list[MessageExt], broker_name: str, charset: str, print_body: bool) -> None:
    for msg in msgs:
        body = msg.body.decode(charset, "replace") if print_body else "NOT PRINT BODY"
        ctx.printf("MSGID: %s %s BODY: %s%n", client_msg_id(msg), message_ext_str(msg, broker_name), body)


@command("printMsg", "Print Message Detail",
         [Opt("t", "topic", True, "topic name", required=True),
          Opt("c", "charsetName", True, "CharsetName(eg: UTF-8,GBK)"),
          Opt("s", "subExpression", True, "Subscribe Expression(eg: TagA || TagB)"),
          Opt("b", "beginTimestamp", True, "Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"),
          Opt("e", "endTimestamp", True, "End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"),
          Opt("d", "printBody", True, "print body")])
async def print_msg(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    topic = cl.get("t")
    charset = cl.get("c", "UTF-8")
    expression = cl.get("s", "*")
    print_body = not cl.has("d") or (cl.get("d") or "").lower() == "true"
    for mq in mq_order(await admin.subscribe_queues(topic)):
        low, high = await admin.min_offset(mq), await admin.max_offset(mq)
        if cl.has("b"):
            low = await admin.search_offset(mq, parse_timestamp(cl.get("b")))
        if cl.has("e"):
            high = await admin.search_offset(mq, parse_timestamp(cl.get("e")))
        ctx.printf("minOffset=%s, maxOffset=%s, %s%n", low, high, mq)
        offset = low
        while offset < high:
            try:
                result = await admin.pull(mq, expression, offset, 32)
            except Exception as exc:
                ctx.error(f"printMsg: {mq}: {exc}")
                break
            offset = result.next_begin_offset
            status = result.status.name
            if status == "FOUND":
                _print_messages(ctx, result.messages, mq.brokerName, charset, print_body)
            elif status == "NO_MATCHED_MSG":
                ctx.printf("%s no matched msg. status=%s, offset=%s%n", mq, status, offset)
            else:
                ctx.printf("%s print msg finished. status=%s, offset=%s%n", mq, status, offset)
                break
        ctx.printf("--------------------------------------------------------\n")


@command("printMsgByQueue", "Print Message Detail",
         [Opt("t", "topic", True, "topic name", required=True),
          Opt("a", "brokerName", True, "broker name", required=True),
          Opt("i", "queueId", True, "queue id", required=True),
          Opt("c", "charsetName", True, "CharsetName(eg: UTF-8,GBK)"),
          Opt("s", "subExpression", True, "Subscribe Expression(eg: TagA || TagB)"),
          Opt("b", "beginTimestamp", True, "Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"),
          Opt("e", "endTimestamp", True, "End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"),
          Opt("p", "print msg", True, "print msg. eg: true | false(default)"),
          Opt("d", "printBody", True, "print body. eg: true | false(default)"),
          Opt("f", "calculate", True, "calculate by tag. eg: true | false(default)")])
async def print_msg_by_queue(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    charset = cl.get("c", "UTF-8")
    print_msg_on = (cl.get("p") or "").lower() == "true"
    print_body = (cl.get("d") or "").lower() == "true"
    by_tag = (cl.get("f") or "").lower() == "true"
    expression = cl.get("s", "*")
    mq = MessageQueue(cl.get("t"), cl.get("a"), int(cl.get("i")))
    low, high = await admin.min_offset(mq), await admin.max_offset(mq)
    if cl.has("b"):
        low = await admin.search_offset(mq, parse_timestamp(cl.get("b")))
    if cl.has("e"):
        high = await admin.search_offset(mq, parse_timestamp(cl.get("e")))
    counts: dict[str, int] = {}
    offset = low
    while offset < high:
        try:
            result = await admin.pull(mq, expression, offset, 32)
        except Exception as exc:
            ctx.error(f"printMsgByQueue: {mq}: {exc}")
            break
        offset = result.next_begin_offset
        if result.status.name != "FOUND":
            break
        if by_tag:
            for msg in result.messages:
                if msg.tags and msg.tags.strip():
                    counts[msg.tags] = counts.get(msg.tags, 0) + 1
        if print_msg_on:
            _print_messages(ctx, result.messages, mq.brokerName, charset, print_body)
    if by_tag:
        from pocketmq.tools.jfmt import hashmap_order

        for tag in sorted(hashmap_order(counts), key=lambda t: -counts[t]):
            ctx.printf("Tag: %-30s Count: %s%n", tag, counts[tag])


@command("sendMessage", "Send a message",
         [Opt("t", "topic", True, "Topic name", required=True),
          Opt("p", "body", True, "UTF-8 string format of the message body", required=True),
          Opt("k", "key", True, "Message keys"),
          Opt("c", "tags", True, "Message tags"),
          Opt("b", "broker", True, "Send message to target broker"),
          Opt("i", "qid", True, "Send message to target queue"),
          Opt("m", "msgTraceEnable", True, "Message Trace Enable, Default: false")])
async def send_message(ctx: Context, cl) -> None:  # noqa: ANN001
    from pocketmq.client.message import Message

    topic, body = cl.get("t"), cl.get("p")
    broker, qid = cl.get("b"), -1
    if cl.has("i"):
        if not cl.has("b"):
            ctx.write("Broker name must be set if the queue is chosen!")
            ctx.failed = True
            return
        qid = int(cl.get("i"))
    admin = await ctx.admin()
    producer = await admin.producer(str(int(time.time() * 1000)))
    try:
        msg = Message(topic=topic, body=body.encode("utf-8"), tags=cl.get("c"), keys=cl.get("k"))
        queue = MessageQueue(topic, broker, qid) if broker is not None and qid > -1 else None
        result = await producer.send(msg, queue=queue)
    finally:
        await producer.shutdown()
    fmt = "%-32s  %-4s  %-20s    %s%n"
    ctx.printf(fmt, "#Broker Name", "#QID", "#Send Result", "#MsgId")
    ctx.printf(fmt, result.message_queue.brokerName, result.message_queue.queueId, result.status.name, result.msg_id)


@command("consumeMessage", "Consume message",
         [Opt("t", "topic", True, "Topic name", required=True),
          Opt("b", "brokerName", True, "Broker name"),
          Opt("i", "queueId", True, "Queue Id"),
          Opt("o", "offset", True, "Queue offset"),
          Opt("g", "consumerGroup", True, "Consumer group name"),
          Opt("s", "beginTimestamp", True, "Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"),
          Opt("e", "endTimestamp", True, "End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"),
          Opt("c", "MessageNumber", True, "Number of message to be consumed")])
async def consume_message(ctx: Context, cl) -> None:  # noqa: ANN001
    admin = await ctx.admin()
    group = cl.get("g", TOOLS_CONSUMER_GROUP)
    topic = cl.get("t")
    count = 128
    if cl.has("c"):
        count = int(cl.get("c"))
        if count <= 0:
            ctx.write("Please input a positive messageNumber!")
            ctx.failed = True
            return
    broker = cl.get("b")
    queue_id = None
    mode = "DEFAULT"
    if cl.has("i"):
        if not cl.has("b"):
            ctx.write("Please set the brokerName before queueId!")
            ctx.failed = True
            return
        queue_id, mode = int(cl.get("i")), "BYQUEUE"
    offset = 0
    if cl.has("o"):
        if mode != "BYQUEUE":
            ctx.write("Please set queueId before offset!")
            ctx.failed = True
            return
        offset, mode = int(cl.get("o")), "BYOFFSET"
    now = int(time.time() * 1000)
    begin = end = 0
    if cl.has("s"):
        begin = parse_timestamp(cl.get("s"))
        if begin > now:
            ctx.write("Please set the beginTimestamp before now!")
            ctx.failed = True
            return
    if cl.has("e"):
        end = parse_timestamp(cl.get("e"))
        if end > now:
            ctx.write("Please set the endTimestamp before now!")
            ctx.failed = True
            return
        if begin > end:
            ctx.write("Please make sure that the beginTimestamp is less than or equal to the endTimestamp")
            ctx.failed = True
            return

    async def pull_range(mq: MessageQueue, low: int, high: int) -> None:
        off = low
        while off <= high:
            try:
                result = await admin.pull(mq, "*", off, max(1, min(high - off + 1, 32)), group=group)
            except Exception as exc:
                ctx.error(f"consumeMessage: {mq}: {exc}")
                return
            off = result.next_begin_offset
            status = result.status.name
            if status == "FOUND":
                ctx.write("Consume ok\n")
                _print_messages(ctx, result.messages, mq.brokerName, "UTF-8", True)
            elif status == "NO_MATCHED_MSG":
                ctx.printf("%s no matched msg. status=%s, offset=%s\n", mq, status, off)
            else:
                ctx.printf("%s print msg finished. status=%s, offset=%s\n", mq, status, off)
                break

    async def bounds(mq: MessageQueue) -> tuple[int, int]:
        low, high = await admin.min_offset(mq), await admin.max_offset(mq)
        if begin > 0:
            low = await admin.search_offset(mq, begin)
        if end > 0:
            high = await admin.search_offset(mq, end)
        return low, high

    if mode == "DEFAULT":
        left = count
        for mq in mq_order(await admin.subscribe_queues(topic)):
            if left == 0:
                return
            low, high = await bounds(mq)
            if high - low > left:
                ctx.printf("The older %d message of the %d queue will be provided\n", left, mq.queueId)
                high = low + left - 1
                left = 0
            else:
                left = left - (high - low) - 1
            await pull_range(mq, low, high)
        return
    mq = MessageQueue(topic, broker, queue_id)  # type: ignore[arg-type]
    low, high = await bounds(mq)
    if offset > high:
        ctx.printf("%s no matched msg, offset=%s\n", mq, offset)
        return
    low = max(low, offset)
    if high - low > count:
        ctx.printf("The oldler %d message will be provided\n", count)
        high = low + count - 1
    await pull_range(mq, low, high)
