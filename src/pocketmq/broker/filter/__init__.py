"""SQL92 property filters (upstream filter module + broker ExpressionMessageFilter).

    expr = compile_sql92("a > 5 AND b = 'x'")      # FilterSyntaxError with a clear message
    expr.matches({"a": "7", "b": "x"})               # True
    SqlMessageFilter(expr).is_matched_by_commit_log(raw_entry)

Compiled expressions are cached by text (as upstream's parse cache), failures too.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from pocketmq.broker.filter.expression import Node
from pocketmq.broker.filter.lexer import FilterSyntaxError
from pocketmq.broker.filter.message_filter import SqlMessageFilter, decode_properties
from pocketmq.broker.filter.parser import Parser

SQL92 = "SQL92"
TAG = "TAG"
CACHE_SIZE = 1024

__all__ = ["SQL92", "TAG", "FilterSyntaxError", "Node", "SqlMessageFilter", "compile_sql92", "decode_properties",
           "describe_error"]

_cache: OrderedDict[str, Node | FilterSyntaxError] = OrderedDict()
_cache_lock = Lock()


def compile_sql92(text: str) -> Node:
    """The compiled expression for ``text``; raises FilterSyntaxError."""
    with _cache_lock:
        found = _cache.get(text)
        if found is not None:
            _cache.move_to_end(text)
    if found is None:
        try:
            found = Parser(text).parse()
        except FilterSyntaxError as exc:
            found = exc
        except RecursionError:
            found = FilterSyntaxError("expression nested too deeply")
        with _cache_lock:
            _cache[text] = found
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    if isinstance(found, FilterSyntaxError):
        raise found
    return found


def describe_error(text: str, error: FilterSyntaxError) -> str:
    return f"Invalid MessageSelector. SQL92 expression [{text}] does not compile: {error}"
