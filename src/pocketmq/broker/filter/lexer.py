"""Tokens of upstream's SQL92 selector grammar (filter/…/parser/SelectorParser.jj).

Keywords (case-insensitive): NOT AND OR BETWEEN IN TRUE FALSE NULL IS. Identifiers
``[a-zA-Z_$][a-zA-Z0-9_$]*``; integers ``0 | [1-9][0-9]*[lL]?``; floats ``1.5 5. .5 1e3 1.5E-2``;
strings ``'it''s'``; operators ``= <> > >= < <= ( ) , + -``. Blanks, ``-- line`` comments (ended
by a newline) and ``/* block */`` comments are skipped. Tokens are produced lazily, as the
JavaCC token manager does, so text after a complete expression is never looked at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

KEYWORDS = frozenset({"NOT", "AND", "OR", "BETWEEN", "IN", "TRUE", "FALSE", "NULL", "IS"})
OPERATORS = ("<>", ">=", "<=", "=", ">", "<", "(", ")", ",", "+", "-")

# kinds
EOF, KEYWORD, ID, DECIMAL, FLOAT, STRING, OP = "EOF", "KEYWORD", "ID", "DECIMAL", "FLOAT", "STRING", "OP"

_BLANKS = " \t\n\r\f"
_LINE_COMMENT = re.compile(r"--[^\n\r]*(?:\r\n|\n|\r)")
_BLOCK_COMMENT = re.compile(r"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/")
_IDENT = re.compile(r"[a-zA-Z_$][a-zA-Z0-9_$]*")
_FLOAT = re.compile(r"[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+")
_DECIMAL = re.compile(r"0|[1-9][0-9]*[lL]?")
_STRING = re.compile(r"'(?:''|[^'])*'")


class FilterSyntaxError(ValueError):
    """An expression that does not compile; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str  # keywords upper-cased; strings decoded
    pos: int   # 0-based character position

    def describe(self) -> str:
        if self.kind == EOF:
            return "end of expression"
        if self.kind == STRING:
            return "'" + self.text.replace("'", "''") + "'"
        return f'"{self.text}"'


def tokens(text: str) -> Iterator[Token]:
    pos = 0
    size = len(text)
    while True:
        while pos < size:
            char = text[pos]
            if char in _BLANKS:
                pos += 1
                continue
            if char == "-" and text.startswith("--", pos):
                match = _LINE_COMMENT.match(text, pos)
                if match:
                    pos = match.end()
                    continue
            if char == "/" and text.startswith("/*", pos):
                match = _BLOCK_COMMENT.match(text, pos)
                if match:
                    pos = match.end()
                    continue
            break
        if pos >= size:
            yield Token(EOF, "", pos)
            return
        char = text[pos]
        if char.isascii() and (char.isalpha() or char in "_$"):
            match = _IDENT.match(text, pos)
            assert match is not None
            word = match.group()
            if word.upper() in KEYWORDS:
                yield Token(KEYWORD, word.upper(), pos)
            else:
                yield Token(ID, word, pos)
            pos = match.end()
            continue
        if "0" <= char <= "9" or char == ".":
            floating = _FLOAT.match(text, pos)
            decimal = _DECIMAL.match(text, pos)
            if floating and (not decimal or floating.end() > decimal.end()):
                yield Token(FLOAT, floating.group(), pos)
                pos = floating.end()
                continue
            if decimal:
                yield Token(DECIMAL, decimal.group(), pos)
                pos = decimal.end()
                continue
        if char == "'":
            match = _STRING.match(text, pos)
            if not match:
                raise FilterSyntaxError(f"unterminated string literal at position {pos + 1}")
            yield Token(STRING, match.group()[1:-1].replace("''", "'"), pos)
            pos = match.end()
            continue
        for op in OPERATORS:
            if text.startswith(op, pos):
                yield Token(OP, op, pos)
                pos += len(op)
                break
        else:
            raise FilterSyntaxError(f"unexpected character {char!r} at position {pos + 1}")
