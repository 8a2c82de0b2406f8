"""A target table as PostgreSQL's catalog describes it, and the statements the D1 import runs against it.

The import never guesses at our constraints: NOT NULL columns, CHECK constraints, foreign keys and unique indexes
(partial ones, NULLS NOT DISTINCT ones) are read from the catalog, and each page of rows is written by one
statement that first evaluates every one of them for every row, then upserts the rows none of them refuses, and
returns the refused rows with the constraint each breaks. A refused row never aborts the page (nor the transaction
it runs in): the Data API ends a transaction at its first error.

Names are catalog names checked to be plain identifiers; expressions are PostgreSQL's own text for our constraints
(``pg_get_constraintdef``, ``pg_get_expr``), so the SQL built here holds nothing that came from a dump.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from local.importers.d1_values import Kind, row_digest_sql
from ttai.bindings.d1 import D1Database

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_TYPE = re.compile(r"[a-z][a-z ]{0,40}(\(\d+(,\d+)?\))?")


class TargetError(Exception):
    """The target schema is not one this importer can write (a table it does not know, a name it will not quote)."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    not_null: bool
    identity: bool


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    table: str
    referenced: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unique:
    name: str
    columns: tuple[str, ...]
    nulls_not_distinct: bool
    predicate: str | None  # a partial index's WHERE, as PostgreSQL prints it


@dataclass(frozen=True, slots=True)
class TargetTable:
    name: str
    columns: tuple[Column, ...]
    primary_key: str
    checks: tuple[tuple[str, str], ...]  # (name, CHECK definition)
    foreign_keys: tuple[ForeignKey, ...]
    uniques: tuple[Unique, ...]
    stamping_triggers: tuple[str, ...]  # triggers that overwrite updated_at on UPDATE

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def identity(self) -> str | None:
        return next((c.name for c in self.columns if c.identity), None)


_COLUMNS = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       a.attidentity <> '' AS identity,
       coalesce((SELECT i.indisprimary FROM pg_index i
                 WHERE i.indrelid = a.attrelid AND i.indisprimary AND i.indkey[0] = a.attnum
                   AND i.indnatts = 1), false) AS primary_key
FROM pg_attribute a
WHERE a.attrelid = ?1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_CHECKS = """
SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
WHERE conrelid = ?1::regclass AND contype = 'c' ORDER BY conname
"""
_FOREIGN_KEYS = """
SELECT c.conname AS name, r.relname AS referenced_table,
       (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns,
       (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS referenced
FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid
WHERE c.conrelid = ?1::regclass AND c.contype = 'f' ORDER BY c.conname
"""
_UNIQUES = """
SELECT x.relname AS name, i.indnullsnotdistinct AS nulls_not_distinct,
       pg_get_expr(i.indpred, i.indrelid) AS predicate, 0 = ANY (i.indkey::int2[]) AS has_expression,
       (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) AS columns
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
WHERE i.indrelid = ?1::regclass AND i.indisunique AND NOT i.indisprimary ORDER BY x.relname
"""
_STAMPING_TRIGGERS = """
SELECT t.tgname AS name FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE t.tgrelid = ?1::regclass AND NOT t.tgisinternal AND p.proname = 'set_updated_at' ORDER BY t.tgname
"""


