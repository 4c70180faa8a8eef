"""Recursive-descent parser for upstream's SQL92 selector grammar, with upstream's compile-time
checks (SelectorParser.jj, ComparisonExpression.create*):

    or         := and (OR and)*
    and        := equality (AND equality)*
    equality   := comparison ( '=' comparison | '<>' comparison | IS NULL | IS NOT NULL )*
    comparison := unary ( ('>'|'>='|'<'|'<=') unary | [NOT] BETWEEN unary AND unary
                        | [NOT] IN '(' string (',' string)* ')' )*
    unary      := '+' unary | '-' unary | NOT unary | primary
    primary    := literal | identifier | '(' or ')'

As upstream, parsing stops after one complete expression: anything after it is ignored.
"""

from __future__ import annotations

from typing import Iterator

from pocketmq.broker.filter import expression as x
from pocketmq.broker.filter.lexer import (
    DECIMAL, EOF, FLOAT, ID, KEYWORD, OP, STRING, FilterSyntaxError, Token, tokens,
)
from pocketmq.broker.filter.values import INT_MAX, INT_MIN, LONG_MAX, EvalError, JLong, compare

DOUBLE_MIN_VALUE = 5e-324
MAX_DEPTH = 200


class Parser:
    def __init__(self, text: str) -> None:
        self._tokens: Iterator[Token] = tokens(text)
        self._ahead: list[Token] = []
        self._depth = 0

    # ----------------------------------------------------------------------------- tokens
    def _peek(self, n: int = 0) -> Token:
        while len(self._ahead) <= n:
            if self._ahead and self._ahead[-1].kind == EOF:
                return self._ahead[-1]
            self._ahead.append(next(self._tokens))
        return self._ahead[n]

    def _next(self) -> Token:
        token = self._peek()
        if token.kind != EOF:
            self._ahead.pop(0)
        return token

    def _is(self, kind: str, text: str | None = None, n: int = 0) -> bool:
        token = self._peek(n)
        return token.kind == kind and (text is None or token.text == text)

    def _expect(self, kind: str, text: str, what: str) -> Token:
        if not self._is(kind, text):
            self._fail(what)
        return self._next()

    def _fail(self, expected: str) -> None:
        token = self._peek()
        raise FilterSyntaxError(f"unexpected {token.describe()} at position {token.pos + 1}, expected {expected}")

    # ---------------------------------------------------------------------------- grammar
    def parse(self) -> x.Node:
        return as_boolean(self._or())

    def _or(self) -> x.Node:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FilterSyntaxError(f"expression nested deeper than {MAX_DEPTH} levels")
        left = self._and()
        while self._is(KEYWORD, "OR"):
            self._next()
            left = x.Or(as_boolean(left), as_boolean(self._and()))
        self._depth -= 1
        return left

    def _and(self) -> x.Node:
        left = self._equality()
        while self._is(KEYWORD, "AND"):
            self._next()
            left = x.And(as_boolean(left), as_boolean(self._equality()))
        return left

    def _equality(self) -> x.Node:
        left = self._comparison()
        while True:
            if self._is(OP, "="):
                self._next()
                left = create_equal(left, self._comparison())
            elif self._is(OP, "<>"):
                self._next()
                left = x.Not(create_equal(left, self._comparison()))
            elif self._is(KEYWORD, "IS") and self._is(KEYWORD, "NULL", 1):
                self._next(), self._next()
                left = x.Equal(left, x.Constant(None))
            elif self._is(KEYWORD, "IS"):
                self._next()
                self._expect(KEYWORD, "NOT", "NULL or NOT NULL after IS")
                self._expect(KEYWORD, "NULL", "NULL after IS NOT")
                left = x.Not(x.Equal(left, x.Constant(None)))
            else:
                return left

    def _comparison(self) -> x.Node:
        left = self._unary()
        while True:
            token = self._peek()
            if token.kind == OP and token.text in (">", ">=", "<", "<="):
                self._next()
                left = create_ordering(token.text, left, self._unary())
            elif self._is(KEYWORD, "BETWEEN"):
                self._next()
                left = self._between(left, negated=False)
            elif self._is(KEYWORD, "NOT") and self._is(KEYWORD, "BETWEEN", 1):
                self._next(), self._next()
                left = self._between(left, negated=True)
            elif self._is(KEYWORD, "IN"):
                self._next()
                left = create_in(left, self._string_list(), negated=False)
            elif self._is(KEYWORD, "NOT") and self._is(KEYWORD, "IN", 1):
                self._next(), self._next()
                left = create_in(left, self._string_list(), negated=True)
            else:
                return left

    def _between(self, value: x.Node, negated: bool) -> x.Node:
        low = self._unary()
        self._expect(KEYWORD, "AND", "AND in BETWEEN ... AND ...")
        high = self._unary()
        if negated:
            return x.Or(create_ordering("<", value, low), create_ordering(">", value, high))
        if isinstance(low, x.Constant) and isinstance(high, x.Constant):
            if low.value is None or high.value is None:
                raise FilterSyntaxError("Illegal values of between, values can not be null!")
            try:
                reversed_range = compare(high.value, low.value) < 0
            except EvalError as exc:
                raise FilterSyntaxError(f"Illegal values of between: {exc}") from None
            if reversed_range:
                raise FilterSyntaxError(f"Illegal values of between, left value({low}) must less than or "
                                        f"equal to right value({high})")
        return x.And(create_ordering(">=", value, low), create_ordering("<=", value, high))

    def _string_list(self) -> list[str]:
        self._expect(OP, "(", "'(' after IN")
        items = [self._string()]
        while self._is(OP, ","):
            self._next()
            items.append(self._string())
        self._expect(OP, ")", "',' or ')' in the IN list")
        return items

    def _string(self) -> str:
        if not self._is(STRING):
            self._fail("a string literal (IN lists hold strings only)")
        return self._next().text

    def _unary(self) -> x.Node:
        token = self._peek()
        if token.kind == OP and token.text == "+":
            self._next()
            return self._unary()
        if token.kind == OP and token.text == "-":
            self._next()
            return x.Negate(self._unary())
        if token.kind == KEYWORD and token.text == "NOT":
            self._next()
            return x.Not(as_boolean(self._unary()))
        return self._primary()

    def _primary(self) -> x.Node:
        token = self._peek()
        if token.kind == STRING:
            self._next()
            return x.Constant(token.text)
        if token.kind == DECIMAL:
            self._next()
            return x.Constant(decimal_constant(token.text))
        if token.kind == FLOAT:
            self._next()
            return x.Constant(float_constant(token.text))
        if token.kind == KEYWORD and token.text in ("TRUE", "FALSE", "NULL"):
            self._next()
            return x.Constant({"TRUE": True, "FALSE": False, "NULL": None}[token.text])
        if token.kind == ID:
            self._next()
            return x.Property(token.text)
        if token.kind == OP and token.text == "(":
            self._next()
            inner = self._or()
            self._expect(OP, ")", "')'")
            return inner
        self._fail("a property name, a literal, NOT, '-' or '('")
        raise AssertionError("unreachable")


