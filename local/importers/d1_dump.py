"""A ``wrangler d1 export`` file read into a SQLite working database on disk, one statement at a time, so a dump of
any size is read with flat memory; rows are then read back table by table.

What the file may hold is what D1's export (and SQLite's own ``.dump``) writes: ``CREATE TABLE``, ``INSERT``, the
``sqlite_sequence`` rows, and statements that matter only to a SQLite database being rebuilt (PRAGMAs, BEGIN/COMMIT,
indexes, triggers, views, ANALYZE), which are passed over. Anything else is refused before it runs, and an
authorizer refuses what a hostile file could still try inside an allowed statement (ATTACH, which writes files).
CHECK constraints are not enforced while loading: the seed's checks are not ours, and the import reports every row
our own constraints refuse instead of stopping at the first.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.importers.progress import Progress

_PASSED_OVER = re.compile(
    r"(PRAGMA|BEGIN|COMMIT|END|ANALYZE|CREATE\s+(UNIQUE\s+)?INDEX|CREATE\s+TRIGGER|CREATE\s+VIEW)\b", re.IGNORECASE
)
_RUN = re.compile(r"(CREATE\s+TABLE|INSERT\s+INTO|DELETE\s+FROM\s+\"?sqlite_sequence\"?\s*;)", re.IGNORECASE)
_ALLOWED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_CREATE_TABLE,
        sqlite3.SQLITE_CREATE_INDEX,  # the implicit indexes of UNIQUE and PRIMARY KEY (the dump's own are passed over)
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_FUNCTION,
        sqlite3.SQLITE_TRANSACTION,  # the one transaction the load runs in (a dump's own BEGIN/COMMIT are passed over)
        sqlite3.SQLITE_UPDATE,  # SQLite's own bookkeeping of sqlite_sequence and sqlite_schema
    }
)
_INTERNAL_TABLES = ("sqlite_sequence", "sqlite_schema", "sqlite_master")
MERGED_GROUPS = "ttai_merged_groups"  # the import's own table: rows merged into another (d1_mapping)
WORK_TABLES = frozenset({MERGED_GROUPS})


class DumpError(ValueError):
    """The file is not a D1 export this importer can read (the message names the line)."""


@dataclass(frozen=True, slots=True)
class SourceTable:
    name: str
    columns: tuple[str, ...]
    rows: int


class WorkingDatabase:
    """The dump's tables in a SQLite file of their own (deleted with the directory it lives in)."""

    def __init__(self, conn: sqlite3.Connection, sha256: str, statements: int) -> None:
        self.conn = conn
        self.sha256 = sha256
        self.statements = statements

    def close(self) -> None:
        self.conn.close()

    def tables(self) -> dict[str, SourceTable]:
        names = [
            row[0]
            for row in self.conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rowid")
            if not row[0].startswith("sqlite_") and row[0] not in WORK_TABLES
        ]
        found = {}
        for name in names:
            columns = tuple(row[1] for row in self.conn.execute(f"PRAGMA table_info({quote(name)})"))
            count = int(self.conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0])  # noqa: S608
            found[name] = SourceTable(name, columns, count)
        return found

    def high_water(self, table: str) -> int | None:
        """The largest id an AUTOINCREMENT table ever handed out (sqlite_sequence), even if that row is gone."""
        try:
            row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        except sqlite3.OperationalError:  # no AUTOINCREMENT table in the dump: no sqlite_sequence either
            return None
        return int(row[0]) if row and isinstance(row[0], int) else None

    def present(self, table: str, key: str, keys: list[str], *, merged_away: bool = False) -> set[str]:
        """Which of ``keys`` (as text) the table holds in column ``key``; with ``merged_away``, less the rows merged
        into another (``d1_mapping.MergeOpenDuplicates``)."""
        found: set[str] = set()
        merged = f" AND id NOT IN (SELECT id FROM {MERGED_GROUPS} WHERE id <> kept)" if merged_away else ""  # noqa: S608
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT CAST({quote(key)} AS TEXT) FROM {quote(table)} WHERE {quote(key)} IN ({marks}){merged}"  # noqa: S608
            found.update(str(row[0]) for row in self.conn.execute(sql, chunk))
        return found

    def rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> Iterator[dict[str, Any]]:
        """The rows of a query over the working database, as dicts, read as they are needed."""
        cursor = self.conn.execute(sql, parameters)
        names = [d[0] for d in cursor.description]
        while batch := cursor.fetchmany(1000):
            for values in batch:
                yield dict(zip(names, values, strict=True))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(dump: Path, directory: Path) -> WorkingDatabase:
    """Read ``dump`` into a new SQLite file under ``directory``; the database's digest is the file's SHA-256."""
    conn = sqlite3.connect(directory / "d1-export.sqlite", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.set_authorizer(_authorize)
        digest, statements = _run(conn, dump)
        conn.set_authorizer(None)
    except BaseException:
        conn.close()
        raise
    return WorkingDatabase(conn, digest, statements)


def _authorize(action: int, first: str | None, second: str | None, database: str | None, trigger: str | None) -> int:
    if action not in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_DELETE and first not in _INTERNAL_TABLES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_UPDATE and first not in _INTERNAL_TABLES:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _run(conn: sqlite3.Connection, dump: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    statements = 0
    pending: list[str] = []
    first_line = 0
    size = dump.stat().st_size
    conn.execute("BEGIN")
    with dump.open("rb") as raw, Progress(f"reading {dump.name}", total=size, unit="bytes") as bar:
        for number, line in enumerate(raw, start=1):
            digest.update(line)
            bar.advance(len(line))
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DumpError(f"{dump}:{number}: not UTF-8 text ({exc.reason})") from None
            if not pending:
                if not text.strip():
                    continue
                first_line = number
            pending.append(text)
            statement = "".join(pending) if len(pending) > 1 else text
            if not sqlite3.complete_statement(statement):
                continue
            pending = []
            statements += _execute(conn, statement.strip(), dump, first_line)
    if pending and "".join(pending).strip():
        raise DumpError(f"{dump}:{first_line}: the file ends inside a statement")
    conn.execute("COMMIT")
    return digest.hexdigest(), statements


def _execute(conn: sqlite3.Connection, statement: str, dump: Path, line: int) -> int:
    if _PASSED_OVER.match(statement):
        return 0
    if not _RUN.match(statement):
        raise DumpError(f"{dump}:{line}: not a statement a D1 export holds: {statement[:80]!r}")
    try:
        conn.execute(statement)
    except sqlite3.Error as exc:
        raise DumpError(f"{dump}:{line}: SQLite cannot run this statement ({exc}): {statement[:80]!r}") from None
    return 1
