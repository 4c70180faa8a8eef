"""Run the official RocketMQ clients (Java, Go, C++) as subprocesses and parse what they print.

Owns: the command lines for our Java driver (``pocketmq.interop.Driver``), the official
``mqadmin`` (``MQAdminStartup``), our Go driver (``go/bin/gointerop``) and a C++ client driver
(this file run as a script, wrapping the ``rocketmq`` PyPI package, i.e. librocketmq), so a
crash of a client never takes pytest down. Every driver prints JSON lines, one object per line,
each with an ``"event"`` key: ``send``/``send-error`` (producers), ``started``/``msg`` (consumers),
then a closing ``done``/``timeout`` (or ``error``).

    events = run_java_driver(["produce", "--topic", "T", "--count", "10"], namesrv=addr)
    msgs = messages(run_go_driver(["push-consume", "--topic", "T", "--count", "10"], namesrv=addr))
    cp = java_mqadmin(["clusterList"], namesrv=addr)

Argument style works for both Java and Go drivers: ``--key value`` for values and bare
``--flag`` for booleans (``--vip=true`` for the Java driver's --vip, ``--vip`` for Go's).
Client logs and any client state that defaults to $HOME go under one temporary directory per
pytest process (removed at exit unless ``POCKETMQ_KEEP_TMP=1``).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

try:  # imported as tests.interop.clients or as a plain module from this folder
    from .apache import JDK17_OPENS, InteropSetupMissing, _die_with_parent, java_bin, java_classpath, keep_tmp, make_rocketmq_home
except ImportError:  # pragma: no cover - run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from apache import JDK17_OPENS, InteropSetupMissing, _die_with_parent, java_bin, java_classpath, keep_tmp, make_rocketmq_home

INTEROP_DIR = Path(__file__).resolve().parent
GO_DRIVER = INTEROP_DIR / "go" / "bin" / "gointerop"
JAVA_DRIVER_MAIN = "pocketmq.interop.Driver"
MQADMIN_MAIN = "org.apache.rocketmq.tools.command.MQAdminStartup"

DEFAULT_TIMEOUT = 120.0


class DriverError(RuntimeError):
    """A driver exited non-zero (or could not be parsed); carries its output."""

    def __init__(self, msg: str, returncode: int | None, stdout: str, stderr: str):
        super().__init__(f"{msg}\n--- stdout ---\n{stdout[-4000:]}\n--- stderr ---\n{stderr[-4000:]}")
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


# ---- shared temp home ------------------------------------------------------------------------

_HOME: Path | None = None
_HOME_LOCK = threading.Lock()


def client_home() -> Path:
    """A temp dir standing in for $HOME / ROCKETMQ_HOME of every client we start."""
    global _HOME
    with _HOME_LOCK:
        if _HOME is None:
            _HOME = Path(tempfile.mkdtemp(prefix="pocketmq-clients-"))
            make_rocketmq_home(_HOME, level="WARN")
            if not keep_tmp():
                atexit.register(shutil.rmtree, _HOME, True)
        return _HOME


def client_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    home = client_home()
    env = dict(os.environ)
    env.pop("JAVA_TOOL_OPTIONS", None)
    env.update(HOME=str(home), ROCKETMQ_HOME=str(home),
               POCKETMQ_GO_LOG=str(home / "logs" / "go-client.log"),
               ROCKETMQ_GO_LOG_LEVEL=env.get("ROCKETMQ_GO_LOG_LEVEL", "warn"))
    if extra:
        env.update(extra)
    return env


# ---- parsing ---------------------------------------------------------------------------------

def parse_events(stdout: str) -> list[dict]:
    """JSON-object lines of a driver's stdout; other lines (stray client prints) are skipped."""
    events = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                events.append(obj)
    return events


def messages(events: Iterable[dict], status: str | None = "SUCCESS") -> list[dict]:
    """The ``msg`` events (by default only deliveries the listener acknowledged)."""
    return [e for e in events if e.get("event") == "msg" and (status is None or e.get("status") == status)]


def sends(events: Iterable[dict]) -> list[dict]:
    """The successful ``send`` events."""
    return [e for e in events if e.get("event") == "send"]


def last_event(events: Sequence[dict]) -> dict:
    return events[-1] if events else {}


