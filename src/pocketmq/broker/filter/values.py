"""Java value semantics the SQL92 filter needs (upstream ComparisonExpression.__compare and the
boxed types it works on), in plain Python.

Values an expression handles: ``None`` (NULL), ``bool`` (Boolean), ``int`` (Integer),
:class:`JLong` (Long), ``float`` (Double) and ``str`` (String; every message property is a
string). Integer and Long stay apart because upstream parses a property compared with an
Integer constant as a 32-bit int and fails beyond that range.
"""

from __future__ import annotations

import re
import struct

INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1


class EvalError(Exception):
    """A runtime failure of an expression on one message (upstream: an exception thrown by
    evaluate); the broker then treats the message as not matched."""


class JLong(int):
    """A Java Long (a plain ``int`` is a Java Integer)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}L"


# kinds
BOOL, INT, LONG, DOUBLE, STRING = "B", "I", "L", "D", "S"


def kind(value: object) -> str:
    if value.__class__ is str:
        return STRING
    if value.__class__ is bool:
        return BOOL
    if value.__class__ is JLong:
        return LONG
    if value.__class__ is int:
        return INT
    if value.__class__ is float:
        return DOUBLE
    raise EvalError(f"unsupported value {value!r}")


_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_DOUBLE_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?")
_SPECIAL_DOUBLE_TEXT = re.compile(r"([+-]?)(NaN|Infinity)")
_HEX_DOUBLE_TEXT = re.compile(r"([+-]?)0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+)[fFdD]?")


def parse_java_int(text: str, low: int = INT_MIN, high: int = INT_MAX) -> int:
    """Integer.valueOf / Long.valueOf: optional sign, digits, no blanks, in range."""
    if not _INTEGER_TEXT.fullmatch(text):
        raise EvalError(f'NumberFormatException: For input string: "{text}"')
    value = int(text)
    if not low <= value <= high:
        raise EvalError(f'NumberFormatException: For input string: "{text}"')
    return value


def parse_java_long(text: str) -> JLong:
    return JLong(parse_java_int(text, LONG_MIN, LONG_MAX))


def parse_java_double(text: str) -> float:
    """Double.valueOf: surrounding chars <= ' ' trimmed; decimal, NaN, Infinity, hex, f/d suffix."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    core = text[start:end]
    special = _SPECIAL_DOUBLE_TEXT.fullmatch(core)
    if special:
        if special.group(2) == "NaN":
            return float("nan")
        return float("-inf") if special.group(1) == "-" else float("inf")
    if _DOUBLE_TEXT.fullmatch(core):
        return float(core.rstrip("fFdD"))
    hex_match = _HEX_DOUBLE_TEXT.fullmatch(core)
    if hex_match:
        sign, magnitude = hex_match.groups()
        try:
            value = float.fromhex(magnitude)
        except (OverflowError, ValueError):
            value = float("inf")
        return -value if sign == "-" else value
    raise EvalError(f'NumberFormatException: For input string: "{text}"' if core else "NumberFormatException: empty String")


def parse_java_boolean(text: str) -> bool:
    return text.lower() == "true"


_DOUBLE_BITS = struct.Struct(">d")
_LONG_BITS = struct.Struct(">q")
_CANONICAL_NAN_BITS = 0x7FF8000000000000


def _double_bits(value: float) -> int:
    if value != value:
        return _CANONICAL_NAN_BITS
    return _LONG_BITS.unpack(_DOUBLE_BITS.pack(value))[0]


def compare_doubles(a: float, b: float) -> int:
    """Double.compare: NaN above everything, -0.0 below 0.0."""
    if a < b:
        return -1
    if a > b:
        return 1
    x, y = _double_bits(a), _double_bits(b)
    return 0 if x == y else (-1 if x < y else 1)


def _cmp(a, b) -> int:
    return (a > b) - (a < b)


def compare(lv: object, rv: object) -> int:
    """Upstream ``__compare(lv, rv, convertStringExpressions=true)``: converts the two values up
    to a common type, or answers -1 for types it cannot relate; a string that does not parse as
    the other side's number is an error."""
    lk, rk = kind(lv), kind(rv)
    if lk != rk:
        if lk == BOOL:
            if rk == STRING:  # upstream casts the Boolean to String here: ClassCastException
                raise EvalError("ClassCastException: Boolean cannot be cast to String")
            return -1
        if lk == INT:
            if rk == LONG:
                pass
            elif rk == DOUBLE:
                lv = float(lv)  # type: ignore[arg-type]
            elif rk == STRING:
                rv = parse_java_int(rv)  # type: ignore[arg-type]
            else:
                return -1
        elif lk == LONG:
            if rk == INT:
                pass
            elif rk == DOUBLE:
                lv = float(lv)  # type: ignore[arg-type]
            elif rk == STRING:
                rv = parse_java_long(rv)  # type: ignore[arg-type]
            else:
                return -1
        elif lk == DOUBLE:
            if rk in (INT, LONG):
                rv = float(rv)  # type: ignore[arg-type]
            elif rk == STRING:
                rv = parse_java_double(rv)  # type: ignore[arg-type]
            else:
                return -1
        else:  # STRING
            if rk == BOOL:
                lv = parse_java_boolean(lv)  # type: ignore[arg-type]
            elif rk == INT:
                lv = parse_java_int(lv)  # type: ignore[arg-type]
            elif rk == LONG:
                lv = parse_java_long(lv)  # type: ignore[arg-type]
            elif rk == DOUBLE:
                lv = parse_java_double(lv)  # type: ignore[arg-type]
            else:
                return -1
    if lv.__class__ is float or rv.__class__ is float:
        return compare_doubles(float(lv), float(rv))  # type: ignore[arg-type]
    if lv.__class__ is str:
        return _compare_java_strings(lv, rv)  # type: ignore[arg-type]
    return _cmp(lv, rv)


def _compare_java_strings(a: str, b: str) -> int:
    """String.compareTo orders UTF-16 code units."""
    if a.isascii() and b.isascii() or max(a + b, default="\0") < "\ud800":
        return _cmp(a, b)
    return _cmp(a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass"))


def negate(value: object) -> object:
    """Unary minus: numbers keep their type (with Java overflow), anything else is NULL."""
    cls = value.__class__
    if cls is int:
        result = -value  # type: ignore[operator]
        return result if INT_MIN <= result <= INT_MAX else INT_MIN
    if cls is JLong:
        result = -int(value)  # type: ignore[call-overload]
        return JLong(result if LONG_MIN <= result <= LONG_MAX else LONG_MIN)
    if cls is float:
        return -value  # type: ignore[operator]
    return None


def render(value: object) -> str:
    """How upstream prints a constant in error text."""
    if value is None:
        return "NULL"
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if value.__class__ is str:
        return "'" + value.replace("'", "''") + "'"  # type: ignore[union-attr]
    if value.__class__ is float:
        return repr(value)
    return str(int(value))  # type: ignore[call-overload]
