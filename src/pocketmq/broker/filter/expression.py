"""Compiled SQL92 expressions (upstream filter/…/expression/*).

Each node evaluates against a property lookup (``name -> str | None``) to ``True``, ``False``,
``None`` (unknown) or, for value nodes, a Java-typed value (see ``values``). Logic is
three-valued as upstream: ``FALSE AND NULL`` is FALSE, ``TRUE OR NULL`` is TRUE, ``NOT NULL``
is NULL; a comparison with NULL on its left is NULL, and only TRUE matches. Upstream's
equality keeps one asymmetry: NULL on the right (``5 = a`` with ``a`` absent) gives FALSE.
"""

from __future__ import annotations

from typing import Callable, Mapping

from pocketmq.broker.filter.values import EvalError, compare, compare_doubles, negate, parse_java_double, render

Lookup = Callable[[str], "str | None"]


class Node:
    boolean = False  # upstream BooleanExpression

    def evaluate(self, get: Lookup) -> object:
        raise NotImplementedError

    def matches(self, properties: Mapping[str, str]) -> bool:
        """True only when the expression is TRUE for these properties (errors and NULL: False)."""
        try:
            return self.evaluate(properties.get) is True
        except (EvalError, RecursionError):
            return False


class Constant(Node):
    def __init__(self, value: object) -> None:
        self.value = value
        self.boolean = value is None or value.__class__ is bool  # TRUE/FALSE/NULL literals

    def evaluate(self, get: Lookup) -> object:
        return self.value

    def __str__(self) -> str:
        return render(self.value)


class Property(Node):
    def __init__(self, name: str) -> None:
        self.name = name

    def evaluate(self, get: Lookup) -> object:
        return get(self.name)

    def __str__(self) -> str:
        return self.name


class Negate(Node):
    def __init__(self, operand: Node) -> None:
        self.operand = operand

    def evaluate(self, get: Lookup) -> object:
        value = self.operand.evaluate(get)
        return None if value is None else negate(value)

    def __str__(self) -> str:
        return f"(- {self.operand})"


class Not(Node):
    boolean = True

    def __init__(self, operand: Node) -> None:
        self.operand = operand

    def evaluate(self, get: Lookup) -> object:
        value = self.operand.evaluate(get)
        return None if value is None else not value

    def __str__(self) -> str:
        return f"(NOT {self.operand})"


class BooleanCast(Node):
    """A property used where a condition is expected: NULL when absent, else FALSE (a property
    is a string, never a Boolean)."""

    boolean = True

    def __init__(self, operand: Node) -> None:
        self.operand = operand

    def evaluate(self, get: Lookup) -> object:
        value = self.operand.evaluate(get)
        if value is None:
            return None
        return value if value.__class__ is bool else False

    def __str__(self) -> str:
        return str(self.operand)


class And(Node):
    boolean = True

    def __init__(self, left: Node, right: Node) -> None:
        self.left, self.right = left, right

    def evaluate(self, get: Lookup) -> object:
        lv = self.left.evaluate(get)
        if lv is False:
            return False
        rv = self.right.evaluate(get)
        if rv is False:
            return False
        return None if lv is None or rv is None else True

    def __str__(self) -> str:
        return f"({self.left} AND {self.right})"


class Or(Node):
    boolean = True

    def __init__(self, left: Node, right: Node) -> None:
        self.left, self.right = left, right

    def evaluate(self, get: Lookup) -> object:
        lv = self.left.evaluate(get)
        if lv is True:
            return True
        rv = self.right.evaluate(get)
        if rv is True:
            return True
        return None if lv is None or rv is None else False

    def __str__(self) -> str:
        return f"({self.left} OR {self.right})"


class Equal(Node):
    """``=`` (and IS NULL, as ``= NULL`` internally): NULL = NULL is TRUE, NULL on the left
    only is NULL, NULL on the right only is FALSE; otherwise compared after type conversion."""

    boolean = True

    def __init__(self, left: Node, right: Node) -> None:
        self.left, self.right = left, right

    def evaluate(self, get: Lookup) -> object:
        lv = self.left.evaluate(get)
        rv = self.right.evaluate(get)
        if lv is None or rv is None:
            if lv is None and rv is None:
                return True
            return None if lv is None else False
        return compare(lv, rv) == 0

    def __str__(self) -> str:
        return f"({self.left} = {self.right})"


_ORDERINGS: dict[str, Callable[[int], bool]] = {
    ">": lambda answer: answer > 0, ">=": lambda answer: answer >= 0,
    "<": lambda answer: answer < 0, "<=": lambda answer: answer <= 0,
}


class Ordering(Node):
    """``> >= < <=``: NULL on either side is NULL; two strings compare as doubles (an error
    when either is not a number); otherwise compared after type conversion."""

    boolean = True

    def __init__(self, op: str, left: Node, right: Node) -> None:
        self.op, self.left, self.right = op, left, right
        self._test = _ORDERINGS[op]

    def evaluate(self, get: Lookup) -> object:
        lv = self.left.evaluate(get)
        if lv is None:
            return None
        rv = self.right.evaluate(get)
        if rv is None:
            return None
        if lv.__class__ is str and rv.__class__ is str:
            try:
                answer = compare_doubles(parse_java_double(lv), parse_java_double(rv))  # type: ignore[arg-type]
            except EvalError as exc:
                raise EvalError(f"It's illegal to compare string by '{self.op}'. lv={lv}, rv={rv}") from exc
        else:
            answer = compare(lv, rv)
        return self._test(answer)

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


class In(Node):
    boolean = True

    def __init__(self, operand: Property, items: list[str], negated: bool) -> None:
        self.operand, self.items, self.negated = operand, frozenset(items), negated
        self._shown = items

    def evaluate(self, get: Lookup) -> object:
        value = self.operand.evaluate(get)
        if value is None or value.__class__ is not str:
            return None
        return (value in self.items) != self.negated

    def __str__(self) -> str:
        items = ", ".join(render(item) for item in self._shown)
        return f"{self.operand} {'NOT IN' if self.negated else 'IN'} ( {items} )"
