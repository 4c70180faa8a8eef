"""What ACL and TLS cost a broker per request, measured in process (no network, no other load):
the plain ACL check of one signed 128 B SEND_MESSAGE_V2 (as the Java client signs it), and the
server side of TLS for one such request and its response (decrypt ~330 B, encrypt ~230 B).

    .venv/bin/python bench/security.py [--count 50000]

Compare the microseconds with the broker's CPU per message in bench/run.py's results
(broker CPU s/M msgs = microseconds per message).
"""

from __future__ import annotations

import argparse
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pocketmq.remoting.codec import encode_frame  # noqa: E402
from pocketmq.remoting.command import make_request, make_response  # noqa: E402
from pocketmq.remoting.tls import TlsSession  # noqa: E402
from pocketmq.security.credentials import SessionCredentials  # noqa: E402
from pocketmq.security.plain_acl import PlainAcl  # noqa: E402
from pocketmq.security.signing import sign_request  # noqa: E402

ACL_YML = """accounts:
  - accessKey: bench-account
    secretKey: bench-account-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - bench_topic=PUB|SUB
"""


def send_request():  # noqa: ANN201
    fields = {"a": "bench_pg_bench_topic", "b": "bench_topic", "c": "TBW102", "d": "4", "e": "1", "f": "0",
              "g": "1764450000000", "h": "0", "i": "UNIQ_KEY\x017F0000010000A2A1B3C4D5E6F70000\x02WAIT\x01true\x02",
              "j": "0", "k": "false", "m": "false", "n": "false"}
    request = make_request(310, fields, b"x" * 128)
    sign_request(request, SessionCredentials("bench-account", "bench-account-secret"))
    return request


def per_call_us(action, count: int) -> float:  # noqa: ANN001
    for _ in range(min(count, 1000)):
        action()
    start = time.perf_counter()
    for _ in range(count):
        action()
    return (time.perf_counter() - start) / count * 1e6


def acl_cost(count: int) -> float:
    folder = Path(tempfile.mkdtemp())
    (folder / "plain_acl.yml").write_text(ACL_YML)
    acl = PlainAcl(str(folder / "plain_acl.yml"))
    request = send_request()
    return per_call_us(lambda: acl.check(request, "127.0.0.1:50000"), count)


def tls_cost(count: int) -> float:
    folder = Path(tempfile.mkdtemp())
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(cert), str(key))
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    server, client = TlsSession(server_ctx, server_side=True), TlsSession(client_ctx, server_side=False)
    client.receive(b"")  # ClientHello
    for _ in range(4):  # handshake round trips
        server.receive(client.outgoing())
        client.receive(server.outgoing())
    assert server.handshake_done and client.handshake_done
    request = send_request()
    frame = b"".join(bytes(part) for part in encode_frame(request))
    reply = b"".join(bytes(part) for part in encode_frame(make_response(request, 0, None, {
        "msgId": "7F00000100002A9F0000000000000000", "queueId": "1", "queueOffset": "12345"})))
    # TLS records are sequenced: the client encrypts one record per request beforehand
    records = []
    for _ in range(count + 1000):
        client.send(frame)
        records.append(client.outgoing())
    it = iter(records)

    def server_round() -> None:
        server.receive(next(it))
        server.send(reply)
        server.outgoing()

    return per_call_us(server_round, count)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=50000)
    o = ap.parse_args()
    print(f"| per request | microseconds |\n|---|---|")
    print(f"| plain ACL check (signed 128 B SEND_MESSAGE_V2) | {acl_cost(o.count):.1f} |")
    print(f"| TLS, server side (decrypt request, encrypt response) | {tls_cost(o.count):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
