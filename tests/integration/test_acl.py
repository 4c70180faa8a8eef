"""Plain ACL on a real PocketMQ broker, with our client and our mqadmin: the right account
works; wrong secret, unknown key, no signature and a topic the account lacks are refused with
upstream's code, and nothing is stored; rules reload from the file while a producer runs; bad
signatures never stop the broker serving."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import orjson
import pytest

from pocketmq.client import AsyncProducer, Message, MQBrokerError, MQClientError, SendStatus, SessionCredentials
from pocketmq.client.admin import AsyncAdmin
from pocketmq.client.lite_pull import AsyncLitePullConsumer
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.tools import mqadmin
from tests.support.acl import signed_call, write_acl
from tests.support.processes import start_broker, start_namesrv, wait_until

pytestmark = pytest.mark.timeout(180)

ACL_YML = """\
accounts:
  - accessKey: producer1
    secretKey: producer-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - orders=PUB|SUB
      - audit=DENY
  - accessKey: admin-account
    secretKey: admin-secret
    admin: true
"""

USER = SessionCredentials("producer1", "producer-secret")
ADMIN = SessionCredentials("admin-account", "admin-secret")


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("acl")
    home = root / "broker"
    path = write_acl(home, ACL_YML)
    with start_namesrv(root / "ns") as ns, \
            start_broker(home, ns.addr, extra={"aclEnable": "true", "rocketmqHome": home}) as broker:
        yield ns, broker, path


def commit_log_max(addr: str) -> int:
    response = signed_call(addr, RequestCode.GET_BROKER_RUNTIME_INFO, credentials=ADMIN)
    assert response.code == ResponseCode.SUCCESS, response.remark
    return int(orjson.loads(response.body)["table"]["commitLogMaxOffset"])


async def send_one(ns: str, topic: str, credentials: SessionCredentials | None, body: bytes = b"hello"):
    async with AsyncProducer("PID_acl", ns, credentials=credentials, retry_times=0) as producer:
        return await producer.send(Message(topic, body))


def refusal(exc: BaseException) -> MQBrokerError:
    """The broker's answer behind a failed send (SYSTEM_ERROR is retried, then wrapped, as upstream)."""
    while not isinstance(exc, MQBrokerError):
        assert exc.__cause__ is not None, exc
        exc = exc.__cause__
    return exc


def test_right_account_sends_and_consumes(acl_broker) -> None:
    ns, broker, _ = acl_broker

    async def main() -> None:
        async with AsyncAdmin(ns.addr, credentials=ADMIN) as admin:
            await admin.create_topic("orders", broker_addr=broker.addr, read_queue_nums=1, write_queue_nums=1)
        result = await send_one(ns.addr, "orders", USER, b"order-1")
        assert result.status is SendStatus.SEND_OK
        async with AsyncLitePullConsumer("CID_orders", ns.addr, credentials=USER) as consumer:
            consumer.subscribe("orders")
            got: list[bytes] = []
            for _ in range(40):
                got += [m.body for m in await consumer.poll(0.5)]
                if b"order-1" in got:
                    break
            assert b"order-1" in got

    asyncio.run(main())


@pytest.mark.parametrize("credentials, remark", [
    (SessionCredentials("producer1", "wrong-secret"), "Check signature failed for accessKey=producer1"),
    (SessionCredentials("stranger", "whatever-secret"), "No acl config for stranger"),
    (None, "No accessKey is configured"),
])
def test_bad_credentials_are_refused_and_nothing_is_stored(acl_broker, credentials, remark) -> None:
    ns, broker, _ = acl_broker
    before = commit_log_max(broker.addr)
    with pytest.raises(MQClientError) as info:
        asyncio.run(send_one(ns.addr, "orders", credentials))
    answer = refusal(info.value)
    assert answer.code == ResponseCode.SYSTEM_ERROR and remark in answer.remark
    assert commit_log_max(broker.addr) == before


def test_topic_the_account_lacks_is_refused(acl_broker) -> None:
    ns, broker, _ = acl_broker
    before = commit_log_max(broker.addr)
    with pytest.raises(MQClientError) as info:
        asyncio.run(send_one(ns.addr, "audit", USER))
    answer = refusal(info.value)
    assert answer.code == ResponseCode.SYSTEM_ERROR
    assert "No default permission for topic:audit" in answer.remark
    assert commit_log_max(broker.addr) == before