# ------------------------------------------------------------------------ node builders
def as_boolean(node: x.Node) -> x.Node:
    if node.boolean:
        return node
    if isinstance(node, x.Property):
        return x.BooleanCast(node)
    raise FilterSyntaxError(f"Expression will not result in a boolean value: {node}")


def _check_ordering_operand(node: x.Node) -> None:
    """Only numbers (and properties / arithmetic) can be used with > >= < <=."""
    if isinstance(node, x.Constant):
        if node.value is not None and node.value.__class__ in (int, JLong, float):
            return
        raise FilterSyntaxError(f"Value '{node}' cannot be compared.")
    if node.boolean:
        raise FilterSyntaxError(f"Value '{node}' cannot be compared.")


def create_ordering(op: str, left: x.Node, right: x.Node) -> x.Node:
    _check_ordering_operand(left)
    _check_ordering_operand(right)
    return x.Ordering(op, left, right)


def create_equal(left: x.Node, right: x.Node) -> x.Node:
    for node in (left, right):
        if isinstance(node, x.Constant) and node.value is None:
            raise FilterSyntaxError(f"'{node}' cannot be compared (use IS NULL / IS NOT NULL).")
    if isinstance(left, x.Constant) and isinstance(right, x.Constant) and left.boolean and not right.boolean:
        raise FilterSyntaxError(f"'{left}' cannot be compared with '{right}'")
    return x.Equal(left, right)


def create_in(left: x.Node, items: list[str], negated: bool) -> x.Node:
    if not isinstance(left, x.Property):
        raise FilterSyntaxError(f"Expected a property for In expression, got: {left}")
    return x.In(left, items, negated)


def decimal_constant(text: str) -> int:
    digits = text[:-1] if text[-1:] in "lL" else text
    value = int(digits)
    if value > LONG_MAX:
        raise FilterSyntaxError(f"integer literal {text} is out of the Long range")
    return value if INT_MIN <= value <= INT_MAX else JLong(value)


def float_constant(text: str) -> float:
    try:
        value = float(text)
    except OverflowError:
        value = float("inf")
    if value == float("inf"):
        raise FilterSyntaxError(f"{text} is greater than 1.7976931348623157E308")
    if value < DOUBLE_MIN_VALUE:
        raise FilterSyntaxError(f"{text} is less than 4.9E-324")
    return value
