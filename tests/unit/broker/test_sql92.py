"""SQL92 property filter: hypothesis property tests of the broker's parser + evaluator against a
small reference evaluator written here in plain Python over a generated syntax tree, plus the
compile-time errors upstream raises and the store-side MessageFilter.

The reference states upstream 4.9's rules directly (three-valued logic with NULL; properties
are strings converted to the other side's type; two strings under > >= < <= compare as
numbers; an unconvertible string is an evaluation error and the message does not match).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocketmq.broker.filter import FilterSyntaxError, SqlMessageFilter, compile_sql92, decode_properties
from pocketmq.broker.filter.values import EvalError
from pocketmq.protocol import message as m

NAMES = ["a", "b", "c"]
PROPERTY_VALUES = ["0", "5", "7", "-3", "12", "2.5", "1e2", "abc", "", "true", "FALSE", "99999999999", "x", "y"]
STRINGS = ["x", "y", "5", "abc", "it's", ""]


class Error(Exception):
    """The reference's evaluation error."""


# ------------------------------------------------------------------------------- syntax tree
@dataclass(frozen=True)
class Prop:
    name: str


@dataclass(frozen=True)
class Const:
    value: object  # int (Integer), float (Double), str, bool


@dataclass(frozen=True)
class Cmp:
    op: str  # = <> > >= < <=
    left: object
    right: object


@dataclass(frozen=True)
class Logic:
    op: str  # AND OR
    left: object
    right: object


@dataclass(frozen=True)
class NotOp:
    operand: object


@dataclass(frozen=True)
class Between:
    prop: Prop
    low: Const
    high: Const
    negated: bool


@dataclass(frozen=True)
class InList:
    prop: Prop
    items: tuple[str, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull:
    operand: object
    negated: bool


@dataclass(frozen=True)
class Bare:  # a property used as a condition
    prop: Prop


@dataclass(frozen=True)
class Lit:  # TRUE / FALSE as a condition
    value: bool


props = st.sampled_from(NAMES).map(Prop)
ints = st.integers(-1000, 1000).map(Const)
floats = st.floats(0.001, 1000, allow_nan=False).map(lambda f: Const(float(f"{f:.3f}") or 0.5))
numbers = st.one_of(ints, floats)
strings = st.sampled_from(STRINGS).map(Const)
booleans = st.booleans().map(Const)


def _ordering(draw_pair):
    return draw_pair


@st.composite
def orderings(draw):
    op = draw(st.sampled_from([">", ">=", "<", "<="]))
    shape = draw(st.integers(0, 2))
    if shape == 0:
        return Cmp(op, draw(props), draw(numbers))
    if shape == 1:
        return Cmp(op, draw(numbers), draw(props))
    return Cmp(op, draw(props), draw(props))


@st.composite
def equalities(draw):
    op = draw(st.sampled_from(["=", "<>"]))
    shape = draw(st.integers(0, 3))
    const = draw(st.one_of(numbers, strings, booleans))
    if shape == 0:
        return Cmp(op, draw(props), const)
    if shape == 1:
        return Cmp(op, const, draw(props))
    if shape == 2:
        return Cmp(op, draw(props), draw(props))
    return Cmp(op, draw(numbers), draw(numbers))


@st.composite
def betweens(draw):
    low, high = sorted([draw(st.integers(-20, 20)), draw(st.integers(-20, 20))])
    return Between(draw(props), Const(low), Const(high), draw(st.booleans()))


@st.composite
def in_lists(draw):
    items = tuple(draw(st.lists(st.sampled_from(STRINGS + PROPERTY_VALUES), min_size=1, max_size=6)))
    return InList(draw(props), items, draw(st.booleans()))


leaves = st.one_of(
    orderings(), equalities(), betweens(), in_lists(),
    st.builds(IsNull, props, st.booleans()),
    props.map(Bare), st.booleans().map(Lit),
)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(Logic, st.sampled_from(["AND", "OR"]), inner, inner),
        st.builds(NotOp, inner),
    ),
    max_leaves=12,
)
contexts = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(PROPERTY_VALUES))