def mq(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        return mqadmin.run([str(a) for a in args], out, err), out.getvalue(), err.getvalue()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_mqadmin_signs_with_flags_or_tools_yml(acl_broker, tmp_path: Path) -> None:
    ns, broker, _ = acl_broker
    rc, out, err = mq("updateTopic", "-b", broker.addr, "-t", "mq-user", "--accessKey", "producer1",
                      "--secretKey", "producer-secret")
    assert rc == 1 and "CODE: 1" in err and "Need admin permission for request code=17" in err
    rc, out, err = mq("updateTopic", "-b", broker.addr, "-t", "mq-admin", "--accessKey", "admin-account",
                      "--secretKey", "admin-secret")
    assert rc == 0 and "create topic to " in out and "success" in out, err
    tools = tmp_path / "conf" / "tools.yml"
    tools.parent.mkdir(parents=True)
    tools.write_text("accessKey: admin-account\nsecretKey: admin-secret\n")
    rc, out, err = mq("updateTopic", "-b", broker.addr, "-t", "mq-tools-yml", env={"ROCKETMQ_HOME": str(tmp_path)})
    assert rc == 0 and "success" in out, err
    rc, out, err = mq("updateTopic", "-b", broker.addr, "-t", "mq-unsigned", env={"ROCKETMQ_HOME": str(tmp_path / "x")})
    assert rc == 1 and "No accessKey is configured" in err


def test_rules_reload_while_a_producer_runs(acl_broker) -> None:
    ns, broker, path = acl_broker

    async def main() -> None:
        async with AsyncProducer("PID_reload", ns.addr, credentials=USER, retry_times=0) as producer:
            with pytest.raises(MQClientError):
                await producer.send(Message("payments", b"before"))
            connections = {c.remote_address for c in producer.instance.remoting._connections.values()}
            path.write_text(ACL_YML.replace("      - audit=DENY", "      - audit=DENY\n      - payments=PUB"))
            try:
                deadline = asyncio.get_running_loop().time() + 15
                while True:
                    try:
                        result = await producer.send(Message("payments", b"after"))
                        break
                    except MQClientError as exc:
                        assert "No default permission for topic:payments" in refusal(exc).remark
                        assert asyncio.get_running_loop().time() < deadline, "the new rule never applied"
                        await asyncio.sleep(0.2)
                assert result.status is SendStatus.SEND_OK
                assert {c.remote_address for c in producer.instance.remoting._connections.values()} == connections
            finally:
                path.write_text(ACL_YML)

    asyncio.run(main())


@pytest.mark.parametrize("code", [RequestCode.POP_MESSAGE, RequestCode.PEEK_MESSAGE, RequestCode.NOTIFICATION,
                                  RequestCode.ACK_MESSAGE, RequestCode.CHANGE_MESSAGE_INVISIBLETIME])
def test_pop_needs_sub_on_the_topic(acl_broker, code) -> None:
    ns, broker, _ = acl_broker
    fields = {"consumerGroup": "CID_pop", "topic": "audit", "queueId": "-1", "maxMsgNums": "1",
              "invisibleTime": "30000", "pollTime": "0", "bornTime": "0", "initMode": "0", "offset": "0",
              "extraInfo": "0 0 30000 0 0 broker-a 0 0"}
    refused = signed_call(broker.addr, code, fields, credentials=USER)
    # refused as every ACL refusal is (upstream's AclException answer)
    assert refused.code == ResponseCode.SYSTEM_ERROR, refused.remark
    assert "No default permission for topic:audit" in refused.remark
    allowed = signed_call(broker.addr, code, dict(fields, topic="orders"), credentials=USER)
    assert "AclException" not in (allowed.remark or ""), allowed.remark


def test_bad_signatures_get_an_error_and_the_broker_keeps_serving(acl_broker) -> None:
    ns, broker, _ = acl_broker
    fields = {"topic": "orders", "consumerGroup": "g", "queueId": "0"}
    for signature in ("%%%not-base64", "A" * (10 * 1024 * 1024)):
        def mutate(request, signature=signature):  # noqa: ANN001
            request.ext_fields["Signature"] = signature
        response = signed_call(broker.addr, RequestCode.GET_CONSUMER_LIST_BY_GROUP, fields, credentials=USER,
                               mutate=mutate)
        assert response.code == ResponseCode.SYSTEM_ERROR and "Check signature failed" in response.remark

    def wrong_body(request) -> None:  # noqa: ANN001
        request.body = b"another body"
    response = signed_call(broker.addr, RequestCode.SEND_MESSAGE, {"topic": "orders"}, b"signed body",
                           credentials=USER, mutate=wrong_body)
    assert response.code == ResponseCode.SYSTEM_ERROR and "Check signature failed" in response.remark
    assert commit_log_max(broker.addr) >= 0  # still serving


def test_a_broken_acl_file_stops_the_broker_from_starting(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from tests.support.processes import BIN, free_broker_port

    home = tmp_path / "broker"
    write_acl(home, "accounts:\n  - accessKey: short\n    secretKey: x\n")
    env = dict(os.environ, HOME=str(home), POCKETMQ_VENV=str(Path(sys.executable).parent.parent))
    run = subprocess.run(["bash", str(BIN / "mqbroker"), "--aclEnable=true", f"--rocketmqHome={home}",
                          f"--listenPort={free_broker_port()}", f"--storePathRootDir={home / 'store'}"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 1
    assert "The broker cannot start: The accessKey=short and secretKey=x cannot be null" in run.stderr
