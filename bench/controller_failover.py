"""How fast the controller replaces a dead master: from the master's connection closing to the
surviving broker holding NOTIFY_BROKER_ROLE_CHANGED (its cue to become master).

    .venv/bin/python bench/controller_failover.py [--rounds 20] [--store file|etcd|both]

Starts a real ``mqcontroller`` (file store, or on a real etcd started here), forms a broker set of
three (brokers as in tests/support/controller.py: real connections, heartbeats, a listening port
for the notification), then per round: the master's connections close, the clock starts; the
round ends when a surviving broker has the notification; the dead broker rejoins as a replica.
Prints p50/p90/max in milliseconds per store. The controller's part of a failover only: the
broker's own switch (and its registration with the name servers) comes on top.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pocketmq.protocol import controller as p  # noqa: E402
from pocketmq.protocol.controller import ControllerRequestCode as Req  # noqa: E402
from tests.support.controller import ControllerBroker, replica_info, start_controller, start_etcd  # noqa: E402


def measure(controller: str, rounds: int) -> list[float]:
    brokers = [ControllerBroker("DefaultCluster", "broker-bench") for _ in range(3)]
    try:
        for broker in brokers:
            broker.join(controller)
            broker.heartbeat(controller, epoch=1, max_offset=100)
            broker.register(controller)
        assert brokers[0].elect(controller).code == 0
        samples = []
        for _ in range(rounds):
            info, sss = replica_info(brokers[0], controller)
            master = next(b for b in brokers if b.broker_id == info.masterBrokerId)
            others = [b for b in brokers if b is not master]
            if sss.syncStateSet != {b.broker_id for b in brokers}:
                master.call(controller, Req.CONTROLLER_ALTER_SYNC_STATE_SET,
                            p.AlterSyncStateSetRequestHeader("broker-bench", master.broker_id, info.masterEpoch),
                            p.SyncStateSet({b.broker_id for b in brokers}, sss.syncStateSetEpoch).encode())
            for broker in others:
                broker.notifications.clear()
                broker.heartbeat(controller, epoch=1, max_offset=100)
            started = time.perf_counter()
            master.drop_connections()
            while not any(b.notifications for b in others):
                time.sleep(0.0002)
            samples.append((time.perf_counter() - started) * 1000)
            master.heartbeat(controller, epoch=1, max_offset=100)  # back, as a replica
            master.register(controller)
        return samples
    finally:
        for broker in brokers:
            broker.close()


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    print(f"{name:5} rounds {len(samples):3}  p50 {statistics.median(ordered):6.2f} ms  "
          f"p90 {p90:6.2f} ms  max {ordered[-1]:6.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", choices=["file", "etcd", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pocketmq-bench-controller-") as tmp:
        home = Path(tmp)
        if args.store in ("file", "both"):
            controller = start_controller(home / "file")
            try:
                report("file", measure(controller.addr, args.rounds))
            finally:
                controller.kill()
        if args.store in ("etcd", "both"):
            etcd = start_etcd(home / "etcd")
            controller = start_controller(home / "on-etcd", extra=["--controllerStoreType=etcd",
                                                                   f"--etcdEndpoints={etcd.endpoint}"])
            try:
                report("etcd", measure(controller.addr, args.rounds))
            finally:
                controller.kill()
                etcd.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