# ------------------------------------------------------------------------------- rendering
@st.composite
def renderings(draw, tree):
    """Text for ``tree``: keyword case, blanks and comments vary; compound parts are bracketed."""

    def kw(word: str) -> str:
        return draw(st.sampled_from([word, word.lower(), word.capitalize()]))

    def sp() -> str:
        return draw(st.sampled_from([" ", "  ", "\t", " /* c */ ", "\n"]))

    def text(node) -> str:
        if isinstance(node, Prop):
            return node.name
        if isinstance(node, Const):
            value = node.value
            if isinstance(value, bool):
                return kw("TRUE" if value else "FALSE")
            if isinstance(value, int):
                return str(value) if value >= 0 else f"-{-value}"
            if isinstance(value, float):
                return repr(value)
            return "'" + str(value).replace("'", "''") + "'"
        if isinstance(node, Cmp):
            return f"({text(node.left)}{sp()}{node.op}{sp()}{text(node.right)})"
        if isinstance(node, Logic):
            return f"({text(node.left)}{sp()}{kw(node.op)}{sp()}{text(node.right)})"
        if isinstance(node, NotOp):
            return f"{kw('NOT')}{sp()}({text(node.operand)})"
        if isinstance(node, Between):
            neg = kw("NOT") + sp() if node.negated else ""
            return (f"({text(node.prop)}{sp()}{neg}{kw('BETWEEN')}{sp()}{text(node.low)}{sp()}{kw('AND')}"
                    f"{sp()}{text(node.high)})")
        if isinstance(node, InList):
            neg = kw("NOT") + sp() if node.negated else ""
            items = ",".join(text(Const(item)) for item in node.items)
            return f"({text(node.prop)}{sp()}{neg}{kw('IN')}{sp()}({items}))"
        if isinstance(node, IsNull):
            neg = kw("NOT") + sp() if node.negated else ""
            return f"({text(node.operand)}{sp()}{kw('IS')}{sp()}{neg}{kw('NULL')})"
        if isinstance(node, Bare):
            return node.prop.name
        if isinstance(node, Lit):
            return kw("TRUE" if node.value else "FALSE")
        raise AssertionError(node)

    return text(tree)


# ------------------------------------------------------------------------- the reference
def _as_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text) or not -2**31 <= int(text) < 2**31:
        raise Error(text)
    return int(text)


def _as_double(text: str) -> float:
    if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", text.strip()):
        raise Error(text)
    return float(text)


def _kind(value) -> str:
    return {bool: "bool", int: "int", float: "double", str: "string"}[type(value)]


def _unify(lv, rv):
    """Both values in one type, or None when the types cannot be related."""
    lk, rk = _kind(lv), _kind(rv)
    if lk == rk:
        return lv, rv
    if lk == "bool":
        if rk == "string":
            raise Error("Boolean vs String")
        return None
    if rk == "bool":
        if lk == "string":
            return lv.lower() == "true", rv
        return None
    if lk == "string":
        return (_as_int(lv) if rk == "int" else _as_double(lv)), rv
    if rk == "string":
        return lv, (_as_int(rv) if lk == "int" else _as_double(rv))
    return float(lv), float(rv)


def _value(node, ctx):
    if isinstance(node, Prop):
        return ctx.get(node.name)
    return node.value


