"""Plain ACL on a PocketMQ broker with the official clients: the Java client with
AclClientRPCHook(new SessionCredentials(ak, sk)), the Go client v2 with primitive.Credentials,
the C++ client (set_session_credentials) and the official mqadmin reading conf/tools.yml. The
right account works end to end; a wrong secret is refused and stores nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from apache import make_rocketmq_home  # type: ignore[import-not-found]
from clients import (  # type: ignore[import-not-found]
    cpp_produce, java_mqadmin, messages, run_cpp_driver, run_go_driver, run_java_driver, sends,
)
from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.security.credentials import SessionCredentials
from tests.support.acl import signed_call, write_acl
from tests.support.processes import start_broker, start_namesrv

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]

ACL_YML = """\
accounts:
  - accessKey: app-client
    secretKey: app-client-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - acl-java=PUB|SUB
      - acl-go=PUB|SUB
      - acl-cpp=PUB|SUB
  - accessKey: ops-admin
    secretKey: ops-admin-secret
    admin: true
"""

USER = ["--access-key", "app-client", "--secret-key", "app-client-secret"]
WRONG = ["--access-key", "app-client", "--secret-key", "not-the-secret"]
ADMIN = SessionCredentials("ops-admin", "ops-admin-secret")


@pytest.fixture(scope="module")
def acl_cluster(tmp_path_factory, interop_ready):
    root = tmp_path_factory.mktemp("acl-clients")
    home = root / "broker"
    write_acl(home, ACL_YML)
    with start_namesrv(root / "ns") as ns, \
            start_broker(home, ns.addr, extra={"aclEnable": "true", "rocketmqHome": home}) as broker:
        for topic in ("acl-java", "acl-go", "acl-cpp"):
            fields = {"topic": topic, "defaultTopic": "TBW102", "readQueueNums": "2", "writeQueueNums": "2",
                      "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}
            response = signed_call(broker.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, fields, credentials=ADMIN)
            assert response.code == ResponseCode.SUCCESS, response.remark
        yield ns, broker


def commit_log_max(addr: str) -> int:
    response = signed_call(addr, RequestCode.GET_BROKER_RUNTIME_INFO, credentials=ADMIN)
    assert response.code == ResponseCode.SUCCESS, response.remark
    return int(orjson.loads(response.body)["table"]["commitLogMaxOffset"])


def test_java_client_with_acl_rpc_hook(acl_cluster) -> None:
    ns, broker = acl_cluster
    events = run_java_driver(["produce", "--topic", "acl-java", "--count", "5", *USER], namesrv=ns.addr)
    assert len(sends(events)) == 5
    got = run_java_driver(["push-consume", "--topic", "acl-java", "--count", "5", "--group", "CID_acl_java",
                           "--timeout", "60", *USER], namesrv=ns.addr)
    assert sorted(m["body"] for m in messages(got)) == [f"body-{i}" for i in range(5)]
    before = commit_log_max(broker.addr)
    events = run_java_driver(["produce", "--topic", "acl-java", "--count", "2", "--retry", "0", *WRONG],
                             namesrv=ns.addr, check=False)
    errors = [e for e in events if e.get("event") == "send-error"]
    assert len(errors) == 2 and not sends(events)  # the client wraps the broker's SYSTEM_ERROR
    assert commit_log_max(broker.addr) == before


def test_go_client_with_credentials(acl_cluster) -> None:
    ns, broker = acl_cluster
    events = run_go_driver(["produce", "--topic", "acl-go", "--count", "5", *USER], namesrv=ns.addr)
    assert len(sends(events)) == 5
    got = run_go_driver(["push-consume", "--topic", "acl-go", "--count", "5", "--group", "CID_acl_go",
                         "--timeout", "60", *USER], namesrv=ns.addr)
    assert sorted(m["body"] for m in messages(got)) == [f"body-{i}" for i in range(5)]
    before = commit_log_max(broker.addr)
    events = run_go_driver(["produce", "--topic", "acl-go", "--count", "2", *WRONG], namesrv=ns.addr, check=False)
    assert not sends(events) and [e for e in events if e.get("event") == "send-error"]
    assert commit_log_max(broker.addr) == before


def test_cpp_client_with_session_credentials(acl_cluster) -> None:
    ns, broker = acl_cluster
    events = cpp_produce(ns.addr, "acl-cpp", 3, credentials=("app-client", "app-client-secret"))
    assert len(sends(events)) == 3
    got = run_cpp_driver(["cpp-pull-consume", "--topic", "acl-cpp", "--count", "3", "--group", "CID_acl_cpp",
                          "--timeout", "60", *USER], namesrv=ns.addr)
    assert sorted(m["body"] for m in messages(got)) == [f"body-{i}" for i in range(3)]
    before = commit_log_max(broker.addr)
    events = cpp_produce(ns.addr, "acl-cpp", 1, credentials=("app-client", "not-the-secret"), check=False)
    assert not sends(events)
    assert commit_log_max(broker.addr) == before


def test_official_mqadmin_signs_with_tools_yml(acl_cluster, tmp_path: Path) -> None:
    """updateTopic, then updateAclConfig / deleteAccessConfig (the account works in between),
    signed with tools.yml's admin account; a non-admin tools.yml is refused."""
    ns, broker = acl_cluster
    home = make_rocketmq_home(tmp_path / "home", level="WARN")
    (home / "conf" / "tools.yml").write_text("accessKey: ops-admin\nsecretKey: ops-admin-secret\n")
    cp = java_mqadmin(["updateTopic", "-b", broker.addr, "-t", "acl-by-mqadmin"], namesrv=ns.addr,
                      rocketmq_home=home, timeout=90)
    assert "create topic to " in cp.stdout and "success" in cp.stdout, cp.stdout + cp.stderr
    cp = java_mqadmin(["updateAclConfig", "-b", broker.addr, "-a", "java-added", "-s", "java-added-secret",
                       "-i", "DENY", "-t", "acl-java=PUB"], namesrv=ns.addr, rocketmq_home=home, timeout=90)
    assert "create or update plain access config to " in cp.stdout, cp.stdout + cp.stderr
    events = run_java_driver(["produce", "--topic", "acl-java", "--count", "1", "--access-key", "java-added",
                              "--secret-key", "java-added-secret"], namesrv=ns.addr)
    assert len(sends(events)) == 1
    cp = java_mqadmin(["deleteAccessConfig", "-b", broker.addr, "-a", "java-added"], namesrv=ns.addr,
                      rocketmq_home=home, timeout=90)
    assert "delete plain access config account from " in cp.stdout, cp.stdout + cp.stderr
    (home / "conf" / "tools.yml").write_text("accessKey: app-client\nsecretKey: app-client-secret\n")
    cp = java_mqadmin(["updateTopic", "-b", broker.addr, "-t", "acl-by-user"], namesrv=ns.addr,
                      rocketmq_home=home, timeout=90)
    assert "Need admin permission for request code=17" in cp.stdout + cp.stderr


