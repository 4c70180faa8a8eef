"""Controller-mode test parts: a real ``mqcontroller`` and a real ``etcd`` on free loopback
ports, and ``ControllerBroker``, which speaks the broker side of the controller protocol
(GET_NEXT_BROKER_ID, APPLY_BROKER_ID, BROKER_HEARTBEAT, REGISTER, ELECT_MASTER, ALTER_SYNC_STATE_SET)
over real connections and listens for NOTIFY_BROKER_ROLE_CHANGED on its own port."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

from pocketmq.protocol import controller as p
from pocketmq.protocol.controller import ControllerRequestCode as Req
from pocketmq.remoting.command import RemotingCommand, make_request
from pocketmq.remoting.header import decode_header, encode_header
from pocketmq.remoting.transport import Connection, Dispatcher, RemotingClient, RemotingServer
from tests.support.processes import BIN, ServerProcess, free_port


class Controller(ServerProcess):
    """A real ``mqcontroller``; ``extra`` are --key=value overrides."""

    def __init__(self, home: Path, port: int | None = None, extra: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.addr = f"127.0.0.1:{self.port}"
        super().__init__(["bash", str(BIN / "mqcontroller"), "--controllerDLegerGroup=group1",
                          f"--controllerDLegerPeers=n0-{self.addr}", "--controllerDLegerSelfId=n0",
                          f"--controllerStorePath={home / 'controller-store'}", *(extra or [])], home,
                         "The Controller boot success")


def start_controller(home: Path, port: int | None = None, extra: list[str] | None = None,
                     timeout: float = 60.0) -> Controller:
    controller = Controller(home, port, extra)
    controller.wait_ready(timeout)
    return controller


def etcd_binary() -> str:
    path = shutil.which("etcd")
    if path is None:
        raise RuntimeError("etcd is not installed: run tests/interop/setup.sh (it installs Debian's etcd-server)")
    return path


class Etcd(ServerProcess):
    """A one-member etcd cluster with its data under ``home``."""

    def __init__(self, home: Path, client_port: int | None = None, peer_port: int | None = None) -> None:
        self.client_port = client_port or free_port()
        self.peer_port = peer_port or free_port()
        self.endpoint = f"127.0.0.1:{self.client_port}"
        client_url, peer_url = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
        super().__init__([etcd_binary(), "--name", "e0", "--data-dir", str(home / "etcd-data"),
                          "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                          "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                          "--initial-cluster", f"e0={peer_url}"], home, "ready to serve client requests")


def start_etcd(home: Path, client_port: int | None = None, peer_port: int | None = None,
               timeout: float = 60.0) -> Etcd:
    etcd = Etcd(home, client_port, peer_port)
    etcd.wait_ready(timeout)
    return etcd


class ControllerBroker:
    """One broker of a set, as far as the controller sees it. Its calls run on a private event
    loop thread; each controller gets one persistent connection (as a real broker keeps), so
    ``drop_connections`` is what a broker's death looks like to the controllers."""

    def __init__(self, cluster: str, broker_name: str) -> None:
        self.cluster, self.broker_name = cluster, broker_name
        self.broker_id: int | None = None
        self.notifications: list[tuple[p.NotifyBrokerRoleChangedRequestHeader, p.SyncStateSet]] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.client: RemotingClient = self._run(self._make_client())
        dispatcher = Dispatcher()
        dispatcher.register(Req.NOTIFY_BROKER_ROLE_CHANGED, self._on_notify)
        self.server = RemotingServer(dispatcher)
        self._run(self.server.start("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{self.server.port}"

    @staticmethod
    async def _make_client() -> RemotingClient:
        return RemotingClient()

    def _run(self, coro, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _on_notify(self, request: RemotingCommand, channel: Connection) -> None:
        header = decode_header(p.NotifyBrokerRoleChangedRequestHeader, request.ext_fields)
        self.notifications.append((header, p.SyncStateSet.decode(request.body_bytes())))
        return None

    def call(self, controller: str, code: int, header: object | None = None, body: bytes | None = None,
             timeout: float = 10.0) -> RemotingCommand:
        fields = encode_header(header) if header is not None else None
        return self._run(self.client.invoke(controller, make_request(code, fields, body), timeout), timeout + 5)

    def join(self, controller: str) -> int:
        """GET_NEXT_BROKER_ID, APPLY_BROKER_ID (as upstream's ReplicasManager), then a heartbeat."""
        answer = self.call(controller, Req.CONTROLLER_GET_NEXT_BROKER_ID,
                           p.GetNextBrokerIdRequestHeader(self.cluster, self.broker_name))
        assert answer.code == 0, answer.remark
        next_id = decode_header(p.GetNextBrokerIdResponseHeader, answer.ext_fields).nextBrokerId
        assert next_id is not None
        applied = self.call(controller, Req.CONTROLLER_APPLY_BROKER_ID,
                            p.ApplyBrokerIdRequestHeader(self.cluster, self.broker_name, next_id,
                                                         p.register_check_code(self.addr, 1)))
        assert applied.code == 0, applied.remark
        self.broker_id = next_id
        return next_id

    def heartbeat(self, controller: str, epoch: int = 0, max_offset: int = 0, timeout_ms: int = 10_000) -> None:
        answer = self.call(controller, Req.BROKER_HEARTBEAT, p.BrokerHeartbeatRequestHeader(
            self.cluster, self.addr, self.broker_name, self.broker_id, epoch, max_offset, None, timeout_ms, None))
        assert answer.code == 0, answer.remark

    def register(self, controller: str) -> RemotingCommand:
        return self.call(controller, Req.CONTROLLER_REGISTER_BROKER, p.RegisterBrokerToControllerRequestHeader(
            self.cluster, self.broker_name, self.broker_id, self.addr))

    def elect(self, controller: str) -> RemotingCommand:
        return self.call(controller, Req.CONTROLLER_ELECT_MASTER, p.ElectMasterRequestHeader(
            self.cluster, self.broker_name, self.broker_id if self.broker_id is not None else -1, False))

    def drop_connections(self) -> None:
        """Close every connection to the controllers at once (the broker process died)."""
        async def drop() -> None:
            await self.client.close()
            self.client = RemotingClient()
        self._run(drop())

    def close(self) -> None:
        async def stop() -> None:
            await self.client.close()
            await self.server.close()
        self._run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def replica_info(broker: ControllerBroker, controller: str) -> tuple[p.GetReplicaInfoResponseHeader, p.SyncStateSet]:
    answer = broker.call(controller, Req.CONTROLLER_GET_REPLICA_INFO, p.GetReplicaInfoRequestHeader(broker.broker_name))
    assert answer.code == 0, answer.remark
    return (decode_header(p.GetReplicaInfoResponseHeader, answer.ext_fields),
            p.SyncStateSet.decode(answer.body_bytes()))
