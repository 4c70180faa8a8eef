"""The controller's state in etcd (controllerStoreType=etcd), for a highly available controller.

Owns: one etcd key per broker set, ``<etcdKeyPrefix>/brokers/<brokerName>``, holding the set's
JSON; the key's ``mod_revision`` is its version. Every state change is one etcd transaction
"if mod_revision(key) == the revision read, put (or delete) the key": two controllers deciding at
once from the same state cannot both win, the loser gets StoreConflict, reads again and decides
again. Reads are linearizable (not serializable), so a decision starts from etcd's latest state.
etcd unreachable (or slower than ``timeout``) is StoreUnavailable: no election, no change.

Client: ``aetcd`` (asyncio over grpc.aio, on PyPI, version 1.0.0, kept up; its transactions take
mod-revision compares, which is all this needs).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from pocketmq.controller.replicas import BrokerSet
from pocketmq.controller.store import StoreConflict, StoreCorrupt, StoreUnavailable, Versioned

log = logging.getLogger("pocketmq.controller")


def parse_endpoints(text: str) -> list[tuple[str, int]]:
    """``etcdEndpoints``: ``host:port`` (or ``http://host:port``) separated by ``,`` or ``;``."""
    endpoints = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        if "://" in item:
            item = item.split("://", 1)[1]
        host, _, port = item.rstrip("/").rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad etcd endpoint {item!r} (want host:port)")
        endpoints.append((host, int(port)))
    if not endpoints:
        raise ValueError("etcdEndpoints is empty")
    return endpoints


class EtcdStore:
    def __init__(self, endpoints: str, prefix: str = "/pocketmq/controller", timeout: float = 3.0) -> None:
        self.endpoints = parse_endpoints(endpoints)
        self.prefix = prefix.rstrip("/")
        self.timeout = timeout
        self._client: Any = None
        self._endpoint_index = 0
        self._closing: set[asyncio.Task[None]] = set()

    def describe(self) -> str:
        return "etcd " + ",".join(f"{h}:{p}" for h, p in self.endpoints) + f" prefix {self.prefix}"

    def _key(self, broker_name: str) -> bytes:
        return f"{self.prefix}/brokers/{broker_name}".encode()

    async def open(self) -> None:
        try:
            await self._connected()
        except StoreUnavailable as exc:
            log.error("etcd unreachable at start-up (%s); the controller starts and retries on each request", exc)

    async def _connected(self) -> Any:
        if self._client is not None:
            return self._client
        import aetcd  # imported here: only a controller on etcd needs it

        errors = []
        for i in range(len(self.endpoints)):
            host, port = self.endpoints[(self._endpoint_index + i) % len(self.endpoints)]
            client = aetcd.Client(host=host, port=port, timeout=self.timeout, connect_wait_timeout=int(self.timeout))
            try:
                await asyncio.wait_for(client.connect(), self.timeout)
                await asyncio.wait_for(client.status(), self.timeout)
            except Exception as exc:  # noqa: BLE001 - any failure means this endpoint is not usable
                errors.append(f"{host}:{port}: {type(exc).__name__} {exc}".strip())
                await _close_quietly(client)
                continue
            self._endpoint_index = (self._endpoint_index + i) % len(self.endpoints)
            self._client = client
            log.info("connected to etcd at %s:%d", host, port)
            return client
        raise StoreUnavailable("etcd unreachable: " + "; ".join(errors))

    async def _call(self, what: str, make: Any) -> Any:
        client = await self._connected()
        try:
            return await asyncio.wait_for(make(client), self.timeout)
        except (StoreConflict, StoreCorrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - grpc/aetcd errors: the store is unavailable
            log.error("etcd %s failed: %s %s", what, type(exc).__name__, exc)
            self._client = None
            self._endpoint_index += 1
            # close the broken client in the background: the answer must not wait on it
            closing = asyncio.get_running_loop().create_task(_close_quietly(client))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            raise StoreUnavailable(f"etcd {what} failed: {type(exc).__name__} {exc}") from exc

    @staticmethod
    def _decode(value: bytes) -> BrokerSet:
        try:
            return BrokerSet.from_json(orjson.loads(value))
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreCorrupt(f"a broker set in etcd does not parse: {exc}") from None

    async def get(self, broker_name: str) -> Versioned:
        result = await self._call("get", lambda c: c.get(self._key(broker_name)))
        if result is None:
            return Versioned(None, 0)
        return Versioned(self._decode(result.value), result.mod_revision)

    async def get_all(self) -> dict[str, Versioned]:
        prefix = f"{self.prefix}/brokers/".encode()
        result = await self._call("get_prefix", lambda c: c.get_prefix(prefix))
        sets = {}
        for kv in result:
            state = self._decode(kv.value)
            sets[state.brokerName] = Versioned(state, kv.mod_revision)
        return sets

    async def commit(self, broker_name: str, expected_version: int, state: BrokerSet | None) -> int:
        key = self._key(broker_name)

        async def txn(client: Any) -> Any:
            t = client.transactions
            operation = t.delete(key) if state is None else t.put(key, orjson.dumps(state.to_json()))
            return await client.transaction(compare=[t.mod(key) == expected_version], success=[operation],
                                            failure=[])

        succeeded, responses = await self._call("transaction", txn)
        if not succeeded:
            raise StoreConflict(f"{broker_name}: changed in etcd since revision {expected_version}")
        if state is None:
            return 0
        return int(responses[0].response_put.header.revision)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await _close_quietly(client)


async def _close_quietly(client: Any) -> None:
    try:
        await asyncio.wait_for(client.close(), 2.0)
    except Exception:  # noqa: BLE001 - closing a broken client must not raise
        pass
