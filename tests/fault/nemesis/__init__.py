"""Jepsen-style nemesis harness for controller mode (issue 17), used by tests/fault/test_nemesis.py
and `make chaos`.

Owns: a bridge network of one network namespace per process (net), the processes of one broker
set in those namespaces with kill -9 / SIGSTOP / partition and their undo (topology), a seeded
fault schedule (schedule), the run that drives the official Java 4.x clients through it (runner)
and the checker of what they saw against the brokers' stores (checker).

May import: pocketmq (protocol decoding, the epoch file), tests.support, tests.interop.clients.
"""
