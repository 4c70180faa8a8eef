"""A real Apache RocketMQ 5.3.3 (name server, broker, proxy, controller), run from the Maven jars.

The oracle for the RocketMQ 5 features: gRPC through the proxy, POP, timer messages, metrics and
controller mode. Same shape as ``apache.py`` (4.9.7), whose process helpers it reuses; only the
classpath (``tests/interop/apache5/lib``, filled by ``tests/interop/setup.sh``) and the 5.x main
classes and config files differ.

    with apache5_namesrv() as ns, apache5_broker(ns.addr) as broker:
        ...  # 4.x remoting on broker.addr
    with apache5_namesrv() as ns, apache5_broker(ns.addr, enable_proxy=True) as broker:
        ...  # gRPC on broker.extra["grpc_addr"] (local-mode proxy inside the broker JVM)
    with apache5_controller() as ctl:
        ...  # controller remoting on ctl.addr

Every JVM gets ``-Duser.home`` under a temporary directory (5.x logs to
``~/logs/rocketmqlogs``), removed on exit unless ``POCKETMQ_KEEP_TMP=1``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Iterator

# One module object for apache.py whoever imports us (its exceptions are caught by class).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from apache import (  # type: ignore[import-not-found]  # noqa: E402
    BOOT_TIMEOUT,
    ApacheCluster,
    INTEROP_DIR,
    InteropSetupMissing,
    JavaServer,
    _spawn,
    _with_port_retry,
    broker_config,
    free_broker_port,
    free_port,
    running,
    server_jvm_args,
)

ROCKETMQ5_VERSION = "5.3.3"
LIB5_DIR = INTEROP_DIR / "apache5" / "lib"


def classpath5() -> str:
    """Every Apache RocketMQ 5.3.3 jar and its dependencies (needs setup.sh)."""
    if not any(LIB5_DIR.glob(f"rocketmq-broker-{ROCKETMQ5_VERSION}.jar")):
        raise InteropSetupMissing(f"{LIB5_DIR} has no RocketMQ {ROCKETMQ5_VERSION} jars: "
                                  "run `bash tests/interop/setup.sh`")
    return f"{LIB5_DIR}/*"


def _home(root: Path) -> Path:
    (root / "logs").mkdir(parents=True, exist_ok=True)
    return root


def _jvm(home: Path, heap: str, max_heap: str) -> list[str]:
    return [*server_jvm_args(home, heap, max_heap, "256m"),
            # 5.x writes its own logs under ~/logs/rocketmqlogs; keep them quiet and small.
            "-Drocketmq.log.level=INFO"]


def log_file(server: JavaServer, name: str) -> Path:
    """One of 5.x's log files, e.g. log_file(broker, "broker.log")."""
    return server.home / "logs" / "rocketmqlogs" / name


def start_namesrv5(home: Path, port: int | None = None, timeout: float = BOOT_TIMEOUT,
                   **config: object) -> JavaServer:
    """An Apache 5.3.3 name server; `config` adds namesrv keys (e.g. enableControllerInNamesrv)."""
    _home(home)

    def attempt(port: int) -> JavaServer:
        conf = {"listenPort": port,
                "kvConfigPath": home / "namesrv" / "kvConfig.json",
                "configStorePath": home / "namesrv" / "namesrv.properties", **config}
        path = home / "namesrv.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        server = _spawn("namesrv", "org.apache.rocketmq.namesrv.NamesrvStartup", ["-c", str(path)],
                        home, port, _jvm(home, "128m", "256m"), "boot success", timeout,
                        classpath=classpath5())
        server.extra.update(conf=conf)
        return server

    return _with_port_retry(attempt, port, free_port)


