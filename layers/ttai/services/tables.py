"""Every table of the database, read row by row through the Data API: what backups and a user's export share.

Tables are discovered from the catalog (never listed by hand), ordered so that a table comes after the tables its
foreign keys point at, and read in keyset pages over their primary key. Each row crosses as the text of
``to_jsonb(row)``, which PostgreSQL renders for every column type and ``jsonb_populate_recordset`` reads back.
Pages are sized to fit the Data API's 1 MiB response limit before they are fetched; a single row over its 64 KB
row limit is read in slices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ttai.bindings.d1 import DATA_API_RESPONSE_MAX_BYTES, D1Database, D1Transaction

PAGE_ROWS = 2000  # small rows: the byte budget, not this, usually ends a page
RESPONSE_BUDGET = DATA_API_RESPONSE_MAX_BYTES * 3 // 4  # room left for the Data API's own encoding
ROW_BUDGET = 60_000  # of its 64 KB per row: a row over it is read in slices
_SLICE_CHARS = 15_000  # at most 4 bytes a character: a slice stays under the row limit
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_TABLES = """
SELECT c.relname AS name,
       coalesce((SELECT string_agg(a.attname, ',' ORDER BY k.ord)
                 FROM pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                 WHERE i.indrelid = c.oid AND i.indisprimary), '') AS primary_key,
       coalesce((SELECT string_agg(format_type(a.atttypid, a.atttypmod), ',' ORDER BY k.ord)
                 FROM pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                 WHERE i.indrelid = c.oid AND i.indisprimary), '') AS key_types,
       coalesce((SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attidentity <> ''), '') AS identity_columns,
       coalesce((SELECT string_agg(DISTINCT r.relname, ',') FROM pg_constraint f
                 JOIN pg_class r ON r.oid = f.confrelid
                 WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confrelid <> c.oid), '') AS references,
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped) AS has_user_id
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""


class TableError(Exception):
    """A table this module cannot read safely (no primary key, a name that is not a plain identifier)."""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    primary_key: tuple[str, ...]
    key_types: tuple[str, ...]
    identity_columns: tuple[str, ...]
    references: tuple[str, ...]  # the tables its foreign keys point at (itself excluded)
    has_user_id: bool


def discover(db: D1Database) -> list[Table]:
    """Every table of the public schema, parents before children (foreign keys), ties by name."""
    tables: dict[str, Table] = {}
    for row in db.prepare(_TABLES).all().results:
        name = str(row["name"])
        if not _IDENTIFIER.fullmatch(name):  # fullmatch: "$" would let a final line break through
            raise TableError(f"table {name!r} has a name this module will not quote")

        def split(value: object) -> tuple[str, ...]:
            return tuple(part for part in str(value or "").split(",") if part)

        tables[name] = Table(
            name=name,
            primary_key=split(row["primary_key"]),
            key_types=split(row["key_types"]),
            identity_columns=split(row["identity_columns"]),
            references=split(row["references"]),
            has_user_id=bool(row["has_user_id"]),
        )
    return _parents_first(tables)


def _parents_first(tables: dict[str, Table]) -> list[Table]:
    ordered: list[Table] = []
    placed: set[str] = set()
    remaining = dict(sorted(tables.items()))
    while remaining:
        ready = [t for t in remaining.values() if all(r in placed or r not in tables for r in t.references)]
        if not ready:
            raise TableError(f"foreign keys form a cycle among {sorted(remaining)}")
        for table in ready:
            ordered.append(table)
            placed.add(table.name)
            del remaining[table.name]
    return ordered


def row_texts(
    db: D1Database,
    table: Table,
    *,
    where: str = "TRUE",
    params: Sequence[object] = (),
    drop_fields: Sequence[str] = (),
    page_rows: int = PAGE_ROWS,
    tx: D1Transaction | None = None,
) -> Iterator[str]:
    """Each row of ``table`` matching ``where`` as JSON text, in primary-key order, a page at a time.

    ``where`` is a constant written by the caller with ``?1``... placeholders for ``params``; ``drop_fields`` are
    left out of each row's JSON (columns a caller must not hand out). Given ``tx``, every page is read in that
    transaction (a snapshot, when it is REPEATABLE READ).
    """
    for page in row_pages(db, table, where=where, params=params, drop_fields=drop_fields, page_rows=page_rows, tx=tx):
        for _, text in page:
            yield text