def _run(cmd: list[str], timeout: float, check: bool, env: dict[str, str], what: str) -> list[dict]:
    try:
        cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=timeout, env=env, cwd=client_home(), preexec_fn=_die_with_parent)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise DriverError(f"{what} timed out after {timeout}s: {cmd}", None, out, err) from None
    events = parse_events(cp.stdout)
    if check and cp.returncode != 0:
        raise DriverError(f"{what} exited {cp.returncode}: {cmd}", cp.returncode, cp.stdout, cp.stderr)
    if check and (not events or events[-1].get("event") not in ("done", "timeout")):
        raise DriverError(f"{what} printed no closing event: {cmd}", cp.returncode, cp.stdout, cp.stderr)
    return events


def _with_namesrv(args: Sequence[str], namesrv: str | None) -> list[str]:
    args = [str(a) for a in args]
    if namesrv is None:
        return args
    # Subcommand (and admin action) first, then flags: Go's flag package stops at positionals.
    head = 2 if args[:1] == ["admin"] else 1
    return [*args[:head], "--namesrv", namesrv, *args[head:]]


# ---- Java ------------------------------------------------------------------------------------

def client_jvm_args(xmx: str = "128m") -> list[str]:
    home = client_home()
    return [
        f"-Xmx{xmx}", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-XX:-OmitStackTraceInFastThrow", "-XX:-UsePerfData", "-Djava.net.preferIPv4Stack=true",
        f"-Duser.home={home}", f"-Djava.io.tmpdir={home}", f"-Drocketmq.home.dir={home}",
        "-Drocketmq.client.logUseSlf4j=false",
        f"-Drocketmq.client.logRoot={home / 'logs'}",
        "-Drocketmq.client.logLevel=WARN",
        f"-Drocketmq.client.localOffsetStoreDir={home / '.rocketmq_offsets'}",
        *JDK17_OPENS,
    ]


def java_cmd(main_class: str, args: Sequence[str], xmx: str = "128m",
             jvm_args: Sequence[str] = ()) -> list[str]:
    return [java_bin(), *client_jvm_args(xmx), *jvm_args, "-cp", java_classpath(), main_class,
            *[str(a) for a in args]]


def run_java_driver(args: Sequence[str], *, namesrv: str | None = None,
                    timeout: float = DEFAULT_TIMEOUT, check: bool = True,
                    jvm_args: Sequence[str] = ()) -> list[dict]:
    """Run ``Driver <subcommand> ...`` to completion; returns its JSON events.
    With check=True a non-zero exit or a missing closing event raises DriverError."""
    return _run(java_cmd(JAVA_DRIVER_MAIN, _with_namesrv(args, namesrv), jvm_args=jvm_args),
                timeout, check, client_env(), "java driver")


def java_mqadmin(args: Sequence[str], *, namesrv: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, check: bool = False,
                 rocketmq_home: Path | None = None) -> subprocess.CompletedProcess:
    """Run the official ``mqadmin`` (4.9 MQAdminStartup), e.g. ``java_mqadmin(["clusterList"],
    namesrv=addr)``; ``-n namesrv`` is appended when namesrv is given. Text in .stdout.
    ``rocketmq_home``: the ROCKETMQ_HOME it runs with (it signs with its conf/tools.yml)."""
    args = [str(a) for a in args]
    if namesrv is not None:
        args += ["-n", namesrv]
    jvm_args = [f"-Drocketmq.home.dir={rocketmq_home}"] if rocketmq_home is not None else []
    env = client_env({"ROCKETMQ_HOME": str(rocketmq_home)} if rocketmq_home is not None else None)
    cp = subprocess.run(java_cmd(MQADMIN_MAIN, args, jvm_args=jvm_args), stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=timeout, env=env, cwd=client_home(),
                        preexec_fn=_die_with_parent)
    if check and cp.returncode != 0:
        raise DriverError(f"mqadmin exited {cp.returncode}: {args}", cp.returncode, cp.stdout, cp.stderr)
    return cp


# ---- Python 5.x (gRPC) -----------------------------------------------------------------------

PY5_PYTHON = INTEROP_DIR / "py5" / ".venv" / "bin" / "python"
PY5_DRIVER = INTEROP_DIR / "py5" / "driver.py"


def py5_python() -> Path:
    if not PY5_PYTHON.exists():
        raise InteropSetupMissing(f"{PY5_PYTHON} missing: run `bash tests/interop/setup.sh`")
    return PY5_PYTHON