def checked(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise TargetError(f"{name!r} is not a plain identifier")
    return name


def describe(db: D1Database, table: str) -> TargetTable:
    """The table as the catalog has it (TargetError if it does not exist or cannot be written by this importer)."""
    checked(table)
    if not db.prepare("SELECT to_regclass(?1) IS NOT NULL AS found").bind(table).first("found"):
        raise TargetError(f"the target database has no table {table}: are its migrations applied?")
    rows = db.prepare(_COLUMNS).bind(table).all().results
    try:
        columns = tuple(
            Column(checked(str(r["name"])), Kind.of(str(r["type"])), bool(r["not_null"]), bool(r["identity"]))
            for r in rows
        )
    except ValueError as exc:
        raise TargetError(f"{table}: {exc}") from exc
    keys = [str(r["name"]) for r in rows if r["primary_key"]]
    if len(keys) != 1:
        raise TargetError(f"{table} needs a single-column primary key to be imported into")
    foreign_keys = tuple(
        ForeignKey(
            checked(str(r["name"])),
            tuple(checked(c) for c in str(r["columns"]).split(",")),
            checked(str(r["referenced_table"])),
            tuple(checked(c) for c in str(r["referenced"]).split(",")),
        )
        for r in db.prepare(_FOREIGN_KEYS).bind(table).all().results
    )
    uniques = []
    for r in db.prepare(_UNIQUES).bind(table).all().results:
        if r["has_expression"]:
            raise TargetError(f"{table}: unique index {r['name']} is on an expression, which the import cannot probe")
        uniques.append(
            Unique(
                checked(str(r["name"])),
                tuple(checked(c) for c in str(r["columns"]).split(",")),
                bool(r["nulls_not_distinct"]),
                str(r["predicate"]) if r["predicate"] is not None else None,
            )
        )
    return TargetTable(
        name=table,
        columns=columns,
        primary_key=keys[0],
        checks=tuple(
            (checked(str(r["name"])), str(r["definition"])) for r in db.prepare(_CHECKS).bind(table).all().results
        ),
        foreign_keys=foreign_keys,
        uniques=tuple(uniques),
        stamping_triggers=tuple(
            checked(str(r["name"])) for r in db.prepare(_STAMPING_TRIGGERS).bind(table).all().results
        ),
    )


# ------------------------------------------------------------------------------------------- statements


def _type(name: str) -> str:
    if not _TYPE.fullmatch(name):
        raise TargetError(f"{name!r} is not a type name this importer writes into SQL")
    return name


def _q(name: str) -> str:
    return f'"{name}"'


def _probes(table: TargetTable) -> tuple[list[str], list[str]]:
    """Window columns for duplicates within the page, and one CASE per constraint giving a refusal code or NULL."""
    pk = _q(table.primary_key)
    windows: list[str] = []
    probes: list[str] = []
    for column in table.columns:
        if column.not_null:
            probes.append(f"CASE WHEN t.{_q(column.name)} IS NULL THEN 'not_null:{column.name}' END")
    for name, definition in table.checks:
        expression = definition.removeprefix("CHECK ")
        # CHECK passes on NULL: only a false result refuses. Bare column names resolve to the page row t.
        probes.append(f"CASE WHEN NOT coalesce({expression}, true) THEN 'check:{name}' END")
    for fk in table.foreign_keys:
        present = " AND ".join(f"t.{_q(c)} IS NOT NULL" for c in fk.columns)
        match = " AND ".join(f"r.{_q(rc)} = t.{_q(c)}" for c, rc in zip(fk.columns, fk.referenced, strict=True))
        shown = " || ',' || ".join(f"t.{_q(c)}::text" for c in fk.columns)
        probes.append(
            f"CASE WHEN {present} AND NOT EXISTS (SELECT 1 FROM {_q(fk.table)} AS r WHERE {match})"
            f" THEN 'fk:{fk.name}:' || {shown} END"
        )
    for n, unique in enumerate(table.uniques):
        applies = f"coalesce(({unique.predicate}), false)" if unique.predicate else "true"
        if not unique.nulls_not_distinct:
            applies += "".join(f" AND {_q(c)} IS NOT NULL" for c in unique.columns)
        keys = ", ".join(_q(c) for c in unique.columns)
        windows.append(
            f"CASE WHEN {applies} THEN row_number() OVER (PARTITION BY {applies}, {keys} ORDER BY {pk}) END"
            f" AS ttai_dup{n}"
        )

        held = " AND ".join(_same_key(table, unique, c) for c in unique.columns)
        # Bare names in the predicate resolve to o inside the subquery (its innermost FROM), to t outside it.
        held_where = f"({unique.predicate}) AND {held}" if unique.predicate else held
        shown = " || ',' || ".join(f"coalesce(t.{_q(c)}::text, 'NULL')" for c in unique.columns)
        probes.append(
            f"CASE WHEN ttai_dup{n} > 1 OR ({applies}"
            f" AND EXISTS (SELECT 1 FROM {_q(table.name)} AS o WHERE {held_where} AND o.{pk} <> t.{pk}"
            f" AND NOT EXISTS (SELECT 1 FROM page AS x WHERE x.{pk} = o.{pk})))"
            f" THEN 'unique:{unique.name}:' || {shown} END"
        )
    return windows, probes


def _same_key(table: TargetTable, unique: Unique, column: str) -> str:
    """o's key column equals t's, as the unique index compares them (NULLs equal under NULLS NOT DISTINCT). Plain
    equality where the column cannot be NULL, so the index's leading columns can serve the lookup."""
    if unique.nulls_not_distinct and not table.column(column).not_null:
        return f"o.{_q(column)} IS NOT DISTINCT FROM t.{_q(column)}"
    return f"o.{_q(column)} = t.{_q(column)}"


def page_statement(table: TargetTable, columns: tuple[str, ...], *, write: bool) -> str:
    """The SQL for one page of rows (``?1``: a JSON array of row objects holding ``columns``).

    With ``write``: every row no constraint refuses is inserted, or updated where its row differs (identity values
    kept), and the result lists the refused rows (``refused``, key, codes) and counts of ``inserted`` and
    ``updated`` rows. Without: only the refused rows (for verifying rows missing from the target).
    """
    pk = _q(table.primary_key)
    windows, probes = _probes(table)
    names = ", ".join(_q(c) for c in columns)
    ranked = f"SELECT *{''.join(', ' + w for w in windows)} FROM page"
    probed = (
        f"SELECT {', '.join('t.' + _q(c) for c in columns)}, "
        f"array_remove(ARRAY[{', '.join(probes) or 'NULL'}]::text[], NULL) AS ttai_refusals FROM ranked AS t"
    )
    head = (
        f"WITH page AS (SELECT * FROM jsonb_populate_recordset(NULL::{_q(table.name)}, ?1::jsonb)),"
        f" ranked AS ({ranked}), probed AS ({probed})"
    )
    refused = (
        f"SELECT 'refused' AS ttai_kind, {pk}::text AS ttai_key, array_to_string(ttai_refusals, '|') AS ttai_detail"
        " FROM probed WHERE cardinality(ttai_refusals) > 0"
    )
    if not write:
        return f"{head} {refused}"
    updatable = [c for c in columns if c != table.primary_key]
    overriding = " OVERRIDING SYSTEM VALUE" if table.identity else ""
    assignments = ", ".join(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in updatable)
    current = ", ".join(f"tgt.{_q(c)}" for c in updatable)
    incoming = ", ".join(f"EXCLUDED.{_q(c)}" for c in updatable)
    written = (
        f"INSERT INTO {_q(table.name)} AS tgt ({names}){overriding}"
        f" SELECT {names} FROM probed WHERE cardinality(ttai_refusals) = 0"
        f" ON CONFLICT ({pk}) DO UPDATE SET {assignments} WHERE ({current}) IS DISTINCT FROM ({incoming})"
        " RETURNING (tgt.xmax = 0) AS ttai_inserted"
    )
    return (
        f"{head}, written AS ({written}) {refused}"
        " UNION ALL SELECT 'inserted', count(*)::text, NULL FROM written WHERE ttai_inserted"
        " UNION ALL SELECT 'updated', count(*)::text, NULL FROM written WHERE NOT ttai_inserted"
    )


def move_sequence_statement(table: TargetTable) -> str | None:
    """Moves the identity sequence past every id the table holds and past ``?1`` (D1's high-water mark), never
    backwards."""
    column = table.identity
    if column is None:
        return None
    return (
        f"SELECT setval(s.seq, greatest(s.top, coalesce(pg_sequence_last_value(s.seq), 0)), true) AS moved FROM"
        f" (SELECT pg_get_serial_sequence('{table.name}', '{column}')::regclass AS seq,"
        f" greatest(coalesce((SELECT max({_q(column)}) FROM {_q(table.name)}), 0), coalesce(?1::bigint, 0)) AS top) s"
        " WHERE s.top > 0"
    )


def key_page_statement(table: TargetTable, key_type: str, extra: str, *, after: bool, limit: int) -> str:
    """The table's keys (as text) with ``extra`` columns, in key order, ``limit`` at a time (``?1``: the last key of
    the previous page, when ``after``)."""
    pk = _q(table.primary_key)
    where = f" WHERE {pk} > ?1::{_type(key_type)}" if after else ""
    return f"SELECT {pk}::text AS ttai_key{extra} FROM {_q(table.name)}{where} ORDER BY {pk} LIMIT {limit}"


def digest_page_statement(table: TargetTable, key_type: str, *, after: bool, limit: int) -> str:
    """``key_page_statement`` with each row's digest (``d1_values.row_digest_sql``) as ``ttai_digest``."""
    digest = row_digest_sql([(c.name, c.kind) for c in table.columns])
    return key_page_statement(table, key_type, f", {digest} AS ttai_digest", after=after, limit=limit)


def delete_statement(table: TargetTable, key_type: str) -> str:
    """Deletes the rows whose keys ``?1`` lists (a JSON array of texts)."""
    pk = _q(table.primary_key)
    return (
        f"DELETE FROM {_q(table.name)} WHERE {pk} IN (SELECT k::{key_type} FROM jsonb_array_elements_text(?1::jsonb) k)"
    )


def explain(table: TargetTable, code: str) -> str:
    """A refusal code from a page statement as a sentence for the report."""
    kind, _, rest = code.partition(":")
    name, _, values = rest.partition(":")
    if kind == "not_null":
        return f"{name} is NULL and {table.name}.{name} requires a value"
    if kind == "check":
        definition = dict(table.checks).get(name, "")
        return f"breaks {name}: {definition}"
    if kind == "fk":
        fk = next(f for f in table.foreign_keys if f.name == name)
        return f"{', '.join(fk.columns)} {values!r} is not in {fk.table} (not in the dump, or refused itself)"
    if kind == "unique":
        unique = next(u for u in table.uniques if u.name == name)
        return f"another row already holds ({', '.join(unique.columns)}) = ({values}) ({unique.name})"
    return code
