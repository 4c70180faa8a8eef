"""A broker whose epoch file is damaged (not a torn last line) does not start: it exits non-zero
and says which file and what to do, instead of serving a history it cannot trust."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import Broker

pytestmark = pytest.mark.timeout(120)


def test_damaged_epoch_file_stops_the_broker_with_a_clear_reason(tmp_path: Path) -> None:
    store = tmp_path / "b0" / "store"
    store.mkdir(parents=True)
    (store / "epochFile").write_bytes(b"2\n773307083\n7-7000\n8-8000\n")  # upstream's checkpoint format
    broker = Broker(tmp_path / "b0", "127.0.0.1:1", name="broker-x",
                    extra={"enableControllerMode": "true", "controllerAddr": "127.0.0.1:1"})
    try:
        assert broker.proc.wait(90) == 1
    finally:
        broker.kill()
    broker._reader.join(10)
    assert "not a PocketMQ epoch file" in broker.output, broker.output[-2000:]
    assert str(store / "epochFile") in broker.output
