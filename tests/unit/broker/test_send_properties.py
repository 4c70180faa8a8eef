"""The send path's string-edit shortcut for stored properties gives the same property map as
parsing, dropping WAIT=true, adding CLUSTER and re-encoding would; its compiled version
(pocketmq._speedups) gives the very string of the pure-Python one, whatever the layout."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from pocketmq import _speedups  # built by `make venv`; the product falls back without it, the tests do not
from pocketmq.broker import send_processor
from pocketmq.broker.send_processor import ordinary_stored_properties_py
from pocketmq.protocol import message as m

compiled = _speedups.ordinary_stored_properties
IMPLEMENTATIONS = pytest.mark.parametrize("ordinary_stored_properties", [ordinary_stored_properties_py, compiled],
                                          ids=["python", "compiled"])

CLUSTER_PAIR = "CLUSTER\x01DefaultCluster"

_names = st.sampled_from(["UNIQ_KEY", "TAGS", "KEYS", "WAIT", "DELAY", "TRAN_MSG", "CLUSTER", "a", "b_c"])
_values = st.text(alphabet=st.characters(blacklist_characters="\x01\x02", blacklist_categories=("Cs",)),
                  min_size=1, max_size=12)


def _slow_path(text: str) -> dict[str, str]:
    properties = m.string_to_properties(text)
    if properties.get("WAIT") == "true":
        del properties["WAIT"]
    properties["CLUSTER"] = "DefaultCluster"
    return properties


@IMPLEMENTATIONS
@given(st.dictionaries(_names, _values, max_size=6), st.booleans())
def test_shortcut_matches_the_full_parse(ordinary_stored_properties, properties: dict[str, str],
                                         trailing: bool) -> None:
    text = m.properties_to_string(properties) + ("\x02" if trailing and properties else "")
    stored = ordinary_stored_properties(text, CLUSTER_PAIR)
    if stored is None:  # left to the full path: only for what needs it
        assert ({"TRAN_MSG", "CLUSTER"} & properties.keys()) or properties.get("WAIT", "true") != "true"
        return
    assert m.string_to_properties(stored) == _slow_path(text)
    assert "WAIT\x01" not in stored


@IMPLEMENTATIONS
def test_java_producer_properties(ordinary_stored_properties) -> None:
    text = "UNIQ_KEY\x017F00000100002A9F0000000000000001\x02WAIT\x01true\x02TAGS\x01TagA\x02"
    assert ordinary_stored_properties(text, CLUSTER_PAIR) == (
        "UNIQ_KEY\x017F00000100002A9F0000000000000001\x02TAGS\x01TagA\x02CLUSTER\x01DefaultCluster")


@IMPLEMENTATIONS
def test_wait_false_and_transactions_take_the_full_path(ordinary_stored_properties) -> None:
    assert ordinary_stored_properties("WAIT\x01false", CLUSTER_PAIR) is None
    assert ordinary_stored_properties("TRAN_MSG\x01true\x02WAIT\x01true", CLUSTER_PAIR) is None
    assert ordinary_stored_properties("", CLUSTER_PAIR) == CLUSTER_PAIR


def test_the_compiled_version_is_in_use() -> None:
    assert send_processor.ordinary_stored_properties is compiled


_pieces = st.sampled_from(["WAIT\x01true", "WAIT\x01false", "\x02", "\x01", "TAGS\x01A", "CLUSTER\x01c",
                           "TRAN_MSG\x01true", "XWAIT\x01true", "true", "é", "😀", ""])


@given(st.lists(_pieces, max_size=8).map("".join))
def test_compiled_and_python_make_the_same_string(text: str) -> None:
    assert compiled(text, CLUSTER_PAIR) == ordinary_stored_properties_py(text, CLUSTER_PAIR)