def test_official_clients_through_a_protected_name_server(tmp_path: Path, interop_ready) -> None:
    """PocketMQ's name server with aclEnable=true: the Java client's AclClientRPCHook, the Go
    client's credentials, the C++ client and the official mqadmin (tools.yml) sign their name
    server requests too, so they route, send and list the cluster; unsigned they don't."""
    ns_home, broker_home = tmp_path / "ns", tmp_path / "broker"
    write_acl(ns_home, ACL_YML)
    write_acl(broker_home, ACL_YML)
    with start_namesrv(ns_home, extra=["--aclEnable=true", f"--rocketmqHome={ns_home}"]) as ns, \
            start_broker(broker_home, ns.addr, extra={"aclEnable": "true", "rocketmqHome": broker_home,
                                                      "aclAccessKey": "ops-admin",
                                                      "aclSecretKey": "ops-admin-secret"}) as broker:
        fields = {"topic": "acl-java", "defaultTopic": "TBW102", "readQueueNums": "2", "writeQueueNums": "2",
                  "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}
        assert signed_call(broker.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, fields, credentials=ADMIN).code == 0
        assert signed_call(broker.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, {**fields, "topic": "acl-cpp"},
                           credentials=ADMIN).code == 0
        events = run_java_driver(["produce", "--topic", "acl-java", "--count", "3", *USER], namesrv=ns.addr)
        assert len(sends(events)) == 3
        events = cpp_produce(ns.addr, "acl-cpp", 2, credentials=("app-client", "app-client-secret"))
        assert len(sends(events)) == 2
        assert signed_call(broker.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, {**fields, "topic": "acl-go"},
                           credentials=ADMIN).code == 0
        events = run_go_driver(["produce", "--topic", "acl-go", "--count", "2", *USER], namesrv=ns.addr)
        assert len(sends(events)) == 2
        events = run_java_driver(["produce", "--topic", "acl-java", "--count", "1", "--retry", "0"],
                                 namesrv=ns.addr, check=False)
        assert not sends(events)
        home = make_rocketmq_home(tmp_path / "tools-home", level="WARN")
        (home / "conf" / "tools.yml").write_text("accessKey: app-client\nsecretKey: app-client-secret\n")
        cp = java_mqadmin(["clusterList"], namesrv=ns.addr, rocketmq_home=home, timeout=90)
        assert broker.addr in cp.stdout, cp.stdout + cp.stderr
        (home / "conf" / "tools.yml").unlink()
        cp = java_mqadmin(["clusterList"], namesrv=ns.addr, rocketmq_home=home, timeout=90)
        assert broker.addr not in cp.stdout
