"""Server logs roll by size into otherdays/, as upstream's logback configuration does, so no
date or clock decides when a log file is cut."""

from __future__ import annotations

import logging

from pocketmq.process import setup_logging


def test_log_rolls_by_size_into_otherdays(tmp_path) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        path = setup_logging(str(tmp_path), "broker.log", max_bytes=2000, backups=3)
        for i in range(200):
            logging.getLogger("pocketmq.broker").info("line %d %s", i, "x" * 40)
        rolled = sorted(p.name for p in (tmp_path / "otherdays").iterdir())
        assert rolled == ["broker.1.log", "broker.2.log", "broker.3.log"]
        assert "line 199" in open(path).read()
        assert "line 0 " not in "".join(p.read_text() for p in (tmp_path / "otherdays").iterdir())
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
