"""A seeded fault schedule: the same seed gives the same faults in the same order, so a run
that found something can be replayed (``NEMESIS_SEED=<seed>``).

A step is one fault or two at once (overlapping), each a kind (kill -9, SIGSTOP, partition) on a
target chosen by role when the step runs (the master, a slave, the controller), held for a few
seconds, then undone."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

KINDS = ("kill", "stop", "partition")
TARGETS = ("master", "slave", "controller")


@dataclass(frozen=True)
class Fault:
    kind: str
    target: str

    def __str__(self) -> str:
        return f"{self.kind} {self.target}"


@dataclass(frozen=True)
class Step:
    faults: tuple[Fault, ...]
    hold: float  # seconds the faults stay before they are undone

    def __str__(self) -> str:
        return " + ".join(map(str, self.faults)) + f" for {self.hold:.1f}s"


def every_single_fault() -> list[Fault]:
    return [Fault(kind, target) for target in TARGETS for kind in KINDS]


def single_steps(seed: int) -> Iterator[Step]:
    """One fault at a time: every kind x target once, in a seeded order, then again reshuffled."""
    rng = random.Random(seed)
    while True:
        pool = every_single_fault()
        rng.shuffle(pool)
        for fault in pool:
            yield Step((fault,), round(rng.uniform(2.0, 6.0), 1))


def overlapping_steps(seed: int) -> Iterator[Step]:
    """Two faults at once on two different targets (e.g. master cut off while the controller is
    stopped)."""
    rng = random.Random(seed + 1)
    while True:
        first, second = rng.sample(TARGETS, 2)
        yield Step((Fault(rng.choice(KINDS), first), Fault(rng.choice(KINDS), second)),
                   round(rng.uniform(2.0, 6.0), 1))
