"""Driver for the official RocketMQ 5 Python client (PyPI rocketmq-python-client), run by tests
as a subprocess with tests/interop/py5/.venv/bin/python (its own environment: see setup.sh).

    driver.py produce --endpoints HOST:PORT --topic T --count N [--tag TAG] [--keys K]
                      [--prop k=v] [--delay-ms MS | --delay-s S] [--group MESSAGE_GROUP] [--body TEXT]
                      [--transaction commit|rollback|orphan --check commit|rollback --wait-check S]

--keep-going prints {"event": "send-error", "body"} for a send that failed (after the client's own
retries) and goes on with the next; --interval-ms pauses between sends.

--transaction sends each message as a half message of its own transaction and then commits or
rolls it back; "orphan" does neither and keeps the producer up (at most --wait-check seconds)
until the server's check-back has reached the checker, which answers --check; each check prints
{"event": "check", "msgId"}.

Every command also takes --tls (the client's tls_enable; it checks the server against the roots
in GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), --access-key/--secret-key (Credentials: every call signed)
and --namespace (ClientConfiguration's namespace).

Prints JSON lines as tests/interop/clients.py's other drivers do: {"event": "send", "msgId",
"body", "offset", "deliverMs"} per sent message (deliverMs: the delivery time set, epoch ms, or 0), then {"event": "done", "count": N}; a failure prints
{"event": "error", "error": "..."} and exits with 2.

    driver.py simple-consume --endpoints HOST:PORT --topic T --group G --count N
                      [--invisible S] [--skip-ack-first] [--timeout S] [--await S]

receives with a SimpleConsumer until N messages were acknowledged (or --timeout): each delivery
prints {"event": "msg", "msgId", "body", "tag", "attempt", "receivedAt", "deliveryTimestamp"}; with --skip-ack-first the first
delivery of each message is not acked (it must come back after its invisible time).
push-consume takes the same options with a PushConsumer (--skip-ack-first: the listener returns
FAILURE for each message's first delivery). Nothing here is PocketMQ code: only the official client.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import threading

from rocketmq import (
    ClientConfiguration, ConsumeResult, Credentials, FilterExpression, Message, MessageListener, Producer, PushConsumer,
    SimpleConsumer, TransactionChecker, TransactionResolution,
)


class Checker(TransactionChecker):
    def __init__(self, answer: str) -> None:
        self.answer = TransactionResolution.COMMIT if answer == "commit" else TransactionResolution.ROLLBACK
        self.checked = threading.Event()

    def check(self, message: Message) -> TransactionResolution:
        print(json.dumps({"event": "check", "msgId": message.message_id}), flush=True)
        self.checked.set()
        return self.answer


def credentials(args: argparse.Namespace) -> Credentials:
    return Credentials(args.access_key, args.secret_key) if args.access_key else Credentials()


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls", action="store_true")
    p.add_argument("--access-key", default="")
    p.add_argument("--secret-key", default="")
    p.add_argument("--namespace", default="")


def produce(args: argparse.Namespace) -> int:
    config = ClientConfiguration(args.endpoints, credentials(args), namespace=args.namespace,
                                 request_timeout=args.timeout)
    checker = Checker(args.check) if args.transaction else None
    producer = Producer(config, (args.topic,), checker=checker, tls_enable=args.tls)
    producer.startup()
    try:
        for i in range(args.count):
            msg = Message()
            msg.topic = args.topic
            body = f"{args.body}-{i}" if args.count > 1 else args.body
            msg.body = body.encode()
            if args.tag:
                msg.tag = args.tag
            if args.keys:
                msg.keys = args.keys
            for pair in args.prop:
                key, _, value = pair.partition("=")
                msg.add_property(key, value)
            deliver_ms = 0
            if args.delay_ms:  # what the client's docstring asks for: epoch milliseconds
                msg.delivery_timestamp = int(time.time() * 1000) + args.delay_ms
                deliver_ms = msg.delivery_timestamp
            if args.delay_s:  # what 5.1.2 actually needs: it copies the value into Timestamp.seconds
                msg.delivery_timestamp = int(time.time()) + args.delay_s
                deliver_ms = msg.delivery_timestamp * 1000
            if args.group:
                msg.message_group = args.group
            if args.transaction:
                transaction = producer.begin_transaction()
                receipt = producer.send(msg, transaction)
                if args.transaction == "commit":
                    transaction.commit()
                elif args.transaction == "rollback":
                    transaction.rollback()
            elif args.keep_going:
                try:
                    receipt = producer.send(msg)
                except Exception as exc:  # noqa: BLE001 - not acknowledged: say so and go on
                    print(json.dumps({"event": "send-error", "body": body, "error": f"{type(exc).__name__}: {exc}"}),
                          flush=True)
                    time.sleep(args.interval_ms / 1000)
                    continue
            else:
                receipt = producer.send(msg)
            print(json.dumps({"event": "send", "msgId": receipt.message_id, "body": body,
                              "offset": receipt.offset, "deliverMs": deliver_ms}), flush=True)
            if args.interval_ms:
                time.sleep(args.interval_ms / 1000)
        if args.transaction == "orphan" and checker is not None and not checker.checked.wait(args.wait_check):
            raise TimeoutError(f"no transaction check-back within {args.wait_check} s")
        if args.transaction == "orphan":
            # The client answers a check with an asynchronous EndTransaction and gives no signal
            # when it is done: stay up a moment so that it goes out before the shutdown.
            time.sleep(2)
    finally:
        producer.shutdown()
    print(json.dumps({"event": "done", "count": args.count}), flush=True)
    return 0


def simple_consume(args: argparse.Namespace) -> int:
    config = ClientConfiguration(args.endpoints, credentials(args), namespace=args.namespace,
                                 request_timeout=args.timeout_rpc)
    consumer = SimpleConsumer(config, args.group, {args.topic: FilterExpression(args.expr)}, await_duration=args.await_s,
                              tls_enable=args.tls)
    consumer.startup()
    acked: set[str] = set()
    seen: set[str] = set()
    deadline = time.monotonic() + args.timeout
    try:
        while len(acked) < args.count and time.monotonic() < deadline:
            try:
                received = consumer.receive(16, args.invisible)
            except Exception as exc:  # noqa: BLE001
                # Client 5.1.2 does not wait for its Telemetry settings before the first receive;
                # Apache's proxy answers that receive with a NullPointerException (50001).
                if "settings" not in str(exc) or "null" not in str(exc):
                    raise
                print(json.dumps({"event": "retry", "error": str(exc)[:200]}), flush=True)
                time.sleep(0.5)
                continue
            for msg in received:
                received_at = int(time.time() * 1000)
                body = msg.body.decode(errors="replace")
                print(json.dumps({"event": "msg", "msgId": msg.message_id, "body": body, "tag": msg.tag,
                                  "attempt": msg.delivery_attempt, "topic": msg.topic, "receivedAt": received_at,
                                  "deliveryTimestamp": msg.delivery_timestamp or 0}), flush=True)
                first = msg.message_id not in seen
                seen.add(msg.message_id)
                if args.skip_ack_first and first:
                    continue
                consumer.ack(msg)
                acked.add(msg.message_id)
    finally:
        consumer.shutdown()
    print(json.dumps({"event": "done" if len(acked) >= args.count else "timeout", "count": len(acked)}), flush=True)
    return 0


class Listener(MessageListener):
    def __init__(self, fail_first: bool) -> None:
        self.fail_first = fail_first
        self.seen: set[str] = set()
        self.succeeded: set[str] = set()
        self.lock = threading.Lock()

    def consume(self, message: Message) -> ConsumeResult:
        with self.lock:
            first = message.message_id not in self.seen
            self.seen.add(message.message_id)
            print(json.dumps({"event": "msg", "msgId": message.message_id, "body": message.body.decode(errors="replace"),
                              "tag": message.tag, "attempt": message.delivery_attempt, "topic": message.topic}),
                  flush=True)
            if self.fail_first and first:
                return ConsumeResult.FAILURE
            self.succeeded.add(message.message_id)
            return ConsumeResult.SUCCESS


def push_consume(args: argparse.Namespace) -> int:
    config = ClientConfiguration(args.endpoints, credentials(args), namespace=args.namespace,
                                 request_timeout=args.timeout_rpc)
    listener = Listener(args.skip_ack_first)
    consumer = PushConsumer(config, args.group, listener, {args.topic: FilterExpression(args.expr)},
                            tls_enable=args.tls)
    consumer.startup()
    deadline = time.monotonic() + args.timeout
    try:
        while len(listener.succeeded) < args.count and time.monotonic() < deadline:
            time.sleep(0.1)  # the listener runs on the client's threads; this only watches the count
        time.sleep(1)  # acks of the last messages go out asynchronously
    finally:
        consumer.shutdown()
    done = len(listener.succeeded) >= args.count
    print(json.dumps({"event": "done" if done else "timeout", "count": len(listener.succeeded)}), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--endpoints", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--body", default="hello")
    p.add_argument("--tag")
    p.add_argument("--keys")
    p.add_argument("--prop", action="append", default=[])
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--delay-s", type=int, default=0)
    p.add_argument("--group")
    p.add_argument("--timeout", type=int, default=15)  # request timeout: long enough for a loaded test machine
    p.add_argument("--transaction", choices=["commit", "rollback", "orphan"])
    p.add_argument("--check", choices=["commit", "rollback"], default="commit")
    p.add_argument("--wait-check", type=float, default=60)
    p.add_argument("--keep-going", action="store_true")  # a failed send prints send-error, the next one goes
    p.add_argument("--interval-ms", type=int, default=0)  # pause between sends (a steady load for fault tests)
    add_common_args(p)
    for name in ("simple-consume", "push-consume"):
        add_consume_args(sub.add_parser(name))
    args = parser.parse_args()
    try:
        if args.command == "produce":
            return produce(args)
        return simple_consume(args) if args.command == "simple-consume" else push_consume(args)
    except Exception as exc:  # the test reads the client's own error text
        print(json.dumps({"event": "error", "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 2


def add_consume_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("--endpoints", required=True)
    c.add_argument("--topic", required=True)
    c.add_argument("--group", required=True)
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--expr", default="*")
    c.add_argument("--invisible", type=int, default=15)
    c.add_argument("--skip-ack-first", action="store_true")
    c.add_argument("--timeout", type=float, default=60)
    c.add_argument("--await-s", type=int, default=5)
    c.add_argument("--timeout-rpc", type=int, default=15)
    add_common_args(c)


if __name__ == "__main__":
    sys.exit(main())
