"""Client configuration shared by producers, consumers and the admin API (upstream
ClientConfig): name server addresses (argument or ``NAMESRV_ADDR``), client id, timings, and the
clock the client reads."""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass, field

from pocketmq.client.errors import MQClientError
from pocketmq.clock import SYSTEM_CLOCK, Clock


def parse_namesrv_addr(addr: str | list[str] | None) -> list[str]:
    """``"a:9876;b:9876"`` or ``"a:9876,b:9876"`` (or a list) -> ``["a:9876", "b:9876"]``;
    falls back to the ``NAMESRV_ADDR`` environment variable."""
    if addr is None:
        addr = os.environ.get("NAMESRV_ADDR", "")
    items = addr if isinstance(addr, list) else re.split(r"[;,]", addr)
    result = [a.strip() for a in items if a and a.strip()]
    if not result:
        raise MQClientError("no name server address: pass namesrv_addr or set NAMESRV_ADDR")
    return result


def local_ip() -> str:
    """The address peers see us by (a UDP connect picks the outgoing interface; no packet sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            ip = probe.getsockname()[0]
            if ip and not ip.startswith("0."):
                return ip
    except OSError:
        pass
    return "127.0.0.1"


@dataclass
class ClientConfig:
    namesrv_addr: str | list[str] | None = None
    instance_name: str = field(default_factory=lambda: os.environ.get("rocketmq.client.name", "DEFAULT"))
    client_ip: str = field(default_factory=local_ip)
    unit_name: str | None = None
    poll_name_server_interval: float = 30.0
    heartbeat_broker_interval: float = 30.0
    persist_consumer_offset_interval: float = 5.0
    rebalance_interval: float = 20.0
    api_timeout: float = 3.0
    language: str = "PYTHON"
    clock: Clock = SYSTEM_CLOCK  # born timestamps and unique ids (pocketmq.clock)

    def namesrv_list(self) -> list[str]:
        return parse_namesrv_addr(self.namesrv_addr)

    def build_client_id(self) -> str:
        instance = self.instance_name
        if instance == "DEFAULT":
            instance = f"{os.getpid()}#{time.monotonic_ns()}"
            self.instance_name = instance
        cid = f"{self.client_ip}@{instance}"
        if self.unit_name:
            cid += f"@{self.unit_name}"
        return cid