def start_broker5(home: Path, namesrv_addr: str, port: int | None = None,
                  timeout: float = BOOT_TIMEOUT, enable_proxy: bool = False,
                  grpc_port: int | None = None, **config: object) -> JavaServer:
    """An Apache 5.3.3 broker (with `enable_proxy`, its local-mode gRPC proxy on
    `extra["grpc_addr"]`). `config` adds/overrides broker.conf keys, as in apache.py."""
    _home(home)
    store = home / "store"
    port = port or int(config.pop("listenPort", 0)) or None

    def attempt(port: int) -> JavaServer:
        conf = broker_config(namesrv_addr, port, store, **config)
        conf_path = home / "broker.conf"
        conf_path.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        args = ["-c", str(conf_path)]
        extra: dict[str, object] = {}
        if enable_proxy:
            grpc = grpc_port or free_port()
            proxy_conf = {"rocketMQClusterName": conf["brokerClusterName"], "namesrvAddr": namesrv_addr,
                          "grpcServerPort": grpc, "remotingListenPort": free_port()}
            proxy_path = home / "rmq-proxy.json"
            proxy_path.write_text(json.dumps(proxy_conf))
            # What `mqbroker --enable-proxy` runs: the proxy in local mode with the broker inside.
            main = "org.apache.rocketmq.proxy.ProxyStartup"
            args = ["-bc", str(conf_path), "-pc", str(proxy_path), "-pm", "local"]
            extra["grpc_addr"] = f"127.0.0.1:{grpc}"
            marker = "rocketmq-proxy startup successfully"
        else:
            main, marker = "org.apache.rocketmq.broker.BrokerStartup", "boot success"
        server = _spawn("broker", main, args, home, port,
                        _jvm(home, "256m", "512m"), marker, timeout, classpath=classpath5())
        server.extra.update(conf=conf, conf_path=conf_path, store=store, **extra)
        try:
            wait_registered(namesrv_addr, conf["brokerClusterName"], conf["brokerName"], timeout)
        except BaseException:
            server.kill()
            raise
        return server

    return _with_port_retry(attempt, port, free_broker_port)


def wait_registered(namesrv_addr: str, cluster: str, broker_name: str, timeout: float) -> None:
    """Until the name server lists the broker. 5.x says "boot success" (and its local proxy
    "startup successfully") before its first registration has landed."""
    from pocketmq.client.admin import Admin  # our own admin client: only the name server is asked

    deadline = time.monotonic() + timeout
    with Admin(namesrv_addr) as admin:
        while True:
            try:
                if broker_name in admin.cluster_info().clusterAddrTable.get(cluster, ()):
                    return
            except Exception:  # noqa: BLE001 - not answering yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Apache broker {broker_name} did not register with {namesrv_addr} "
                                   f"within {timeout:.0f}s")
            time.sleep(0.2)


def start_controller5(home: Path, port: int | None = None, timeout: float = BOOT_TIMEOUT,
                      **config: object) -> JavaServer:
    """A standalone Apache 5.3.3 controller (one DLedger peer, or as `config` says)."""
    _home(home)

    def attempt(port: int) -> JavaServer:
        # In DLedger mode the controller answers remoting requests on its DLedger peer port
        # (upstream's quick start: controllerAddr = the peer address).
        conf = {"controllerDLegerGroup": "group1",
                "controllerDLegerPeers": f"n0-127.0.0.1:{port}",
                "controllerDLegerSelfId": "n0",
                "controllerStorePath": home / "controller-store",
                **config}
        path = home / "controller.conf"
        path.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        server = _spawn("controller", "org.apache.rocketmq.controller.ControllerStartup",
                        ["-c", str(path)], home, port, _jvm(home, "128m", "256m"), "boot success",
                        timeout, classpath=classpath5())
        server.extra.update(conf=conf)
        return server

    return _with_port_retry(attempt, port, free_port)


@contextlib.contextmanager
def apache5_namesrv(port: int | None = None, **config: object) -> Iterator[JavaServer]:
    """A real Apache RocketMQ 5.3.3 name server; `.addr` is "127.0.0.1:PORT"."""
    with running("pocketmq-apache5-namesrv-", lambda h: start_namesrv5(h, port, **config)) as s:
        yield s


@contextlib.contextmanager
def apache5_broker(namesrv_addr: str, port: int | None = None, **config: object) -> Iterator[JavaServer]:
    """A real Apache RocketMQ 5.3.3 broker (DefaultCluster/broker-a master unless overridden)."""
    with running("pocketmq-apache5-broker-",
                  lambda h: start_broker5(h, namesrv_addr, port, **config)) as s:
        yield s


@contextlib.contextmanager
def apache5_controller(port: int | None = None, **config: object) -> Iterator[JavaServer]:
    """A real Apache RocketMQ 5.3.3 controller; `.addr` is its remoting address."""
    with running("pocketmq-apache5-controller-", lambda h: start_controller5(h, port, **config)) as s:
        yield s


@contextlib.contextmanager
def apache5_cluster(**broker_config: object) -> Iterator[ApacheCluster]:
    """One Apache 5.3.3 name server and one master broker (the same shape as apache_cluster)."""
    with apache5_namesrv() as ns, apache5_broker(ns.addr, **broker_config) as broker:
        yield ApacheCluster(ns, [broker])


def available() -> bool:
    return any(LIB5_DIR.glob(f"rocketmq-broker-{ROCKETMQ5_VERSION}.jar"))


__all__ = ["ROCKETMQ5_VERSION", "apache5_broker", "apache5_controller", "apache5_namesrv",
           "apache5_cluster", "available", "classpath5", "log_file", "start_broker5", "start_controller5",
           "start_namesrv5"]
