"""Bad message ids against real processes: the wrong length, characters that are not hex, an
offset id naming an address with no broker (nothing listening, or a name server) given to
``mqadmin queryMsgById``, ``queryMsgByUniqueKey``, ``printMsg`` and the client's ``view_message``:
one clear line, no traceback, and the servers keep serving."""

from __future__ import annotations

import asyncio

import pytest

from pocketmq.client import MQBrokerError, MQClientError
from pocketmq.client.admin import AsyncAdmin
from pocketmq.protocol.message_id import create_offset_message_id
from tests.integration.test_mqadmin import cluster, mq  # noqa: F401 - the module's cluster fixture
from tests.support.processes import free_port

pytestmark = pytest.mark.timeout(300)


def bad_ids(ns_port: int, broker_port: int) -> dict[str, str]:
    return {
        "too short": "0A0000010000",
        "odd length": "0A000001000029FF000000000000123",
        "not hex": "0A000001000029FF00000000000012ZZ",
        "nothing listening": create_offset_message_id("127.0.0.1", free_port(), 0),
        "a name server": create_offset_message_id("127.0.0.1", ns_port, 0),
        "port out of range": "7F000001" + "FFFFFFFF" + "0000000000000000",
        "negative offset": create_offset_message_id("127.0.0.1", broker_port, -1),
        "offset past the end": create_offset_message_id("127.0.0.1", broker_port, 2**63 - 1),
    }


def assert_one_clear_line(rc: int, out: str, err: str) -> None:
    assert rc == 1, (out, err)
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mqadmin: "), err


def test_query_msg_by_id_with_bad_ids(cluster) -> None:
    ns, broker = cluster.ns, cluster.broker
    for name, msg_id in bad_ids(ns.port, broker.port).items():
        rc, out, err = mq("queryMsgById", "-i", msg_id, ns=ns.addr)
        assert_one_clear_line(rc, out, err)
        if name in ("too short", "odd length", "not hex"):
            assert "not an offset message id" in err, err
    rc, out, _ = mq("clusterList", ns=ns.addr)
    assert rc == 0 and broker.addr in out


def test_query_msg_by_unique_key_and_print_msg_with_bad_input(cluster) -> None:
    ns, broker = cluster.ns, cluster.broker
    assert mq("updateTopic", "-t", "IdInput", "-b", broker.addr, ns=ns.addr)[0] == 0
    rc, out, err = mq("queryMsgByUniqueKey", "-t", "IdInput", "-i", "not-an-id", ns=ns.addr)
    assert "Traceback" not in out + err
    rc, out, err = mq("printMsg", "-t", "IdInput", "-b", "2026-13-45#99:99:99:999", ns=ns.addr)
    assert_one_clear_line(rc, out, err)
    rc, out, err = mq("queryMsgById", "-i", "", ns=ns.addr)
    assert rc == 1 and "Traceback" not in out + err


def test_client_view_message_with_bad_ids(cluster) -> None:
    ns, broker = cluster.ns, cluster.broker

    async def main() -> None:
        async with AsyncAdmin(ns.addr, timeout=3.0) as admin:
            for name, msg_id in bad_ids(ns.port, broker.port).items():
                with pytest.raises((MQClientError, MQBrokerError, ValueError)) as caught:
                    await admin.view_message(msg_id)
                text = str(caught.value)
                assert text and "\n" not in text, (name, text)
            assert broker.addr in str(await admin.cluster_info())
    asyncio.run(main())