def row_pages(
    db: D1Database,
    table: Table,
    *,
    where: str = "TRUE",
    params: Sequence[object] = (),
    drop_fields: Sequence[str] = (),
    page_rows: int = PAGE_ROWS,
    tx: D1Transaction | None = None,
    after: Sequence[object] | None = None,
) -> Iterator[list[tuple[list[object], str]]]:
    """``row_texts`` a page at a time, each row with its primary key; ``after`` (a key) starts past that row, so a
    reader can stop after any page and another carry on from its last key.

    Each page is one call: PostgreSQL sizes the next rows and returns only those that fit in a response (sizing
    first matters: a refused response would also abort the transaction); a row over the row limit comes back
    without its text, which is then read in slices.
    """
    if not table.primary_key:
        raise TableError(f"table {table.name} has no primary key to page over")
    reader = _Reader(db, table, where, tuple(params), drop_fields, tx)
    position: list[object] | None = list(after) if after is not None else None
    while True:
        rows = reader.page(position, page_rows)
        if not rows:
            return
        page: list[tuple[list[object], str]] = []
        for *key, text, _ in rows:
            page.append((key, reader.sliced(key) if text is None else str(text)))
        position = page[-1][0]
        yield page
        fetched = int(rows[0][-1])
        if len(rows) == fetched and fetched < page_rows:
            return


class _Reader:
    """The SQL of one table's pages: ``where``'s parameters first, then the keyset bounds, then the limit."""

    def __init__(
        self,
        db: D1Database,
        table: Table,
        where: str,
        params: tuple[object, ...],
        drop_fields: Sequence[str],
        tx: D1Transaction | None,
    ) -> None:
        self.db, self.table, self.where, self.params, self.tx = db, table, where, params, tx
        self.keys = ", ".join(table.primary_key)
        dropped = "".join(f" - '{_checked(name)}'" for name in drop_fields)
        self.row = f"(to_jsonb(t){dropped})::text"

    def _bounds(self, first: int) -> str:
        return ", ".join(f"?{first + i}::{t}" for i, t in enumerate(self.table.key_types))

    def _run(self, sql: str, values: list[object]) -> list[list[Any]]:
        statement = self.db.prepare(sql).bind(*values)
        if self.tx is None:
            return statement.raw()
        return [list(r.values()) for r in self.tx.all(statement).results]

    def page(self, after: list[object] | None, limit: int) -> list[list[Any]]:
        """The next rows after ``after`` that fit one response: keys, JSON text (None: over the row limit, read it
        in slices), and how many rows the page looked at."""
        values: list[object] = [*self.params]
        condition = f"({self.where})"
        if after is not None:
            condition += f" AND ({self.keys}) > ({self._bounds(len(values) + 1)})"
            values += after
        values.append(limit)
        sql = f"""
WITH page AS (
    SELECT {self.keys}, {self.row} AS ttai_json FROM {self.table.name} AS t
    WHERE {condition} ORDER BY {self.keys} LIMIT ?{len(values)}
), sized AS (
    SELECT *, octet_length(ttai_json) AS ttai_size,
           sum(octet_length(ttai_json) + 64) OVER (ORDER BY {self.keys}) AS ttai_running,
           count(*) FILTER (WHERE octet_length(ttai_json) > {ROW_BUDGET}) OVER (ORDER BY {self.keys}) AS ttai_big,
           row_number() OVER (ORDER BY {self.keys}) AS ttai_position,
           count(*) OVER () AS ttai_fetched
    FROM page
)
SELECT {self.keys}, CASE WHEN ttai_size <= {ROW_BUDGET} THEN ttai_json END AS ttai_json, ttai_fetched
FROM sized
WHERE (ttai_big = 0 AND ttai_running <= {RESPONSE_BUDGET}) OR ttai_position = 1
ORDER BY {self.keys}
"""  # noqa: S608 - catalog names and constants
        return self._run(sql, values)

    def sliced(self, key: list[object]) -> str:
        """One row's JSON text read in slices, each under the row limit."""
        values: list[object] = [*self.params, *key]
        pairs = zip(self.table.primary_key, self.table.key_types, strict=True)
        exact = " AND ".join(f"{c} = ?{len(self.params) + i + 1}::{t}" for i, (c, t) in enumerate(pairs))
        sql = (
            f"SELECT substr({self.row}, ?{len(values) + 1}::int, {_SLICE_CHARS}) AS part "  # noqa: S608
            f"FROM {self.table.name} AS t WHERE ({self.where}) AND {exact}"
        )
        parts: list[str] = []
        start = 1
        while True:
            found = self._run(sql, [*values, start])
            if not found or not found[0][0]:
                return "".join(parts)
            parts.append(str(found[0][0]))
            start += _SLICE_CHARS


def portable_key(key: Sequence[object]) -> list[object]:
    """A primary key as JSON can carry it (a checkpointed position); ``row_pages(after=...)`` casts each value
    back to its column's type, so a date or an instant as ISO text and a numeric as its digits come back whole."""
    return [
        value.isoformat() if isinstance(value, date | datetime) else str(value) if isinstance(value, Decimal) else value
        for value in key
    ]


def _checked(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):  # fullmatch: "$" would let a final line break through
        raise TableError(f"{name!r} is not a plain column name")
    return name
