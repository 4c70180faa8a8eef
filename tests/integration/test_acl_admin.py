"""Editing plain_acl.yml over the network (UPDATE_AND_CREATE_ACL_CONFIG 50, DELETE_ACL_CONFIG
51, UPDATE_GLOBAL_WHITE_ADDRS_CONFIG 53), as upstream answers them, but admin accounts only."""

from __future__ import annotations

import pytest

from pocketmq.remoting.codes import RequestCode, ResponseCode
from pocketmq.security.credentials import SessionCredentials
from pocketmq.security.plain_acl import parse_plain_acl
from tests.support.acl import signed_call, write_acl
from tests.support.processes import start_broker, start_namesrv

pytestmark = pytest.mark.timeout(180)

ACL_YML = """\
accounts:
  - accessKey: ops-admin
    secretKey: ops-admin-secret
    admin: true
  - accessKey: app-client
    secretKey: app-client-secret
    defaultTopicPerm: DENY
"""
ADMIN = SessionCredentials("ops-admin", "ops-admin-secret")
APP = SessionCredentials("app-client", "app-client-secret")
NEW = SessionCredentials("new-account", "new-account-secret")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("acl-admin")
    home = root / "broker"
    path = write_acl(home, ACL_YML)
    with start_namesrv(root / "ns") as ns, \
            start_broker(home, ns.addr, extra={"aclEnable": "true", "rocketmqHome": home}) as broker:
        yield broker, path


def runtime(addr: str, credentials: SessionCredentials) -> int:
    return signed_call(addr, RequestCode.GET_BROKER_RUNTIME_INFO, credentials=credentials).code


def test_an_admin_adds_updates_and_deletes_an_account(broker) -> None:
    b, path = broker
    fields = {"accessKey": "new-account", "secretKey": "new-account-secret", "admin": "false",
              "defaultTopicPerm": "PUB", "topicPerms": "orders=PUB|SUB,audit=DENY"}
    assert runtime(b.addr, NEW) == ResponseCode.SYSTEM_ERROR
    response = signed_call(b.addr, RequestCode.UPDATE_AND_CREATE_ACL_CONFIG, fields, credentials=ADMIN)
    assert response.code == ResponseCode.SUCCESS, response.remark
    assert runtime(b.addr, NEW) == ResponseCode.SUCCESS  # in force at once
    written = parse_plain_acl(path.read_text())
    assert written.accounts["new-account"].resource_perms == {"orders": 12, "audit": 1}
    assert written.data_version["counter"] == 1
    response = signed_call(b.addr, RequestCode.DELETE_ACL_CONFIG, {"accessKey": "new-account"}, credentials=ADMIN)
    assert response.code == ResponseCode.SUCCESS
    assert runtime(b.addr, NEW) == ResponseCode.SYSTEM_ERROR
    response = signed_call(b.addr, RequestCode.DELETE_ACL_CONFIG, {"accessKey": "new-account"}, credentials=ADMIN)
    assert response.code == 210
    assert response.remark == "The accesskey[new-account] corresponding to accessConfig has been deleted failed."


def test_bad_accounts_are_refused_and_the_file_kept(broker) -> None:
    b, path = broker
    before = path.read_text()
    short = signed_call(b.addr, RequestCode.UPDATE_AND_CREATE_ACL_CONFIG, {"accessKey": "short", "secretKey": "x"},
                        credentials=ADMIN)
    assert short.code == 209
    assert short.remark == "The accessKey=short and secretKey=x cannot be null and length should longer than 6"
    bad_perm = signed_call(b.addr, RequestCode.UPDATE_AND_CREATE_ACL_CONFIG, {
        "accessKey": "another-one", "secretKey": "another-secret", "topicPerms": "orders=ALL"}, credentials=ADMIN)
    assert bad_perm.code == 209 and "Parse resource permission error for orders=ALL" in bad_perm.remark
    white = signed_call(b.addr, RequestCode.UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
                        {"globalWhiteAddrs": "not-an-address", "aclFileFullPath": ""}, credentials=ADMIN)
    assert white.code == 211
    elsewhere = signed_call(b.addr, RequestCode.UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
                            {"globalWhiteAddrs": "10.0.0.1", "aclFileFullPath": "/tmp/elsewhere.yml"},
                            credentials=ADMIN)
    assert elsewhere.code == 211
    assert path.read_text() == before


def test_only_admins_may_edit(broker) -> None:
    b, path = broker
    before = path.read_text()
    for code, fields in ((RequestCode.UPDATE_AND_CREATE_ACL_CONFIG,
                          {"accessKey": "app-client", "secretKey": "app-client-secret", "admin": "true"}),
                         (RequestCode.DELETE_ACL_CONFIG, {"accessKey": "ops-admin"}),
                         (RequestCode.UPDATE_GLOBAL_WHITE_ADDRS_CONFIG, {"globalWhiteAddrs": "*", "aclFileFullPath": ""})):
        response = signed_call(b.addr, code, fields, credentials=APP)
        assert response.code == ResponseCode.SYSTEM_ERROR
        assert f"Need admin permission for request code={int(code)}" in response.remark
    assert path.read_text() == before
