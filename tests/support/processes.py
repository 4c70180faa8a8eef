"""Real PocketMQ processes for tests: mqnamesrv and mqbroker started from bin/ on free loopback
ports, each with its own HOME (so logs, stores and config files stay in the test's temp dir),
waited for until they print their boot line, and always stopped."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "bin"


# Servers get ports below the kernel's ephemeral range (32768+), so a client socket opened in the
# meantime cannot take a port a server is about to bind. Servers bind 0.0.0.0: check that.
# Under `pytest -n N` each worker draws from its own slice, so two workers never race for a port.


def port_range(low: int = 12000, high: int = 30000) -> tuple[int, int]:
    """This test process's share of [low, high): all of it, or one slice per xdist worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or workers <= 1:
        return low, high
    size = (high - low) // workers
    index = int(worker[2:]) % workers
    return low + index * size, low + (index + 1) * size


_PORT_RANGE = port_range()


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is fine
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


# The controller preset's brokers (upstream's quick-start ports 30911, 31911, 32911, with their
# fast ports -2 and HA ports +1): 32909-32912 lie in Linux's default ephemeral range (32768-60999),
# where an outgoing connection of any process, the preset's own included, may take one first.
CONTROLLER_PRESET_PORTS = [p + d for p in (30911, 31911, 32911) for d in (-2, 0, 1)]
RESERVED_PORTS = Path("/proc/sys/net/ipv4/ip_local_reserved_ports")


@contextlib.contextmanager
def ports_kept_from_outgoing_connections(ports: list[int]) -> Iterator[None]:
    """What docs/failover.md tells an operator to do: list fixed listening ports in
    ip_local_reserved_ports, so the kernel never picks them for an outgoing connection."""
    try:
        before = RESERVED_PORTS.read_text().strip()
        RESERVED_PORTS.write_text(",".join([before, *map(str, ports)] if before else map(str, ports)))
    except OSError:  # not root: the kernel may still pick one, rarely
        yield
        return
    try:
        yield
    finally:
        RESERVED_PORTS.write_text(before or "\n")


def free_port() -> int:
    for _ in range(500):
        port = random.randrange(*_PORT_RANGE)
        if port_is_free(port):
            return port
    raise RuntimeError("no free port found")


def free_broker_port() -> int:
    """A listenPort whose fast port (-2) and HA port (+1) are free too."""
    for _ in range(500):
        port = free_port()
        if all(port_is_free(p) for p in (port - 2, port + 1)):
            return port
    raise RuntimeError("no free broker port range found")


class ServerProcess:
    """A started server process; its stdout is collected in ``output``."""

    def __init__(self, args: list[str], home: Path, ready_text: str, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.args = args
        self.ready_text = ready_text
        full_env = dict(os.environ, HOME=str(home), POCKETMQ_VENV=str(Path(sys.executable).parent.parent))
        full_env.update(env or {})
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env,
                                     cwd=str(cwd or home), text=True, bufsize=1)
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.ready_text in line:
                self._ready.set()
        self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 30.0) -> None:
        if not self._ready.wait(timeout) or self.ready_text not in self.output:
            self.kill()
            raise RuntimeError(f"{self.args[:2]} did not boot:\n{self.output}")

    def terminate(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class Namesrv(ServerProcess):
    def __init__(self, home: Path, port: int | None = None, extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        super().__init__(["bash", str(BIN / "mqnamesrv"), f"--listenPort={self.port}", *(extra or [])], home,
                         "The Name Server boot success", env=env)
        self.addr = f"127.0.0.1:{self.port}"


def start_namesrv(home: Path, port: int | None = None, extra: list[str] | None = None,
                  timeout: float = 30.0, env: dict[str, str] | None = None) -> Namesrv:
    namesrv = Namesrv(home, port, extra, env)
    namesrv.wait_ready(timeout)
    return namesrv


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    """Poll ``condition`` until it returns a truthy value; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class Broker(ServerProcess):
    """A real `mqbroker` on loopback with its store under ``home``. Extra config keys are given as
    ``--key=value`` overrides, exactly as an operator would."""

    def __init__(self, home: Path, namesrv_addr: str, name: str = "broker-a", port: int | None = None,
                 config_file: Path | None = None, extra: dict[str, object] | None = None,
                 env: dict[str, str] | None = None, flags: list[str] | None = None) -> None:
        self.port = port or free_broker_port()
        self.name = name
        self.addr = f"127.0.0.1:{self.port}"
        self.store_root = home / "store"
        overrides = {"brokerIP1": "127.0.0.1", "brokerName": name, "listenPort": self.port,
                     "storePathRootDir": self.store_root, "mappedFileSizeCommitLog": 4 * 1024 * 1024,
                     "maxIndexNum": 40000, "maxHashSlotNum": 10000}
        overrides.update(extra or {})
        args = ["bash", str(BIN / "mqbroker"), "-n", namesrv_addr]
        if config_file is not None:
            args += ["-c", str(config_file)]
        args += [f"--{key}={value}" for key, value in overrides.items()]
        args += flags or []
        ready = "The proxy boot success" if "--enable-proxy" in args else "boot success"
        super().__init__(args, home, ready, env=env)


def start_broker(home: Path, namesrv_addr: str, name: str = "broker-a", port: int | None = None,
                 config_file: Path | None = None, extra: dict[str, object] | None = None,
                 timeout: float = 60.0, env: dict[str, str] | None = None,
                 flags: list[str] | None = None) -> Broker:
    broker = Broker(home, namesrv_addr, name, port, config_file, extra, env, flags)
    broker.wait_ready(timeout)
    return broker


class Proxy(ServerProcess):
    """A real `mqproxy` (cluster mode) on a free loopback port, in front of ``namesrv_addr``."""

    def __init__(self, home: Path, namesrv_addr: str, port: int | None = None,
                 extra: dict[str, object] | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        args = ["bash", str(BIN / "mqproxy"), "-n", namesrv_addr, f"--grpcServerPort={self.port}"]
        args += [f"--{key}={value}" for key, value in (extra or {}).items()]
        super().__init__(args, home, "The proxy boot success", env=env)


def start_proxy(home: Path, namesrv_addr: str, port: int | None = None, extra: dict[str, object] | None = None,
                timeout: float = 30.0, env: dict[str, str] | None = None) -> Proxy:
    proxy = Proxy(home, namesrv_addr, port, extra, env)
    proxy.wait_ready(timeout)
    return proxy
