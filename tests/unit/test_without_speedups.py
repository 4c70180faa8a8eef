"""The C extension is optional at install (setup.py): without it, every module falls back to its
pure-Python twin and the broker's behaviour is the same. This runs the store's, the codec's and
the send path's own tests in a fresh interpreter in which ``pocketmq._speedups`` cannot be
imported, and checks that each fallback is the one in use there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Test files that exercise the per-message code without naming the extension themselves.
BEHAVIOUR_TESTS = [
    "tests/unit/store/test_message_store.py",
    "tests/unit/store/test_recovery.py",
    "tests/unit/remoting/test_codec.py",
    "tests/unit/remoting/test_header_ranges.py",
    "tests/unit/protocol/test_message.py",
    "--deselect", "tests/unit/protocol/test_message.py::test_the_compiled_java_hash_is_in_use",
]

BLOCK_AND_CHECK = """
import sys
sys.modules["pocketmq._speedups"] = None  # import of it now raises ImportError
from pocketmq.broker import send_processor
from pocketmq.protocol import message as m
from pocketmq.remoting import codec, header
from pocketmq.store import index
assert m.java_string_hash is m.java_string_hash_py
assert m.write_entry is m.write_entry_py
assert m.property_from_string is m.property_from_string_py
assert codec.json_header is codec.json_header_py and codec.json_frame_head is codec.json_frame_head_py
assert codec.decode_json_header is codec.decode_json_header_py
assert header._compiled_decode is None
assert index.index_put is index.index_put_py
assert send_processor.ordinary_stored_properties is send_processor.ordinary_stored_properties_py
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:xdist", *sys.argv[1:]]))
"""


def test_the_pure_python_fallbacks_pass_the_behaviour_tests() -> None:
    done = subprocess.run([sys.executable, "-c", BLOCK_AND_CHECK, *BEHAVIOUR_TESTS], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
