"""clusterList marks a broker set whose master is down (PocketMQ extension): the slave's row
stays as upstream prints it and a trailing ``#MasterDown`` note line names the set."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_mqadmin import mq, rows
from tests.support.cluster import start_master, start_slave
from tests.support.processes import start_namesrv, wait_until

pytestmark = pytest.mark.timeout(180)


def test_cluster_list_marks_master_down(tmp_path):
    ns = start_namesrv(tmp_path / "ns")
    master = start_master(tmp_path / "m", ns.addr, role="ASYNC_MASTER")
    slave = start_slave(tmp_path / "s", ns.addr)
    try:
        wait_until(lambda: len(rows(mq("clusterList", ns=ns.addr)[1], "DefaultCluster")) == 2, 30,
                   message="master and slave registered")
        rc, out, _ = mq("clusterList", ns=ns.addr)
        assert rc == 0 and "#MasterDown" not in out
        master.kill()
        wait_until(lambda: "#MasterDown" in mq("clusterList", ns=ns.addr)[1], 30, message="master gone")
        rc, out, err = mq("clusterList", ns=ns.addr)
        assert rc == 0, err
        assert [r[:4] for r in rows(out, "DefaultCluster")] == [["DefaultCluster", "broker-a", "1", slave.addr]]
        assert out.splitlines()[-1] == f"#MasterDown  DefaultCluster  broker-a  (master down, slaves: {slave.addr})"
        [record] = json.loads(mq("clusterList", "--json", ns=ns.addr)[1])
        assert record["brokerId"] == 1 and record["masterDown"] is True
    finally:
        slave.kill()
        master.kill()
        ns.kill()
