"""A real Apache RocketMQ 4.9 name server and broker, run from the Maven jars, for interop tests.

Owns: finding free loopback ports, writing a throw-away ROCKETMQ_HOME (logback configs) and
broker config, starting ``NamesrvStartup`` / ``BrokerStartup`` JVMs with small heaps, waiting
for "boot success", and always killing them again.

    with apache_namesrv() as ns, apache_broker(ns.addr) as broker:
        ...  # ns.addr == "127.0.0.1:PORT", broker.addr == "127.0.0.1:PORT"

The jars come from ``tests/interop/setup.sh`` (``tests/interop/java/lib``). Nothing here touches
$HOME: every JVM gets ``-Duser.home`` and its store under a temporary directory, removed on
exit unless ``POCKETMQ_KEEP_TMP=1``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

# Run as a script's import too (clients.py starts the C++ driver as a subprocess): the repository
# root, for tests.support.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.support.processes import port_range  # noqa: E402

INTEROP_DIR = Path(__file__).resolve().parent
JAVA_DIR = INTEROP_DIR / "java"
LIB_DIR = JAVA_DIR / "lib"
CLASSES_DIR = JAVA_DIR / "target" / "classes"
ROCKETMQ_VERSION = "4.9.7"

BOOT_TIMEOUT = float(os.environ.get("POCKETMQ_APACHE_BOOT_TIMEOUT", "120"))

# Open the JDK internals RocketMQ 4.9 reaches into (mapped-buffer cleaners, netty).
JDK17_OPENS = [
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
]


class InteropSetupMissing(RuntimeError):
    """The jars or driver builds are absent: run ``bash tests/interop/setup.sh``."""


def java_classpath() -> str:
    """Classpath with our driver classes and every RocketMQ jar (needs setup.sh)."""
    if not LIB_DIR.is_dir() or not any(LIB_DIR.glob("rocketmq-broker-*.jar")):
        raise InteropSetupMissing(f"{LIB_DIR} has no RocketMQ jars: run `bash tests/interop/setup.sh`")
    return f"{CLASSES_DIR}{os.pathsep}{LIB_DIR}/*"


def java_bin() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise InteropSetupMissing("no `java` on PATH")
    return found


def _die_with_parent() -> None:
    """preexec_fn: have the kernel SIGKILL the child if pytest itself dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def keep_tmp() -> bool:
    return os.environ.get("POCKETMQ_KEEP_TMP", "") not in ("", "0")


# ---- ports -----------------------------------------------------------------------------------

def _port_free(port: int) -> bool:
    # The broker binds 0.0.0.0, so check the wildcard address, not just loopback.
    if not 1024 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free TCP port below the kernel's ephemeral range (so clients' ports never take it)."""
    low, high = port_range()
    for _ in range(500):
        port = random.randint(low, high - 1)
        if _port_free(port):
            return port
    raise RuntimeError("no free port")


def free_broker_port() -> int:
    """A listenPort whose fast port (listenPort-2) and HA port (listenPort+1) are free too."""
    low, high = port_range()
    for _ in range(500):
        port = random.randint(low + 2, high - 2)
        if all(_port_free(p) for p in (port, port - 2, port - 1, port + 1)):
            return port
    raise RuntimeError("no free broker port triple")


def wait_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return True
        time.sleep(0.2)
    return False


# ---- ROCKETMQ_HOME ---------------------------------------------------------------------------

_LOGBACK = """<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>{log}</file>
    <append>true</append>
    <encoder><pattern>%d{{HH:mm:ss.SSS}} %-5level [%thread] %logger{{24}} - %msg%n</pattern></encoder>
  </appender>
  <root level="{level}"><appender-ref ref="FILE"/></root>