def run_py5_driver(args: Sequence[str], *, endpoints: str, timeout: float = DEFAULT_TIMEOUT,
                   check: bool = True, trust: Path | None = None) -> list[dict]:
    """Run ``py5/driver.py produce ...`` with the official RocketMQ 5 Python client (gRPC) against
    ``endpoints`` (a proxy's host:port); returns its events. ``trust``: a certificate the client
    takes as its root (gRPC's GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), for --tls."""
    args = [str(a) for a in args]
    cmd = [str(py5_python()), str(PY5_DRIVER), *args[:1], "--endpoints", endpoints, *args[1:]]
    env = client_env()
    if trust is not None:
        env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = str(trust)
    return _run(cmd, timeout, check, env, "python 5 driver")


def start_py5_driver(args: Sequence[str], *, endpoints: str) -> "DriverProcess":
    """``run_py5_driver`` in the background (e.g. a producer under load while a test kills a server)."""
    args = [str(a) for a in args]
    return DriverProcess([str(py5_python()), str(PY5_DRIVER), *args[:1], "--endpoints", endpoints, *args[1:]],
                         client_env(), "python 5 driver")


# ---- Java 5.x (gRPC) -------------------------------------------------------------------------

JAVA5_DIR = INTEROP_DIR / "java5"
JAVA5_DRIVER_MAIN = "pocketmq.interop5.Driver5"


def java5_classpath() -> str:
    classes = JAVA5_DIR / "target" / "classes"
    jars = sorted((JAVA5_DIR / "lib").glob("*.jar")) if (JAVA5_DIR / "lib").exists() else []
    if not (classes / "pocketmq" / "interop5" / "Driver5.class").exists() or not jars:
        raise InteropSetupMissing(f"{JAVA5_DIR} is not built: run `bash tests/interop/setup.sh`")
    return os.pathsep.join([str(classes), *map(str, jars)])


def run_java5_driver(args: Sequence[str], *, endpoints: str, timeout: float = DEFAULT_TIMEOUT,
                     check: bool = True) -> list[dict]:
    """Run ``Driver5 produce ...`` with the official RocketMQ 5 Java client (gRPC; --tls true for TLS)
    against ``endpoints`` (a proxy's host:port); returns its events."""
    args = [str(a) for a in args]
    home = client_home()
    cmd = [java_bin(), "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", f"-Duser.home={home}",
           f"-Djava.io.tmpdir={home}", "-cp", java5_classpath(), JAVA5_DRIVER_MAIN, *args[:1],
           "--endpoints", endpoints, *args[1:]]
    return _run(cmd, timeout, check, client_env(), "java 5 driver")


JAVA5R_DIR = INTEROP_DIR / "java5r"
JAVA5R_DRIVER_MAIN = "pocketmq.interop5r.Driver5r"


def java5r_classpath() -> str:
    classes = JAVA5R_DIR / "target" / "classes"
    jars = sorted((JAVA5R_DIR / "lib").glob("*.jar")) if (JAVA5R_DIR / "lib").exists() else []
    if not (classes / "pocketmq" / "interop5r" / "Driver5r.class").exists() or not jars:
        raise InteropSetupMissing(f"{JAVA5R_DIR} is not built: run `bash tests/interop/setup.sh`")
    return os.pathsep.join([str(classes), *map(str, jars)])


def run_java5r_driver(args: Sequence[str], *, namesrv: str, timeout: float = DEFAULT_TIMEOUT,
                      check: bool = True) -> list[dict]:
    """Run ``Driver5r produce|pop-consume ...`` with the official RocketMQ 5 Java remoting client
    (rocketmq-client 5.3.3) against the name server ``namesrv``; returns its events."""
    args = [str(a) for a in args]
    home = client_home()
    cmd = [java_bin(), "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", f"-Duser.home={home}",
           f"-Djava.io.tmpdir={home}", "-cp", java5r_classpath(), JAVA5R_DRIVER_MAIN, *args[:1],
           "--namesrv", namesrv, *args[1:]]
    return _run(cmd, timeout, check, client_env(), "java 5 remoting driver")


# ---- Go --------------------------------------------------------------------------------------

def go_driver_path() -> Path:
    if not GO_DRIVER.exists():
        raise InteropSetupMissing(f"{GO_DRIVER} missing: run `bash tests/interop/setup.sh`")
    return GO_DRIVER


