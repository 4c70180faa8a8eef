"""One nemesis run: the topology in its namespaces, the official Java 4.x producer (8 threads,
sync sends, unique keys) and push consumer in the root namespace, a sampler of every broker's
role and masterEpoch, and the seeded schedule (single faults for the first half of the time,
then overlapping ones), then healing and the checker's inputs. ``run`` always removes every
process and namespace it made."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from pocketmq.remoting.codes import RequestCode
from pocketmq.store.epoch_file import EpochFile
from tests.fault.nemesis import checker
from tests.fault.nemesis.net import Lab
from tests.fault.nemesis.schedule import Fault, Step, overlapping_steps, single_steps
from tests.fault.nemesis.topology import SET, Proc, Topology, claims_master, healthy_master, safe_info
from tests.interop.clients import DriverProcess, start_java_driver
from tests.support.cluster import commit_log_bytes, create_topic, pull_all
from tests.support.processes import wait_until
from tests.support.rpc import call

TOPIC = "NemesisTopic"
GROUP = "CID_nemesis"
KEY_PREFIX = "nem-"
RECOVERY_TIMEOUT = 120.0


@dataclass
class StepRecord:
    step: Step
    targets: list[str]
    start: float  # epoch seconds
    undone: float = 0.0
    recovered: float = 0.0
    write_gap: float = 0.0


@dataclass
class RunResult:
    seed: int
    seconds: float
    store: str
    steps: list[StepRecord] = field(default_factory=list)
    acks: list[checker.Ack] = field(default_factory=list)
    send_errors: int = 0
    consumed: dict[str, float] = field(default_factory=dict)
    samples: list[checker.RoleSample] = field(default_factory=list)
    stored_keys: set[str] = field(default_factory=set)
    final_master: str = ""
    end_offset: int = 0
    logs_identical: bool = False
    log: bytes = b""
    epoch_entries: dict[str, list] = field(default_factory=dict)
    set_hosts: set[str] = field(default_factory=set)
    consumer_stall: float = 0.0
    consumer_stall_began: float = 0.0  # epoch seconds
    duration: float = 0.0


class Sampler(threading.Thread):
    """Asks every broker for its role and masterEpoch, over and over, until stopped."""

    def __init__(self, topology: Topology) -> None:
        super().__init__(daemon=True)
        self.topology = topology
        self.samples: list[checker.RoleSample] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for broker in self.topology.brokers:
                info = safe_info(broker.addr, timeout=1.0)
                if info:
                    self.samples.append(checker.RoleSample(time.time(), broker.addr, int(info.get("masterEpoch", "0")),
                                                           claims_master(info)))
            self.halt.wait(0.2)


def route_master(namesrv: str) -> str | None:
    response = call(namesrv, RequestCode.GET_ROUTEINFO_BY_TOPIC, {"topic": TOPIC}, timeout=3.0)
    if response.code != 0:
        return None
    for data in orjson.loads(response.body)["brokerDatas"]:
        if data["brokerName"] == SET:
            return data["brokerAddrs"].get("0")
    return None


def _acked_count(producer: DriverProcess) -> int:
    return sum(1 for e in producer.events if e.get("event") == "send" and e.get("status") == "SEND_OK")


def _resolve(fault: Fault, topology: Topology, rng: random.Random, taken: set[str]) -> Proc:
    if fault.target == "controller":
        return rng.choice(topology.controllers)
    master = next((b for b in topology.brokers if claims_master(safe_info(b.addr))), topology.brokers[0])
    if fault.target == "master":
        return master
    return rng.choice([b for b in topology.brokers if b is not master and b.name not in taken])


def _apply(kind: str, proc: Proc) -> None:
    {"kill": proc.kill9, "stop": proc.sigstop, "partition": proc.partition}[kind]()


def _undo(kind: str, proc: Proc) -> None:
    {"kill": proc.restart, "stop": proc.sigcont, "partition": proc.heal}[kind]()


HEALTH_KEYS = ("brokerControllerId", "masterBrokerId", "masterAddress", "masterEpoch", "syncStateSet",
               "syncStateSetEpoch", "haConnectionCount", "commitLogMaxOffset")


def broker_states(topology: Topology) -> str:
    """What each broker says about its role, for a failure message."""
    return "; ".join(f"{b.name} {b.addr}: " + ", ".join(f"{k}={safe_info(b.addr).get(k)}" for k in HEALTH_KEYS)
                     for b in topology.brokers)


def _wait_recovered(topology: Topology, producer: DriverProcess, after: int, what: str) -> None:
    try:
        wait_until(lambda: healthy_master(topology), RECOVERY_TIMEOUT, 0.3, f"a healthy master after {what}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; brokers: {broker_states(topology)}") from None
    wait_until(lambda: _acked_count(producer) > after, RECOVERY_TIMEOUT, 0.2, f"a SEND_OK after {what}")


def run(home: Path, seed: int, seconds: float, poll_namesrv_ms: int = 5000, store: str = "file",
        say: Callable[[str], None] = print) -> RunResult:
    result = RunResult(seed, seconds, store)
    began = time.monotonic()
    lab = Lab()
    topology: Topology | None = None
    clients: list[DriverProcess] = []
    sampler: Sampler | None = None
    try:
        lab.up()
        topology = Topology(lab, home, store)
        topology.start()
        wait_until(lambda: healthy_master(topology), 90, 0.3, "a master with all three brokers in its SyncStateSet")
        for broker in topology.brokers:
            create_topic(broker.addr, TOPIC)
        wait_until(lambda: route_master(topology.namesrv.addr) is not None, 60, 0.3, "the topic's route")
        common = ["--topic", TOPIC, "--vip", "false", "--poll-namesrv-ms", poll_namesrv_ms]
        consumer = start_java_driver(["push-consume", *common, "--group", GROUP, "--count", 2_000_000_000,
                                      "--timeout", 100_000, "--from", "first"], namesrv=topology.namesrv.addr)
        clients.append(consumer)
        consumer.wait_for("started", 90)
        producer = start_java_driver(["produce", *common, "--mode", "sync", "--threads", 8, "--count", 2_000_000_000,
                                      "--keys", KEY_PREFIX + "{i}", "--send-timeout", 3000],
                                     namesrv=topology.namesrv.addr)
        clients.append(producer)
        producer.wait_for(lambda events: _acked_count(producer) >= 200, 120)
        sampler = Sampler(topology)
        sampler.start()

        rng = random.Random(seed)
        nemesis_start = time.monotonic()
        singles, overlaps = single_steps(seed), overlapping_steps(seed)
        while time.monotonic() - nemesis_start < seconds:
            step = next(singles) if time.monotonic() - nemesis_start < seconds / 2 else next(overlaps)
            result.steps.append(_run_step(step, topology, producer, rng, say))

        before_stop = _acked_count(producer)
        producer.kill()
        result.acks = checker.acks_of(producer.events, KEY_PREFIX)
        result.send_errors = sum(1 for e in producer.events if e.get("event") == "send-error")
        say(f"nemesis: producer stopped after {before_stop} SEND_OKs; waiting for the consumer")
        acked_keys = {a.key for a in result.acks}

        def consumed_all() -> bool:
            keys = {e.get("keys") for e in list(consumer.events) if e.get("event") == "msg"}
            return acked_keys <= keys

        try:
            wait_until(consumed_all, 120, 0.5, "the push consumer to receive every SEND_OK key")
        except AssertionError as exc:
            say(f"nemesis: {exc}")
        for e in list(consumer.events):
            if e.get("event") == "msg" and e.get("keys") not in result.consumed:
                result.consumed[e["keys"]] = e["t"] / 1000
        _final_state(topology, result, say)
        sampler.halt.set()  # only now: a late election after the faults must be sampled too
        sampler.join(10)
        result.samples = list(sampler.samples)
        result.consumer_stall, result.consumer_stall_began = checker.consumer_stall(list(result.consumed.values()), [a.t / 1000 for a in result.acks])
        for record in result.steps:
            record.write_gap = checker.longest_gap(sorted(a.t / 1000 for a in result.acks), record.start - 1.0,
                                                   record.recovered)
        return result
    finally:
        result.duration = time.monotonic() - began
        if sampler is not None:
            sampler.halt.set()
        for client in clients:
            client.kill()
        _keep_histories(home, clients, sampler, result)
        if topology is not None:
            topology.stop()
        lab.destroy()


def _run_step(step: Step, topology: Topology, producer: DriverProcess, rng: random.Random,
              say: Callable[[str], None]) -> StepRecord:
    applied: list[tuple[Fault, Proc]] = []
    for fault in step.faults:
        proc = _resolve(fault, topology, rng, {p.name for _, p in applied})
        applied.append((fault, proc))
    record = StepRecord(step, [f"{f.kind} {p.name}({f.target})" for f, p in applied], time.time())
    say(f"nemesis: {' + '.join(record.targets)} for {step.hold}s")
    for fault, proc in applied:
        _apply(fault.kind, proc)
    time.sleep(step.hold)  # the fault's duration (the schedule's hold), not a wait for a condition
    after = _acked_count(producer)
    for fault, proc in reversed(applied):
        _undo(fault.kind, proc)
    record.undone = time.time()
    _wait_recovered(topology, producer, after, " + ".join(record.targets))
    record.recovered = time.time()
    return record


def _keep_histories(home: Path, clients: list[DriverProcess], sampler: Sampler | None, result: RunResult) -> None:
    """The clients' events, the role samples and the steps, as files beside the stores, to read
    after a failed run."""
    for name, client in zip(("consumer", "producer"), clients):
        (home / f"{name}.jsonl").write_text(client.stdout)
    if sampler is not None:
        (home / "roles.jsonl").write_text("".join(
            orjson.dumps(s.__dict__).decode() + "\n" for s in sampler.samples))
    (home / "steps.txt").write_text("".join(
        f"{r.start:.3f} {r.undone:.3f} {r.recovered:.3f} {' + '.join(r.targets)} hold {r.step.hold}\n"
        for r in result.steps))


def _final_state(topology: Topology, result: RunResult, say: Callable[[str], None]) -> None:
    """The converged logs and what the final master serves. An election may still come after
    the faults end (a controller that was cut off finds the master's heartbeats expired once it
    is back, as the master's own connection to it is still in TCP back-off), and a broker
    turning slave serves only what its new master confirmed: the state is read again until the
    same master, in the same epoch, was healthy before and after the reading."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while True:
        master_addr = wait_until(lambda: healthy_master(topology), RECOVERY_TIMEOUT, 0.3, "a healthy master at the end")
        epoch = safe_info(master_addr).get("masterEpoch")
        _read_final_state(topology, master_addr, result)
        if healthy_master(topology) == master_addr and safe_info(master_addr).get("masterEpoch") == epoch:
            break
        assert time.monotonic() < deadline, f"no master stayed healthy for {RECOVERY_TIMEOUT:.0f} s after the faults"
        say(f"nemesis: the master changed while the final state was read from {master_addr}; reading again")


def _read_final_state(topology: Topology, master_addr: str, result: RunResult) -> None:
    result.final_master = master_addr
    result.set_hosts = {b.addr for b in topology.brokers}

    def converged() -> int | None:
        ends = {int(safe_info(b.addr).get("commitLogMaxOffset", "-1")) for b in topology.brokers}
        return ends.pop() if len(ends) == 1 and -1 not in ends else None

    result.end_offset = wait_until(converged, RECOVERY_TIMEOUT, 0.3, "the three commit logs to end at one offset")
    master = topology.broker(master_addr)
    result.log = commit_log_bytes(master, result.end_offset)
    result.logs_identical = all(commit_log_bytes(b, result.end_offset) == result.log for b in topology.brokers)
    result.stored_keys = set()
    for qid in range(4):
        result.stored_keys |= {(m.properties or {}).get("KEYS", "") for m in pull_all(master_addr, TOPIC, qid,
                                                                                      timeout=60.0)}
    result.epoch_entries = {}
    for broker in topology.brokers:
        epochs = EpochFile(str(broker.store_root))
        epochs.load()
        result.epoch_entries[broker.name] = list(epochs.entries)