</configuration>
"""


def make_rocketmq_home(root: Path, level: str = "INFO") -> Path:
    """Write ROCKETMQ_HOME/conf/logback_{namesrv,broker,tools}.xml logging to ROCKETMQ_HOME/logs."""
    conf = root / "conf"
    logs = root / "logs"
    conf.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    for name in ("namesrv", "broker", "tools"):
        lvl = "WARN" if name == "tools" else level
        (conf / f"logback_{name}.xml").write_text(_LOGBACK.format(log=logs / f"{name}.log", level=lvl))
    return root


def server_jvm_args(home: Path, heap: str = "256m", max_heap: str = "512m",
                    direct: str = "256m") -> list[str]:
    return [
        f"-Xms{heap}", f"-Xmx{max_heap}", f"-XX:MaxDirectMemorySize={direct}",
        "-XX:+UseSerialGC", "-XX:-OmitStackTraceInFastThrow", "-Xss512k",
        "-XX:-UsePerfData", "-Djava.net.preferIPv4Stack=true",
        # netty's self-signed TLS cert (broker tls "permissive" mode) lands in java.io.tmpdir
        f"-Duser.home={home}", f"-Djava.io.tmpdir={home}",
        f"-Drocketmq.home.dir={home}",
        f"-Drocketmq.client.logRoot={home / 'logs'}",
        "-Drocketmq.client.logLevel=WARN",
        *JDK17_OPENS,
    ]


# ---- processes -------------------------------------------------------------------------------

@dataclass
class JavaServer:
    """One running NamesrvStartup or BrokerStartup JVM."""

    kind: str
    port: int
    home: Path
    proc: subprocess.Popen
    stdout_path: Path
    extra: dict = field(default_factory=dict)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return self.stdout_path.read_text(errors="replace")
        return ""

    def log_tail(self, lines: int = 60) -> str:
        parts = [f"--- {self.kind} stdout/stderr ---", *self.output().splitlines()[-lines:]]
        log = self.home / "logs" / f"{self.kind}.log"
        if log.exists():
            parts += [f"--- {log} ---", *log.read_text(errors="replace").splitlines()[-lines:]]
        return "\n".join(parts)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM (runs RocketMQ's shutdown hook), then SIGKILL after `grace` seconds."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc.wait()

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self.proc.wait()


def _spawn(kind: str, main_class: str, args: list[str], home: Path, port: int,
           jvm_args: list[str], marker: str, timeout: float,
           classpath: str | None = None) -> JavaServer:
    out_path = home / f"{kind}.out"
    env = dict(os.environ, ROCKETMQ_HOME=str(home))
    env.pop("JAVA_TOOL_OPTIONS", None)
    cmd = [java_bin(), *jvm_args, "-cp", classpath or java_classpath(), main_class, *args]
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=home, env=env, preexec_fn=_die_with_parent)
    server = JavaServer(kind, port, home, proc, out_path)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if marker in server.output() and wait_port("127.0.0.1", port, 1):
                return server
            if proc.poll() is not None:
                raise RuntimeError(f"Apache {kind} exited with {proc.returncode} before booting\n"
                                   + server.log_tail())
            if time.monotonic() > deadline:
                raise RuntimeError(f"Apache {kind} did not boot within {timeout:.0f}s\n" + server.log_tail())
            time.sleep(0.2)
    except BaseException:
        server.kill()
        raise


def _with_port_retry(attempt, port: int | None, pick) -> JavaServer:
    """Run attempt(port); when we picked the port ourselves and another process took it between
    our check and the JVM's bind, try again with a fresh one (at most 3 times)."""
    if port:
        return attempt(port)
    for tries_left in (2, 1, 0):
        try:
            return attempt(pick())
        except RuntimeError as e:
            if tries_left == 0 or "Address already in use" not in str(e):
                raise
    raise AssertionError("unreachable")


def start_namesrv(home: Path, port: int | None = None, timeout: float = BOOT_TIMEOUT,
                  heap: str = "128m", max_heap: str = "256m") -> JavaServer:
    """Start an Apache name server on 127.0.0.1:`port`; returns once it accepts connections."""
    make_rocketmq_home(home)

    def attempt(port: int) -> JavaServer:
        conf = home / "namesrv.properties"
        conf.write_text(f"listenPort={port}\n"
                        f"kvConfigPath={home / 'namesrv' / 'kvConfig.json'}\n"
                        f"configStorePath={home / 'namesrv' / 'namesrv.properties'}\n")
        jvm = server_jvm_args(home, heap, max_heap, "128m")
        return _spawn("namesrv", "org.apache.rocketmq.namesrv.NamesrvStartup", ["-c", str(conf)],
                      home, port, jvm, "boot success", timeout)

    return _with_port_retry(attempt, port, free_port)