def ref(node, ctx):
    """True / False / None (unknown); raises Error."""
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Bare):
        return None if node.prop.name not in ctx else False
    if isinstance(node, NotOp):
        value = ref(node.operand, ctx)
        return None if value is None else not value
    if isinstance(node, Logic):
        left = ref(node.left, ctx)
        if node.op == "AND":
            if left is False:
                return False
            right = ref(node.right, ctx)
            if right is False:
                return False
            return None if None in (left, right) else True
        if left is True:
            return True
        right = ref(node.right, ctx)
        if right is True:
            return True
        return None if None in (left, right) else False
    if isinstance(node, IsNull):
        return (_value(node.operand, ctx) is None) != node.negated
    if isinstance(node, InList):
        value = ctx.get(node.prop.name)
        return None if value is None else (value in node.items) != node.negated
    if isinstance(node, Between):
        if node.negated:
            return ref(Logic("OR", Cmp("<", node.prop, node.low), Cmp(">", node.prop, node.high)), ctx)
        return ref(Logic("AND", Cmp(">=", node.prop, node.low), Cmp("<=", node.prop, node.high)), ctx)
    if isinstance(node, Cmp):
        lv, rv = _value(node.left, ctx), _value(node.right, ctx)
        if node.op in ("=", "<>"):
            if lv is None and rv is None:
                equal = True
            elif lv is None:
                equal = None
            elif rv is None:
                equal = False
            else:
                pair = _unify(lv, rv)
                equal = pair is not None and pair[0] == pair[1]
            if node.op == "<>" and equal is not None:
                return not equal
            return equal
        if lv is None or rv is None:
            return None
        if isinstance(lv, str) and isinstance(rv, str):
            lv, rv = _as_double(lv), _as_double(rv)
        else:
            lv, rv = _unify(lv, rv)
        return {">": lv > rv, ">=": lv >= rv, "<": lv < rv, "<=": lv <= rv}[node.op]
    raise AssertionError(node)


def ref_or_error(node, ctx):
    try:
        return ref(node, ctx)
    except Error:
        return "error"


def actual(text: str, ctx):
    try:
        return compile_sql92(text).evaluate(ctx.get)
    except EvalError:
        return "error"


# -------------------------------------------------------------------------------- properties
@st.composite
def cases(draw):
    tree = draw(conditions)
    return tree, draw(renderings(tree)), draw(st.lists(contexts, min_size=1, max_size=4))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_evaluator_agrees_with_reference(case):
    tree, text, ctxs = case
    for ctx in ctxs:
        assert actual(text, ctx) == ref_or_error(tree, ctx), (text, ctx)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_matches_only_true(case):
    tree, text, ctxs = case
    expression = compile_sql92(text)
    for ctx in ctxs:
        assert expression.matches(ctx) is (ref_or_error(tree, ctx) is True)


@settings(max_examples=200, deadline=None)
@given(conditions, contexts)
def test_three_valued_laws(tree, ctx):
    """NOT flips TRUE/FALSE and keeps NULL; x AND NOT x is never TRUE; x OR NOT x never FALSE."""
    value = ref_or_error(tree, ctx)
    if value == "error":
        return
    negated = ref(NotOp(tree), ctx)
    assert negated is (None if value is None else not value)
    assert ref(Logic("AND", tree, NotOp(tree)), ctx) is not True
    assert ref(Logic("OR", tree, NotOp(tree)), ctx) is not False


@settings(max_examples=200, deadline=None)
@given(cases())
def test_message_filter_decodes_properties_from_the_stored_entry(case):
    tree, text, ctxs = case
    message_filter = SqlMessageFilter(compile_sql92(text))
    for ctx in ctxs:
        properties = {**ctx, "UNIQ_KEY": "ABC", m.PROPERTY_TAGS: "t"}
        raw = m.encode_message(topic="T", body=b"hello", queue_id=0, flag=0, queue_offset=0, physical_offset=0,
                               sys_flag=0, born_timestamp=1, born_host=("127.0.0.1", 1), store_timestamp=2,
                               store_host=("127.0.0.1", 10911), reconsume_times=0, properties=properties)
        # as upstream's decoder, a property with an empty value reads back as absent
        stored = {name: value for name, value in properties.items() if value}
        assert decode_properties(memoryview(raw)) == stored
        assert message_filter.is_matched_by_consume_queue(0)
        assert message_filter.is_matched_by_commit_log(memoryview(raw)) is (ref_or_error(tree, stored) is True)


