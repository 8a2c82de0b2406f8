"""Reading SQL text the way PostgreSQL does, for the two things the bindings need from it.

D1 (SQLite) placeholders ``?`` and ``?NNN`` become the Data API's named parameters ``:pN``, and a script
becomes its statements. Both must skip what PostgreSQL does not treat as code: string literals (including
E'' escapes), quoted identifiers, dollar-quoted bodies, and comments (block comments nest).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_PARAMETER_INDEX = 32_766  # SQLite's default SQLITE_MAX_VARIABLE_NUMBER, which D1 inherits
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_ROW_RETURNING_STARTS = frozenset({"select", "with", "values", "show", "explain", "table"})


class SqlSyntaxError(ValueError):
    """SQL whose quoting or placeholders cannot be read (unterminated literal, placeholder index 0...)."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "code", "literal" (strings, identifiers, dollar bodies) or "comment"
    text: str


def _block_comment_end(sql: str, i: int) -> int:
    depth, j = 1, i + 2
    while j < len(sql) and depth:
        if sql.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif sql.startswith("*/", j):
            depth, j = depth - 1, j + 2
        else:
            j += 1
    if depth:
        raise SqlSyntaxError("unterminated /* comment")
    return j


def _quoted_end(sql: str, i: int) -> int:
    """End of the string literal or quoted identifier opening at ``i`` (a doubled quote is an escaped quote)."""
    quote = sql[i]
    backslashes = quote == "'" and i > 0 and sql[i - 1] in "eE" and not _is_word_char(sql, i - 2)
    j = i + 1
    while j < len(sql):
        if backslashes and sql[j] == "\\":
            j += 2
        elif sql[j] != quote:
            j += 1
        elif sql.startswith(quote * 2, j):
            j += 2
        else:
            return j + 1
    raise SqlSyntaxError("unterminated string literal" if quote == "'" else "unterminated quoted identifier")


def _special_end(sql: str, i: int) -> tuple[int, str] | None:
    """Where a comment, literal, quoted identifier or dollar-quoted body starting at ``i`` ends, and its kind."""
    pair = sql[i : i + 2]
    if pair == "--":
        newline = sql.find("\n", i)
        return (len(sql) if newline < 0 else newline), "comment"
    if pair == "/*":
        return _block_comment_end(sql, i), "comment"
    if sql[i] in "'\"":
        return _quoted_end(sql, i), "literal"
    if sql[i] == "$" and not _is_word_char(sql, i - 1):
        tag = _DOLLAR_TAG.match(sql, i)
        if tag:
            close = sql.find(tag.group(), tag.end())
            if close < 0:
                raise SqlSyntaxError(f"unterminated dollar-quoted string {tag.group()}")
            return close + len(tag.group()), "literal"
    return None


def _tokens(sql: str) -> Iterator[_Token]:
    i = start = 0
    while i < len(sql):
        special = _special_end(sql, i)
        if special is None:
            i += 1
            continue
        end, kind = special
        if start < i:
            yield _Token("code", sql[start:i])
        yield _Token(kind, sql[i:end])
        i = start = end
    if start < len(sql):
        yield _Token("code", sql[start:])


def _is_word_char(sql: str, index: int) -> bool:
    return index >= 0 and (sql[index].isalnum() or sql[index] == "_")


@dataclass(frozen=True, slots=True)
class CompiledSql:
    sql: str  # with :p1 .. :pN in place of D1's placeholders
    parameter_count: int  # the highest placeholder index: exactly this many values must be bound
    returns_rows: bool  # a query, or DML with RETURNING


_PLACEHOLDER = re.compile(r"\?(\d*)")


def compile_d1(sql: str) -> CompiledSql:
    """D1's ``?`` / ``?NNN`` placeholders as Data API names. A bare ``?`` takes the next index after the
    highest used so far, as in SQLite, so ``?2, ?, ?1`` binds values 2, 3 and 1."""
    highest = 0
    parts: list[str] = []
    words: list[str] = []

    def name(match: re.Match[str]) -> str:
        nonlocal highest
        digits = match.group(1)
        index = int(digits) if digits else highest + 1
        if not 1 <= index <= MAX_PARAMETER_INDEX:
            raise SqlSyntaxError(f"placeholder ?{digits} is out of range 1..{MAX_PARAMETER_INDEX}")
        highest = max(highest, index)
        return f":p{index}"

    for token in _tokens(sql):
        if token.kind == "code":
            parts.append(_PLACEHOLDER.sub(name, token.text))
            words += [w.lower() for w in _WORD.findall(token.text)]
        else:
            parts.append(token.text)
    returns_rows = bool(words) and (words[0] in _ROW_RETURNING_STARTS or "returning" in words)
    return CompiledSql(sql="".join(parts), parameter_count=highest, returns_rows=returns_rows)


def split_statements(script: str) -> list[str]:
    """The statements of a script, without their terminating semicolons; empty ones and comments dropped."""
    statements: list[str] = []
    current: list[str] = []
    for token in _tokens(script):
        if token.kind != "code":
            # A comment still separates the words around it: "SELECT/**/1" is "SELECT 1".
            current.append(token.text if token.kind == "literal" else " ")
            continue
        pieces = token.text.split(";")
        for piece in pieces[:-1]:
            current.append(piece)
            statements.append("".join(current).strip())
            current = []
        current.append(pieces[-1])
    statements.append("".join(current).strip())
    return [s for s in statements if s]
