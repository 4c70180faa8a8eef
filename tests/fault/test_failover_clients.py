"""The official 4.x clients (Java, Go, C++) through a controller-mode failover, with real
processes: a name server, our controller, three brokers of one set. The client's push consumer
runs, its producer sends (sync, unique keys) without pause, and the master is killed -9. The
producer's sends move on to the new master once its route refresh finds it (measured and printed:
the time from the kill to the first SEND_OK the new master answered); the consumer goes on from
its offsets on the new master: every acknowledged message is consumed, and only messages stored
before the kill may come twice (the number of duplicates is printed).

The figures are for bench/README.md (controller/failover section), not assertions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pocketmq.remoting.codes import RequestCode, ResponseCode
from tests.interop.clients import DriverProcess, start_cpp_driver, start_go_driver, start_java_driver
from tests.support.cluster import pull_all
from tests.support.controller_set import TOPIC, route_master, start_set
from tests.support.processes import wait_until
from tests.support.rpc import call

pytestmark = [pytest.mark.fault, pytest.mark.interop, pytest.mark.timeout(420)]

FOREVER = 10_000_000


def start_consumer(client: str, namesrv: str, group: str) -> DriverProcess:
    if client == "java":
        return start_java_driver(["push-consume", "--topic", TOPIC, "--group", group, "--count", FOREVER,
                                  "--timeout", 600, "--vip", "false"], namesrv=namesrv)
    if client == "go":
        return start_go_driver(["push-consume", "--topic", TOPIC, "--group", group, "--count", FOREVER,
                                "--timeout", 600], namesrv=namesrv)
    return start_cpp_driver(["cpp-push-consume", "--topic", TOPIC, "--group", group, "--count", FOREVER,
                             "--timeout", 600], namesrv=namesrv)


def start_producer(client: str, namesrv: str, keys: str, count: int = FOREVER) -> DriverProcess:
    if client == "java":
        return start_java_driver(["produce", "--topic", TOPIC, "--count", count, "--send-timeout", 3000,
                                  "--vip", "false", "--keys", keys], namesrv=namesrv)
    if client == "go":
        return start_go_driver(["produce", "--topic", TOPIC, "--count", count, "--keys", keys], namesrv=namesrv)
    return start_cpp_driver(["cpp-produce", "--topic", TOPIC, "--count", count, "--mode", "sync",
                             "--keys", keys], namesrv=namesrv)


def acked_keys(events: list[dict]) -> list[int]:
    return [e["i"] for e in events if e.get("event") == "send" and e.get("status") == "SEND_OK"]


def watch_until(driver: DriverProcess, condition, timeout: float, what: str) -> list[float]:  # type: ignore[no-untyped-def]
    """Poll ``condition`` (every 20 ms) until it holds; returns when each event of ``driver``
    was first seen (monotonic clock), index for index."""
    arrivals: list[float] = []
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        arrivals += [now] * (len(driver.events) - len(arrivals))
        if condition():
            return arrivals
        if now > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last events {driver.events[-3:]}")
        time.sleep(0.02)


def store_hosts(addr: str, prefix: str) -> dict[tuple[str, int], tuple[str, int]]:
    """(key, commit-log offset) of every stored message -> the broker that stored it (the store
    host each message carries, replicated as is). A key can be stored twice: a send the dead
    master stored (and replicated) without answering, retried by the client on the new master."""
    return {((m.properties or {}).get("KEYS", ""), m.commit_log_offset): m.store_host for qid in range(4)
            for m in pull_all(addr, TOPIC, qid, timeout=30.0)}


def committed(addr: str, group: str, queue_id: int) -> int:
    response = call(addr, RequestCode.QUERY_CONSUMER_OFFSET, {"consumerGroup": group, "topic": TOPIC,
                                                              "queueId": str(queue_id)})
    return int(response.ext_fields["offset"]) if response.code == ResponseCode.SUCCESS else -1


def max_offset(addr: str, queue_id: int) -> int:
    response = call(addr, RequestCode.GET_MAX_OFFSET, {"topic": TOPIC, "queueId": str(queue_id)})
    assert response.code == ResponseCode.SUCCESS, response.remark
    return int(response.ext_fields["offset"])


def deliveries(events: list[dict], prefix: str) -> list[tuple[str, int]]:
    """(key, commit-log offset) of each delivery: one stored message, however often delivered."""
    return [(e["keys"], int(e["commitLogOffset"])) for e in events if e.get("event") == "msg"
            and e.get("status") == "SUCCESS" and str(e.get("keys", "")).startswith(prefix)]


def consumed(events: list[dict], prefix: str) -> list[str]:
    return [e["keys"] for e in events if e.get("event") == "msg" and e.get("status") == "SUCCESS"
            and str(e.get("keys", "")).startswith(prefix)]


@pytest.mark.parametrize("client", ["java", "go", "cpp"])
def test_official_client_rides_through_a_controller_failover(tmp_path: Path, procs, client: str) -> None:
    namesrv, _controller, brokers, master_addr = start_set(tmp_path, procs)
    prefix = f"fo-{client}-"
    consumer = start_consumer(client, namesrv, f"CID_failover_{client}")
    procs.append(consumer)
    consumer.wait_for("started", 90)
    producer = start_producer(client, namesrv, prefix + "{i}")
    procs.append(producer)
    producer.wait_for(lambda events: len(acked_keys(events)) >= 200, 90)
    # Something was consumed before the kill, so offsets were committed on the old master.
    consumer.wait_for(lambda events: len(consumed(events, prefix)) >= 100, 90)

    kill_index = len(producer.events)
    {b.addr: b for b in brokers}[master_addr].kill()  # kill -9
    killed = time.monotonic()
    arrivals = watch_until(producer, lambda: route_master(namesrv) not in (None, master_addr)
                           and len(acked_keys(producer.events[kill_index:])) >= 200, 120,
                           f"200 SEND_OK of the {client} producer after the kill, the new master in the route")
    producer.kill()
    events = list(producer.events)
    acked = {prefix + str(i) for i in acked_keys(events)}
    errors = sum(e.get("event") == "send-error" for e in events)
    new_master = route_master(namesrv)
    assert new_master is not None and new_master != master_addr
    # The first SEND_OK after the kill whose message the new master stored (its store host).
    hosts = store_hosts(new_master, prefix)
    stored_keys = {key for key, _ in hosts}
    lost = acked - stored_keys
    assert not lost, f"{len(lost)} acknowledged messages not on the new master: {sorted(lost)[:10]}"
    host, port = new_master.rsplit(":", 1)
    by_new_master = {key for (key, _), h in hosts.items() if h == (host, int(port))}
    first_index = next(n for n, e in enumerate(events) if n >= kill_index and e.get("event") == "send"
                       and e.get("status") == "SEND_OK" and prefix + str(e["i"]) in by_new_master)
    assert first_index < len(arrivals)
    gap = arrivals[first_index] - killed

    def has_all() -> bool:
        return acked <= set(consumed(consumer.events, prefix))

    try:
        wait_until(has_all, 120, 0.2, f"the {client} push consumer to consume every acknowledged message")
    finally:
        got = deliveries(consumer.events, prefix)
        counts: dict[tuple[str, int], int] = {}
        for identity in got:
            counts[identity] = counts.get(identity, 0) + 1
        redelivered = {identity for identity, n in counts.items() if n > 1}
        missing = acked - {key for key, _ in got}
        print(f"\n[official {client} 4.x client] kill -9 of the master -> first SEND_OK on the new master: "
              f"{gap:.1f} s ({len(acked)} acknowledged, {errors} failed sends, {len(hosts) - len(stored_keys)} "
              f"stored twice by a retry); push consumer: {len(got)} deliveries of {len(counts)} stored messages, "
              f"{sum(counts.values()) - len(counts)} re-deliveries, {len(missing)} acknowledged not consumed")
    # Only a message stored by the old master can come again (its offset commit was on the dead
    # master, or not yet sent); one the new master stored is committed there.
    on_new_master = {identity for identity in redelivered if hosts.get(identity) == (host, int(port))}
    assert not on_new_master, f"re-delivered though stored on the new master: {sorted(on_new_master)[:10]}"

    # The consumer's offsets are committed on the new master; a new consumer process of the
    # group starts from them: it gets what is sent now, and nothing it had consumed already.
    group = f"CID_failover_{client}"
    wait_until(lambda: all(committed(new_master, group, q) == max_offset(new_master, q) for q in range(4)), 60, 0.5,
               "the consumer's offsets committed on the new master")
    consumer.kill()
    again = start_consumer(client, namesrv, group)
    procs.append(again)
    again.wait_for("started", 90)
    after = start_producer(client, namesrv, prefix + "after-{i}", count=50)
    procs.append(after)
    after.wait(120, check=False)
    sent_after = {prefix + "after-" + str(i) for i in acked_keys(after.events)}
    assert len(sent_after) == 50, after.stdout[-2000:]
    wait_until(lambda: sent_after <= set(consumed(again.events, prefix)), 120, 0.2,
               f"the restarted {client} consumer to get the new messages")
    resumed_dups = [k for k in consumed(again.events, prefix) if k not in sent_after]
    print(f"[official {client} 4.x client] restarted consumer: {len(resumed_dups)} re-delivered from the committed offsets")
    assert not resumed_dups