def run_go_driver(args: Sequence[str], *, namesrv: str | None = None,
                  timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> list[dict]:
    """Run ``gointerop produce|push-consume ...`` (rocketmq-client-go/v2); returns its events."""
    return _run([str(go_driver_path()), *_with_namesrv(args, namesrv)], timeout, check,
                client_env(), "go driver")


# ---- background drivers ----------------------------------------------------------------------

class DriverProcess:
    """A driver running in the background (e.g. a consumer started before the producer).

        with start_java_driver(["push-consume", "--topic", t, "--count", "5"], namesrv=a) as c:
            c.wait_for("started", 60)
            run_java_driver(["produce", "--topic", t, "--count", "5"], namesrv=a)
            events = c.wait(90)
    """

    def __init__(self, cmd: list[str], env: dict[str, str], what: str):
        self.cmd = cmd
        self.what = what
        self.events: list[dict] = []
        self._stdout: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, cwd=client_home(),
                                     preexec_fn=_die_with_parent)
        self._stderr: list[str] = []
        self._threads = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self._stdout.append(line)
                self.events.extend(parse_events(line))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stdout(self) -> str:
        return "".join(self._stdout)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_for(self, pred: str | Callable[[list[dict]], bool], timeout: float) -> list[dict]:
        """Block until an event named `pred` was printed (or pred(events) is true).
        Raises DriverError if the process ends first or on timeout."""
        test = (lambda evs: any(e.get("event") == pred for e in evs)) if isinstance(pred, str) else pred
        deadline = time.monotonic() + timeout
        with self._cond:
            while not test(self.events):
                if self.proc.poll() is not None and not self._threads[0].is_alive():
                    raise DriverError(f"{self.what} ended before {pred!r}", self.proc.returncode,
                                      self.stdout, self.stderr)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DriverError(f"{self.what}: no {pred!r} within {timeout}s", None,
                                      self.stdout, self.stderr)
                self._cond.wait(min(left, 0.5))
            return list(self.events)

    def wait(self, timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> list[dict]:
        """Wait for exit; returns all events. Kills it (and raises) after `timeout`."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise DriverError(f"{self.what} still running after {timeout}s", None,
                              self.stdout, self.stderr) from None
        for t in self._threads:
            t.join(5)
        if check and self.proc.returncode != 0:
            raise DriverError(f"{self.what} exited {self.proc.returncode}", self.proc.returncode,
                              self.stdout, self.stderr)
        return list(self.events)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def __enter__(self) -> "DriverProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def start_java_driver(args: Sequence[str], *, namesrv: str | None = None,
                      jvm_args: Sequence[str] = ()) -> DriverProcess:
    return DriverProcess(java_cmd(JAVA_DRIVER_MAIN, _with_namesrv(args, namesrv), jvm_args=jvm_args),
                         client_env(), "java driver")


def start_go_driver(args: Sequence[str], *, namesrv: str | None = None) -> DriverProcess:
    return DriverProcess([str(go_driver_path()), *_with_namesrv(args, namesrv)], client_env(), "go driver")


# ---- C++ (librocketmq through the `rocketmq` PyPI package) -----------------------------------

def _cpp_cmd(args: Sequence[str]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *[str(a) for a in args]]


def run_cpp_driver(args: Sequence[str], *, namesrv: str | None = None,
                   timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> list[dict]:
    """Run the C++ client driver (this file as a script) in a subprocess:
    ``cpp-produce``, ``cpp-push-consume`` or ``cpp-pull-consume`` with the same flags as the
    Java driver (see _cpp_main). Returns its JSON events."""
    return _run(_cpp_cmd(_with_namesrv(args, namesrv)), timeout, check, client_env(), "c++ driver")


def start_cpp_driver(args: Sequence[str], *, namesrv: str | None = None) -> DriverProcess:
    return DriverProcess(_cpp_cmd(_with_namesrv(args, namesrv)), client_env(), "c++ driver")


def cpp_produce(namesrv: str, topic: str, count: int = 10, *, mode: str = "sync",
                tags: str | None = None, keys: str = "key-{i}", body: str = "body-{i}",
                props: dict[str, str] | None = None, group: str | None = None,
                timeout: float = DEFAULT_TIMEOUT, check: bool = True,
                credentials: tuple[str, str] | None = None) -> list[dict]:
    """Send `count` messages with the C++ client (mode sync|async|oneway|orderly|batch).
    Known client quirk (seen against Apache 4.9.7): "batch" stores ONE message whose body is the
    encoded batch, with an empty msgId in the result, so use it only to reproduce that."""
    args = ["cpp-produce", "--topic", topic, "--count", count, "--mode", mode, "--keys", keys,
            "--body", body]
    if tags:
        args += ["--tags", tags]
    if group:
        args += ["--group", group]
    for k, v in (props or {}).items():
        args += ["--prop", f"{k}={v}"]
    if credentials:
        args += ["--access-key", credentials[0], "--secret-key", credentials[1]]
    return run_cpp_driver(args, namesrv=namesrv, timeout=timeout, check=check)


def cpp_push_consume(namesrv: str, topic: str, count: int, *, group: str, expr: str = "*",
                     model: str = "clustering", orderly: bool = False, timeout: float = 60,
                     want_props: Sequence[str] = (), check: bool = True) -> list[dict]:
    """Push-consume with the C++ client until `count` messages arrived or `timeout` seconds.
    The C API has no "all properties" call: name the user properties to report in want_props.
    The C++ consumer always starts CONSUME_FROM_LAST_OFFSET (the wrapper cannot change it): in
    clustering mode a new group still gets old messages because Apache's broker answers a new
    group's offset query with 0 while the queue's first message is in memory; in broadcasting mode
    (local offsets) it sees only messages sent after it started: use start_cpp_driver, wait for
    "started" plus a few seconds for rebalance, then produce."""
    args = ["cpp-push-consume", "--topic", topic, "--count", count, "--group", group, "--expr", expr,
            "--model", model, "--timeout", timeout]
    if orderly:
        args.append("--orderly")
    for p in want_props:
        args += ["--want-prop", p]
    return run_cpp_driver(args, namesrv=namesrv, timeout=timeout + 60, check=check)


def cpp_pull_consume(namesrv: str, topic: str, count: int, *, group: str, expr: str = "*",
                     timeout: float = 60, want_props: Sequence[str] = (), check: bool = True,
                     credentials: tuple[str, str] | None = None) -> list[dict]:
    """Pull every queue of `topic` from offset 0 with the C++ DefaultMQPullConsumer."""
    args = ["cpp-pull-consume", "--topic", topic, "--count", count, "--group", group, "--expr", expr,
            "--timeout", timeout]
    if credentials:
        args += ["--access-key", credentials[0], "--secret-key", credentials[1]]
    for p in want_props:
        args += ["--want-prop", p]
    return run_cpp_driver(args, namesrv=namesrv, timeout=timeout + 60, check=check)


def _cpp_main(argv: list[str]) -> int:  # pragma: no cover - runs in the child process
    """The C++ client driver; runs in its own process so a librocketmq crash stays there."""
    import argparse

    ap = argparse.ArgumentParser(prog="clients.py")
    ap.add_argument("cmd", choices=["cpp-produce", "cpp-push-consume", "cpp-pull-consume"])
    ap.add_argument("--namesrv", default="127.0.0.1:9876")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--mode", default="sync")
    ap.add_argument("--tags")
    ap.add_argument("--keys", default="key-{i}")
    ap.add_argument("--body", default="body-{i}")
    ap.add_argument("--prop", action="append", default=[])
    ap.add_argument("--group")
    ap.add_argument("--expr", default="*")
    ap.add_argument("--model", default="clustering")
    ap.add_argument("--orderly", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--want-prop", action="append", default=[])
    ap.add_argument("--access-key")
    ap.add_argument("--secret-key")
    a = ap.parse_args(argv)

    def sign_with_credentials(client) -> None:  # noqa: ANN001
        if a.access_key:
            client.set_session_credentials(a.access_key, a.secret_key, "LOCAL")

    lock = threading.Lock()

    def text(v: object) -> object:
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else v

    def emit(obj: dict) -> None:
        line = json.dumps(obj, default=lambda o: text(o) if isinstance(o, bytes) else repr(o))
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    from rocketmq import client as rmq
    from rocketmq.ffi import MessageModel

    def msg_event(m: "rmq.RecvMessage") -> dict:
        props = {p: text(m.get_property(p)) for p in a.want_prop}
        body = m.body or b""  # c_char_p: a body with a NUL byte is cut there by the wrapper
        return {"event": "msg", "topic": text(m.topic), "tags": text(m.tags), "keys": text(m.keys),
                "body": text(body), "bodySize": len(body), "properties": props, "queueId": m.queue_id,
                "queueOffset": m.queue_offset, "msgId": m.id, "commitLogOffset": m.commit_log_offset,
                "reconsumeTimes": m.reconsume_times, "bornTimestamp": m.born_timestamp,
                "storeTimestamp": m.store_timestamp, "status": "SUCCESS"}

    if a.cmd == "cpp-produce":
        producer = rmq.Producer(a.group or f"PID_cpp_interop_{os.getpid()}")
        producer.set_namesrv_addr(a.namesrv)
        producer.set_timeout(5000)
        sign_with_credentials(producer)
        producer.start()
        failed = 0

        def build(i: int) -> "rmq.Message":
            m = rmq.Message(a.topic)
            m.set_body(a.body.replace("{i}", str(i)))
            if a.keys:
                m.set_keys(a.keys.replace("{i}", str(i)) if "{i}" in a.keys else f"{a.keys}{i}")
            if a.tags:
                m.set_tags(a.tags.replace("{i}", str(i)))
            for kv in a.prop:
                k, _, v = kv.partition("=")
                m.set_property(k, v.replace("{i}", str(i)))
            return m

        def ok_event(i: int, r: "rmq.SendResult") -> dict:
            return {"event": "send", "i": i, "status": "SEND_OK" if r.status == rmq.SendStatus.OK else r.status.name,
                    "msgId": r.msg_id, "queueOffset": r.offset}

        try:
            if a.mode == "async":
                done = threading.Semaphore(0)
                fails = []
                for i in range(a.count):
                    def on_ok(r, i=i):
                        emit(ok_event(i, r))
                        done.release()

                    def on_err(exc, i=i):
                        fails.append(i)
                        emit({"event": "send-error", "i": i, "error": str(exc)})
                        done.release()
                    producer.send_async(build(i), on_ok, on_err)
                for _ in range(a.count):
                    if not done.acquire(timeout=a.timeout):
                        emit({"event": "timeout"})
                        failed += 1
                        break
                failed += len(fails)
            elif a.mode == "batch":
                msgs = [build(i) for i in range(a.count)]
                try:
                    r = producer.send_batch(msgs)
                    for i in range(a.count):
                        e = ok_event(i, r)
                        e["batch"] = True
                        emit(e)
                except Exception as exc:  # noqa: BLE001
                    failed = a.count
                    emit({"event": "send-error", "i": -1, "error": f"{type(exc).__name__}: {exc}"})
            else:
                for i in range(a.count):
                    try:
                        if a.mode == "oneway":
                            producer.send_oneway(build(i))
                            emit({"event": "send", "i": i, "status": "ONEWAY"})
                        elif a.mode == "orderly":
                            emit(ok_event(i, producer.send_orderly(build(i), i)))
                        else:
                            emit(ok_event(i, producer.send_sync(build(i))))
                    except Exception as exc:  # noqa: BLE001
                        failed += 1
                        emit({"event": "send-error", "i": i, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            producer.shutdown()
        emit({"event": "done", "sent": a.count - failed, "failed": failed})
        os._exit(0 if failed == 0 else 2)

    if a.cmd == "cpp-push-consume":
        model = MessageModel.BROADCASTING if a.model.lower() == "broadcasting" else MessageModel.CLUSTERING
        consumer = rmq.PushConsumer(a.group or f"CID_cpp_interop_{os.getpid()}", orderly=a.orderly,
                                    message_model=model)
        consumer.set_namesrv_addr(a.namesrv)
        consumer.set_thread_count(2)
        sign_with_credentials(consumer)
        received = [0]
        finished = threading.Event()

        def on_message(m: "rmq.RecvMessage") -> None:
            try:
                emit(msg_event(m))
            except Exception as exc:  # noqa: BLE001 - report, then let the client redeliver
                emit({"event": "error", "error": f"{type(exc).__name__}: {exc}"})
                raise
            with lock:
                received[0] += 1
                if received[0] >= a.count:
                    finished.set()

        consumer.subscribe(a.topic, on_message, a.expr)
        consumer.start()
        emit({"event": "started", "group": a.group})
        ok = finished.wait(a.timeout)
        time.sleep(0.2)
        consumer.shutdown()
        emit({"event": "done" if ok else "timeout", "received": received[0], "expected": a.count})
        os._exit(0)

    # cpp-pull-consume
    consumer = rmq.PullConsumer(a.group or f"CID_cpp_pull_{os.getpid()}")
    consumer.set_namesrv_addr(a.namesrv)
    sign_with_credentials(consumer)
    consumer.start()
    emit({"event": "started", "group": a.group})
    received = 0
    deadline = time.monotonic() + a.timeout
    while received < a.count and time.monotonic() < deadline:
        got = 0
        for m in consumer.pull(a.topic, a.expr):
            emit(msg_event(m))
            got += 1
        received += got
        if got == 0:
            time.sleep(0.5)
    consumer.shutdown()
    emit({"event": "done" if received >= a.count else "timeout", "received": received, "expected": a.count})
    # librocketmq's destructors have crashed at interpreter exit; leave without running them.
    os._exit(0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_cpp_main(sys.argv[1:]))