def broker_config(namesrv_addr: str, port: int, store: Path, **config: object) -> dict[str, str]:
    """The broker.conf we run with: single ASYNC_MASTER, small files, patient send queue."""
    conf: dict[str, object] = {
        "brokerClusterName": "DefaultCluster",
        "brokerName": "broker-a",
        "brokerId": 0,
        "brokerRole": "ASYNC_MASTER",
        "flushDiskType": "ASYNC_FLUSH",
        "namesrvAddr": namesrv_addr,
        "listenPort": port,
        "brokerIP1": "127.0.0.1",
        "storePathRootDir": store,
        "storePathCommitLog": store / "commitlog",
        "mappedFileSizeCommitLog": 16 * 1024 * 1024,
        "mappedFileSizeConsumeQueue": 30000 * 20,
        "autoCreateTopicEnable": "true",
        "autoCreateSubscriptionGroup": "true",
        "enablePropertyFilter": "true",
        "defaultTopicQueueNums": 4,
        "deleteWhen": "04",
        "fileReservedTime": 48,
        # A 2-core box: do not reject sends that waited a little in the queue ("broker busy").
        "waitTimeMillsInSendQueue": 5000,
        "osPageCacheBusyTimeOutMills": 5000,
        "diskMaxUsedSpaceRatio": 95,
        "sendMessageThreadPoolNums": 2,
        "pullMessageThreadPoolNums": 4,
    }
    conf.update(config)
    return {k: str(v) for k, v in conf.items()}


def start_broker(home: Path, namesrv_addr: str, port: int | None = None,
                 timeout: float = BOOT_TIMEOUT, heap: str = "256m", max_heap: str = "512m",
                 **config: object) -> JavaServer:
    """Start an Apache broker registered with `namesrv_addr`. `config` adds/overrides broker.conf
    keys (RocketMQ camelCase, e.g. brokerName="broker-b", brokerId=1, brokerRole="SLAVE")."""
    port = port or int(config.pop("listenPort", 0)) or None
    make_rocketmq_home(home)
    store = home / "store"

    def attempt(port: int) -> JavaServer:
        conf = broker_config(namesrv_addr, port, store, **config)
        conf_path = home / "broker.conf"
        conf_path.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        jvm = server_jvm_args(home, heap, max_heap, "256m")
        server = _spawn("broker", "org.apache.rocketmq.broker.BrokerStartup", ["-c", str(conf_path)],
                        home, port, jvm, "boot success", timeout)
        server.extra.update(conf=conf, conf_path=conf_path, store=store)
        return server

    return _with_port_retry(attempt, port, free_broker_port)


def _tempdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


@contextlib.contextmanager
def running(prefix: str, start: Callable[[Path], JavaServer]) -> Iterator[JavaServer]:
    """``start(home)`` in a fresh temporary home; the JVM is stopped and the home removed on exit
    (kept with POCKETMQ_KEEP_TMP=1)."""
    home = _tempdir(prefix)
    server = None
    try:
        server = start(home)
        yield server
    finally:
        if server is not None:
            server.stop()
        if not keep_tmp():
            shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def apache_namesrv(port: int | None = None, **kw: object) -> Iterator[JavaServer]:
    """A real Apache RocketMQ name server; `.addr` is "127.0.0.1:PORT". Killed on exit."""
    with running("pocketmq-apache-namesrv-", lambda home: start_namesrv(home, port, **kw)) as server:
        yield server


@contextlib.contextmanager
def apache_broker(namesrv_addr: str, port: int | None = None, **config: object) -> Iterator[JavaServer]:
    """A real Apache RocketMQ broker (master, DefaultCluster/broker-a unless overridden).
    `.addr` is "127.0.0.1:listenPort"; `.extra["conf"]` is its broker.conf. Killed on exit."""
    with running("pocketmq-apache-broker-",
                 lambda home: start_broker(home, namesrv_addr, port, **config)) as server:
        yield server


@dataclass
class ApacheCluster:
    namesrv: JavaServer
    brokers: list[JavaServer]

    @property
    def namesrv_addr(self) -> str:
        return self.namesrv.addr

    @property
    def broker(self) -> JavaServer:
        return self.brokers[0]


@contextlib.contextmanager
def apache_cluster(**broker_config: object) -> Iterator[ApacheCluster]:
    """One name server and one master broker, both Apache."""
    with apache_namesrv() as ns, apache_broker(ns.addr, **broker_config) as broker:
        yield ApacheCluster(ns, [broker])
