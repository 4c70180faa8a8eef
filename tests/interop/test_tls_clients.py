"""TLS with the official clients against PocketMQ in enforcing mode (plaintext refused): the
Java client with setUseTLS(true) and the Go client with WithTls(true) route through a TLS name
server and send to a TLS broker; the Java client without TLS cannot."""

from __future__ import annotations

import pytest

from clients import run_go_driver, run_java_driver, sends  # type: ignore[import-not-found]
from tests.support.processes import start_broker, start_namesrv
from tests.support.tls import make_cert, tls_args

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]


def test_java_and_go_clients_over_tls(tmp_path, interop_ready) -> None:
    cert, key = make_cert(tmp_path / "certs")
    args = tls_args("enforcing", cert, key)
    with start_namesrv(tmp_path / "ns", extra=[f"--{k}={v}" for k, v in args.items()]) as ns, \
            start_broker(tmp_path / "broker", ns.addr, extra={**args, "tls.enable": "true"}):
        events = run_java_driver(["produce", "--topic", "tls-java", "--count", "3", "--tls", "true"], namesrv=ns.addr)
        assert len(sends(events)) == 3
        events = run_go_driver(["produce", "--topic", "tls-go", "--count", "3", "--tls"], namesrv=ns.addr)
        assert len(sends(events)) == 3
        events = run_java_driver(["produce", "--topic", "tls-java", "--count", "1", "--retry", "0",
                                  "--send-timeout", "3000"], namesrv=ns.addr, check=False, timeout=90)
        assert not sends(events)