# ------------------------------------------------------------------------------- examples
@pytest.mark.parametrize("text, props, expected", [
    ("a > 5 AND b = 'x'", {"a": "7", "b": "x"}, True),
    ("a > 5 AND b = 'x'", {"a": "3", "b": "x"}, False),
    ("a > 5 AND b = 'x'", {"b": "x"}, None),
    ("a BETWEEN 3 AND 10", {"a": "10"}, True),
    ("a NOT BETWEEN 3 AND 10", {"a": "11"}, True),
    ("b IN ('x', 'y')", {"b": "y"}, True),
    ("b NOT IN ('x', 'y')", {}, None),
    ("a IS NULL", {}, True),
    ("a IS NOT NULL", {"a": ""}, True),
    ("NOT (a > 5)", {}, None),
    ("a > 5 OR TRUE", {}, True),
    ("a > 5 AND FALSE", {}, False),
    ("a = TRUE", {"a": "True"}, True),
    ("a >= 2.5", {"a": "3"}, True),
    ("a > b", {"a": "10", "b": "9.5"}, True),
    ("a = 5", {"a": "x"}, "error"),      # upstream: NumberFormatException, the message is not matched
    ("a > 5", {"a": "7.5"}, "error"),    # an Integer constant parses the property as an int
    ("a > 5.0", {"a": "7.5"}, True),
    ("a > 5 xyz )", {"a": "7"}, True),   # as upstream, text after a complete expression is ignored
    ("a = 1 -- comment\n OR b = 2", {"b": "2"}, True),
    ("A = 1", {"a": "1"}, None),         # property names are case-sensitive, keywords are not
])
def test_examples(text, props, expected):
    assert actual(text, props) == expected


@pytest.mark.parametrize("text, message", [
    ("", "unexpected end of expression"),
    ("a >> 5", 'unexpected ">" at position 4'),
    ("a = NULL", "'NULL' cannot be compared"),
    ("a > 'x'", "Value ''x'' cannot be compared."),
    ("a > TRUE", "Value 'TRUE' cannot be compared."),
    ("TRUE = 5", "'TRUE' cannot be compared with '5'"),
    ("a IN (1, 2)", "IN lists hold strings only"),
    ("5 IN ('x')", "Expected a property for In expression"),
    ("a BETWEEN 5 AND 1", "Illegal values of between"),
    ("5", "Expression will not result in a boolean value: 5"),
    ("'x' AND a", "Expression will not result in a boolean value: 'x'"),
    ("a = 'x", "unterminated string literal"),
    ("a ! b", "unexpected character '!'"),
    ("a > 99999999999999999999", "out of the Long range"),
    ("a > 0.0", "0.0 is less than 4.9E-324"),
    ("a IS 5", "NULL or NOT NULL after IS"),
    ("(a > 5", "expected ')'"),
    ("a BETWEEN 1 OR 2", "AND in BETWEEN"),
    ("(" * 300 + "a" + ")" * 300, "nested"),
])
def test_bad_expressions_are_rejected_with_a_clear_message(text, message):
    with pytest.raises(FilterSyntaxError) as info:
        compile_sql92(text)
    assert message in str(info.value)


def test_compiled_expressions_and_errors_are_cached():
    first = compile_sql92("cache_a > 1 AND cache_b IS NULL")
    assert compile_sql92("cache_a > 1 AND cache_b IS NULL") is first
    with pytest.raises(FilterSyntaxError) as one:
        compile_sql92("cache_a >")
    with pytest.raises(FilterSyntaxError) as two:
        compile_sql92("cache_a >")
    assert one.value is two.value


def test_constant_types_follow_upstream():
    # 2147483648 no longer fits an Integer: it becomes a Long and the property parses as a long
    assert actual("a = 2147483648", {"a": "2147483648"}) is True
    assert actual("a = 5", {"a": "2147483648"}) == "error"
    assert actual("a = 5L", {"a": "5"}) is True
    assert actual("- -5 = 5", {}) is True
    assert actual("-a = 5", {"a": "-5"}) is None   # negating a string gives NULL
    assert math.isclose(compile_sql92("a = 1.5e2").evaluate({"a": "150"}.get) is True, 1)


@pytest.mark.parametrize("topic", ["T", "%RETRY%" + "g" * 200], ids=["version-1", "version-2"])
def test_properties_are_found_in_both_entry_versions(topic):
    properties = {"a": "7", "UNIQ_KEY": "ABC"}
    raw = m.encode_message(topic=topic, body=b"hello", properties=properties)
    assert decode_properties(memoryview(raw)) == properties
    assert SqlMessageFilter(compile_sql92("a > 5")).is_matched_by_commit_log(memoryview(raw))
