"""docs/console.md, executed: its bash block starts ``mqconsole`` as written (with the test's own
name server and a free port in place of 127.0.0.1:9876 and 8082), and the page it prints serves
the cluster."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

from tests.support.processes import ROOT, free_port, start_broker, start_namesrv

DOC = (ROOT / "docs" / "console.md").read_text()
[BLOCK] = re.findall(r"```bash\n(.*?)```", DOC, re.S)


def test_console_doc_block_runs(tmp_path) -> None:
    ns = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", ns.addr)
    port = free_port()
    work = tmp_path / "dist"
    shutil.copytree(ROOT / "bin", work / "bin")
    env = dict(os.environ, HOME=str(tmp_path), POCKETMQ_VENV=str(sys.prefix))
    code = BLOCK.replace("127.0.0.1:9876", ns.addr).replace("8082", str(port))
    try:
        done = subprocess.run(["bash", "-e", "-c", code], cwd=work, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"The console boot success. http://127.0.0.1:{port}/" in done.stdout
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode()
        assert broker.addr in page
    finally:
        subprocess.run(["pkill", "-f", f"consolePort={port}"], capture_output=True)
        broker.kill()
        ns.kill()


def test_read_only_console_shows_pages_and_refuses_changes(tmp_path) -> None:
    from tests.support.processes import BIN, ServerProcess

    ns = start_namesrv(tmp_path / "ns")
    broker = start_broker(tmp_path / "broker", ns.addr)
    port = free_port()
    console = ServerProcess(["bash", str(BIN / "mqconsole"), "-n", ns.addr, f"--consolePort={port}",
                             "--consoleReadOnly=true"], tmp_path / "console", "The console boot success")
    try:
        console.wait_ready()
        base = f"http://127.0.0.1:{port}"
        assert broker.addr in urllib.request.urlopen(base + "/", timeout=30).read().decode()
        request = urllib.request.Request(base + "/topics", data=b"topic=Nope&cluster=DefaultCluster&queues=4&perm=6")
        try:
            urllib.request.urlopen(request, timeout=30)
            raise AssertionError("a read-only console took a change")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403 and "read-only" in exc.read().decode()
        topics = urllib.request.urlopen(base + "/topics?system=1", timeout=30).read().decode()
        assert "Nope" not in topics
    finally:
        console.kill()
        broker.kill()
        ns.kill()


ACL_YML = """\
accounts:
  - accessKey: console-admin
    secretKey: console-secret
    admin: true
"""


def test_console_with_an_account_on_an_acl_cluster(tmp_path) -> None:
    """With ACL on, the console signs with its account; without one the broker refuses it and the
    page says so."""
    from tests.support.acl import write_acl
    from tests.support.processes import BIN, ServerProcess

    home = tmp_path / "broker"
    write_acl(home, ACL_YML)
    ns = start_namesrv(tmp_path / "ns")
    broker = start_broker(home, ns.addr, extra={"aclEnable": "true", "rocketmqHome": home})
    consoles = []
    try:
        for name, keys in (("signed", ["--consoleAccessKey=console-admin", "--consoleSecretKey=console-secret"]),
                           ("anonymous", [])):
            port = free_port()
            console = ServerProcess(["bash", str(BIN / "mqconsole"), "-n", ns.addr, f"--consolePort={port}", *keys],
                                    tmp_path / name, "The console boot success")
            consoles.append(console)
            console.wait_ready()
            page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode()
            if name == "signed":
                assert broker.addr in page and "unreachable" not in page
                form = b"topic=AclConsoleT&cluster=DefaultCluster&queues=4&perm=6"
                urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/topics", data=form), timeout=30)
                topic = urllib.request.urlopen(f"http://127.0.0.1:{port}/topic/AclConsoleT", timeout=30).read()
                assert b"AclConsoleT" in topic and b'id="queues"' in topic
            else:
                assert "unreachable" in page and "AclException" in page   # the refusal, shown on the page
    finally:
        for console in consoles:
            console.kill()
        broker.kill()
        ns.kill()
