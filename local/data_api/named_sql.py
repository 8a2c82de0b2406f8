"""``:name`` parameters in SQL text, found as the service finds them and turned into PostgreSQL's ``$n``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from local.data_api.errors import DataApiError

_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")
_NAME_IN_BODY = re.compile(r"(?<![:\w]):([A-Za-z0-9_]+)")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")


@dataclass(frozen=True, slots=True)
class NamedSql:
    """SQL whose ``:name`` parameters became PostgreSQL's ``$1, $2, ...`` (``names[i]`` is ``$(i+1)``)."""

    text: str
    names: tuple[str, ...]
    statements: int  # non-empty statements separated by semicolons
    dollar_quoted_names: frozenset[str]  # ``:name`` written inside dollar-quoted strings, left as they are


def parse_named_sql(sql: str) -> NamedSql:
    """Replace ``:name`` outside string literals, quoted identifiers, comments and dollar quotes; keep ``::``."""
    out: list[str] = []
    order: dict[str, int] = {}
    dollar_names: set[str] = set()
    statements = 0
    pending = False  # the current statement has content
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        following = sql[i + 1] if i + 1 < n else ""
        if char.isspace():
            out.append(char)
            i += 1
            continue
        if char == "-" and following == "-":
            end = sql.find("\n", i)
            end = n if end < 0 else end
        elif char == "/" and following == "*":
            end = _block_comment_end(sql, i)
        elif char == ";":
            statements += pending
            pending = False
            end = i + 1
        else:
            pending = True
            if char == "'":
                end = _quoted_end(sql, i, "'", backslash_escapes=_is_escape_string(sql, i))
            elif char == '"':
                end = _quoted_end(sql, i, '"', backslash_escapes=False)
            elif char == "$" and not (i > 0 and _is_identifier_char(sql[i - 1])) and (tag := _DOLLAR_TAG.match(sql, i)):
                close = sql.find(tag.group(0), tag.end())
                body_end = n if close < 0 else close
                dollar_names.update(_NAME_IN_BODY.findall(sql, tag.end(), body_end))
                end = n if close < 0 else close + len(tag.group(0))
            elif char == ":" and following == ":":
                end = i + 2
            elif char == ":" and (name := _PARAMETER_NAME.match(sql, i + 1)):
                position = order.setdefault(name.group(0), len(order) + 1)
                out.append(f"${position}")
                i = name.end()
                continue
            else:
                end = i + 1
        out.append(sql[i:end])
        i = end
    statements += pending
    return NamedSql("".join(out), tuple(order), statements, frozenset(dollar_names))


def _is_identifier_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _is_escape_string(sql: str, quote_at: int) -> bool:
    """An ``E'...'`` literal, where backslashes escape (in plain literals they are ordinary characters)."""
    return quote_at > 0 and sql[quote_at - 1] in "eE" and not (quote_at > 1 and _is_identifier_char(sql[quote_at - 2]))


def _quoted_end(sql: str, start: int, quote: str, *, backslash_escapes: bool) -> int:
    i, n = start + 1, len(sql)
    while i < n:
        char = sql[i]
        if backslash_escapes and char == "\\":
            i += 2
            continue
        if char == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _block_comment_end(sql: str, start: int) -> int:
    depth, i, n = 1, start + 2, len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def single_statement(sql: str) -> NamedSql:
    named = parse_named_sql(sql)
    if named.statements > 1:
        raise DataApiError(
            "DatabaseErrorException",
            "ERROR: cannot insert multiple commands into a prepared statement; SQLState: 42601",
        )
    return named
