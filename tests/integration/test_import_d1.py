"""``import_d1``: a ``wrangler d1 export`` of seed 000's schema into a fresh, migrated database through the D1 binding
(the local Data API over the embedded PostgreSQL), verified; re-run, resumed, run again with changes, dry-run."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.importers.d1 import D1Options, ImportRefused, import_d1
from local.importers.d1_mapping import TABLES
from local.importers.d1_target import describe
from local.importers.verify import EXIT_INCOMPLETE, EXIT_MISMATCH, Comparison, Report
from local.stack import LocalStack
from tests.cloudflare_fixtures import D1_EXPORT, DAMAGED, SEED_SCHEMA, export_statements
from ttai.bindings.d1 import D1Database
from ttai.migrations import apply

SEED_003 = """
CREATE TABLE job_executions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, job_type TEXT NOT NULL, execution_date TEXT NOT NULL,
  execution_time TEXT NOT NULL, status TEXT NOT NULL, duration_ms INTEGER, symbols_processed INTEGER,
  symbols_successful INTEGER, symbols_failed INTEGER, error_message TEXT, metadata TEXT,
  created_at TEXT DEFAULT (datetime('now')),
  CHECK (status IN ('success', 'failure', 'partial')),
  CHECK (job_type IN ('analysis', 'pre-market', 'intraday', 'end-of-day', 'weekly'))
);
CREATE TABLE analysis_results (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id INTEGER NOT NULL, symbol TEXT NOT NULL, sentiment TEXT,
  confidence REAL, direction TEXT, reasoning TEXT, signals TEXT, technical_data TEXT, news_count INTEGER,
  created_at TEXT DEFAULT (datetime('now')),
  FOREIGN KEY (execution_id) REFERENCES job_executions(id) ON DELETE CASCADE
);
CREATE TABLE report_snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id INTEGER NOT NULL, report_type TEXT NOT NULL,
  report_date TEXT NOT NULL, content TEXT, html_snapshot TEXT, summary TEXT, high_confidence_count INTEGER,
  created_at TEXT DEFAULT (datetime('now')),
  FOREIGN KEY (execution_id) REFERENCES job_executions(id) ON DELETE CASCADE
);
"""


@pytest.fixture
def fresh_db(stack: LocalStack) -> D1Database:
    db = stack.create_database(f"imp_{uuid.uuid4().hex[:12]}")
    apply(db)
    return db


@pytest.fixture(scope="module")
def imported(stack: LocalStack) -> tuple[D1Database, Report]:
    """The committed fixture imported once into a database of its own (the tests below only read it)."""
    db = stack.create_database(f"imp_{uuid.uuid4().hex[:12]}")
    apply(db)
    return db, import_d1(db, D1_EXPORT)


def _by_table(report: Report) -> dict[str, Comparison]:
    return {c.name: c for c in report.comparisons}


def _rows(db: D1Database, sql: str, *values: object) -> list[dict[str, Any]]:
    return db.prepare(sql).bind(*values).all().results


def test_every_mapped_table_arrives_verified_and_every_damaged_row_is_reported_with_its_reason(
    imported: tuple[D1Database, Report],
) -> None:
    db, report = imported
    tables = _by_table(report)
    assert report.exit_code == EXIT_INCOMPLETE  # verified, but rows were refused: never exit 0 then
    assert all(c.matched for c in tables.values())
    refused = {name: {r.key for r in c.refused.items} for name, c in tables.items() if c.refused.count}
    assert refused == {table: {str(key) for key in keys} for table, keys in DAMAGED.items()}
    reasons = {f"{name}:{r.key}": r.reason for name, c in tables.items() for r in c.refused.items}
    assert "users_id_check" in reasons["users:bad user id"]
    assert "not in users" in reasons["sessions:jti-of-the-bad-user"]  # its user was refused
    assert "notification_channels: not valid JSON" in reasons["user_preferences:5WT00004"]
    assert "positions_check" in reasons["positions:9"]
    assert "alerts_condition_check" in reasons["alerts:13"]
    assert "screener_id '1120' is not in screeners" in reasons["screener_results:17"]
    # Counted, not lost: what was read is what arrived plus what was merged and refused.
    for c in tables.values():
        assert c.read == c.target.count + c.merged.count + c.refused.count
        count = _rows(db, f"SELECT count(*) AS n FROM {c.name}")[0]["n"]
        assert count == c.target.count
    assert set(report.not_imported) == {"user_oauth_tokens", "d1_migrations"}
    assert not report.unmapped


def test_duplicated_open_stock_positions_merge_under_our_unique_key_and_are_reported(
    imported: tuple[D1Database, Report],
) -> None:
    db, report = imported
    positions = _by_table(report)["positions"]
    assert positions.merged.count == 30
    assert len(positions.merged.items) == 20
    kept, merged = positions.merged.items[0]
    assert not _rows(
        db, "SELECT id FROM positions WHERE id = ANY(string_to_array(?1, ',')::bigint[])", ",".join(merged)
    )
    (survivor,) = _rows(db, "SELECT symbol, quantity, status FROM positions WHERE id = ?1", int(kept))
    assert survivor["status"] == "open"
    open_duplicates = _rows(
        db,
        "SELECT count(*) AS n FROM (SELECT 1 FROM positions WHERE status = 'open'"
        " GROUP BY user_id, symbol, option_type, strike, expiration HAVING count(*) > 1) d",
    )
    assert open_duplicates[0]["n"] == 0


def test_types_are_mapped_ids_kept_and_sequences_moved_past_them(imported: tuple[D1Database, Report]) -> None:
    db, _ = imported
    source = sqlite3.connect(":memory:")
    source.executescript(D1_EXPORT.read_text(encoding="utf-8"))
    raw = source.execute("SELECT quantity, average_cost, strike, expiration, created_at FROM positions WHERE id = 1")
    quantity, cost, strike, expiration, created = raw.fetchone()
    (row,) = _rows(db, "SELECT * FROM positions WHERE id = 1")
    assert (row["quantity"], row["direction"]) == (abs(quantity), "short" if quantity < 0 else "long")
    assert float(row["average_cost"]) == pytest.approx(cost, abs=5e-7)
    assert float(row["strike"]) == strike
    assert row["expiration"].isoformat() == expiration
    assert row["created_at"] == datetime.fromtimestamp(created, UTC)
    result = source.execute("SELECT result FROM analyses WHERE id = 1").fetchone()[0]
    assert _rows(db, "SELECT result FROM analyses WHERE id = 1")[0]["result"] == json.loads(result)
    # A row written after the import gets an id past every D1 id, and past D1's own high-water mark.
    (new,) = _rows(db, "SELECT nextval(pg_get_serial_sequence('watchlists', 'id')) AS id")
    assert new["id"] > source.execute("SELECT seq FROM sqlite_sequence WHERE name = 'watchlists'").fetchone()[0]


def test_a_rerun_of_the_same_dump_writes_nothing_and_still_verifies(
    stack: LocalStack, imported: tuple[D1Database, Report]
) -> None:
    db, first = imported
    with CallCounter(stack.env.client("rds-data")) as calls:
        again = import_d1(db, D1_EXPORT)
    assert calls.calls["BeginTransaction"] == 0  # every table already imported from this dump: no writes
    assert again.exit_code == first.exit_code == EXIT_INCOMPLETE
    for before, after in zip(first.comparisons, again.comparisons, strict=True):
        assert after.matched
        assert after.target.checksum == before.target.checksum
        assert {r.key for r in after.refused.items} == {r.key for r in before.refused.items}  # probed again
    rewritten = import_d1(db, D1_EXPORT, D1Options(resume=False))
    assert all(c.written.get("inserted") == c.written.get("updated") == 0 for c in rewritten.comparisons)
    assert rewritten.exit_code == EXIT_INCOMPLETE


def _edited(tmp_path: Path, edit: Callable[[sqlite3.Connection], None]) -> Path:
    conn = sqlite3.connect(":memory:")
    conn.executescript(D1_EXPORT.read_text(encoding="utf-8"))
    edit(conn)
    path = tmp_path / "delta.sql"
    path.write_text("".join(f"{s}\n" for s in export_statements(conn)), encoding="utf-8")
    return path


def test_a_delta_run_applies_changes_keeps_d1s_updated_at_and_flags_rows_deleted_in_d1(
    fresh_db: D1Database, tmp_path: Path
) -> None:
    import_d1(fresh_db, D1_EXPORT)

    def changes(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE watchlists SET name = 'Core, renamed', updated_at = 1767225600 WHERE id = 1")
        conn.execute(
            "INSERT INTO watchlists (id, user_id, name, symbols, created_at, updated_at)"
            " VALUES (5000, '5WT00002', 'new in D1', '[\"SPY\"]', 1767225600, 1767225600)"
        )
        conn.execute("DELETE FROM alerts WHERE id = 2")

    report = import_d1(fresh_db, _edited(tmp_path, changes))
    tables = _by_table(report)
    assert tables["watchlists"].written == {"inserted": 1, "updated": 1, "unchanged": 239}
    (renamed,) = _rows(fresh_db, "SELECT name, updated_at FROM watchlists WHERE id = 1")
    assert renamed == {
        "name": "Core, renamed",
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
    }  # not the trigger's now()
    assert tables["alerts"].extra.items == ["2"]  # gone from D1, still here: the report says so
    assert report.exit_code == EXIT_MISMATCH
    # --prune deletes what D1 no longer has (in the same transaction as the table's writes), and then it verifies.
    pruned = import_d1(fresh_db, _edited(tmp_path, changes), D1Options(resume=False, prune=True))
    tables = _by_table(pruned)
    assert tables["alerts"].deleted.items == ["2"]
    assert tables["alerts"].matched
    assert sum(c.deleted.count for c in pruned.comparisons) == 1
    assert pruned.exit_code == EXIT_INCOMPLETE  # the damaged rows are still refused


def test_a_dry_run_reports_what_it_would_do_and_writes_nothing(fresh_db: D1Database) -> None:
    report = import_d1(fresh_db, D1_EXPORT, D1Options(dry_run=True))
    assert report.exit_code == 0
    assert report.dry_run
    positions = _by_table(report)["positions"]
    assert positions.written["inserted"] == 1459
    assert positions.refused.count == 1
    assert _rows(fresh_db, "SELECT count(*) AS n FROM positions")[0]["n"] == 0
    assert _rows(fresh_db, "SELECT count(*) AS n FROM audit_events")[0]["n"] == 0
    assert "dry run: nothing written" in "\n".join(report.lines())


def test_rows_no_import_wrote_are_never_overwritten_by_id_unless_asked(fresh_db: D1Database) -> None:
    fresh_db.prepare("INSERT INTO users (id) VALUES ('5WT00001')").run()
    fresh_db.prepare(
        "INSERT INTO watchlists (id, user_id, name, symbols) OVERRIDING SYSTEM VALUE"
        " VALUES (9000, '5WT00001', 'Core', '[\"ours\"]')"
    ).run()
    with pytest.raises(ImportRefused, match="users, watchlists already hold rows no import wrote"):
        import_d1(fresh_db, D1_EXPORT)
    assert _rows(fresh_db, "SELECT count(*) AS n FROM positions")[0]["n"] == 0
    report = import_d1(fresh_db, D1_EXPORT, D1Options(onto_existing=True))
    watchlists = _by_table(report)["watchlists"]
    # D1's watchlist 1 is the user's 'Core' too, under another id here: our unique (user_id, name) refuses it.
    reasons = {r.key: r.reason for r in watchlists.refused.items}
    assert "another row already holds (user_id, name) = (5WT00001,Core)" in reasons["1"]
    assert watchlists.extra.items == ["9000"]  # ours, which D1 does not have: reported
    assert report.exit_code == EXIT_MISMATCH


def test_the_mapping_covers_every_column_of_every_table_it_fills(fresh_db: D1Database) -> None:
    for table in TABLES:
        ours = {c.name for c in describe(fresh_db, table.target).columns}
        assert {c.target for c in table.columns} == ours, table.target


def test_seed_003s_job_tables_import_from_a_database_of_their_own(fresh_db: D1Database, tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(SEED_003)
    conn.execute(
        "INSERT INTO job_executions (job_type, execution_date, execution_time, status, duration_ms, symbols_processed,"
        " symbols_successful, symbols_failed, metadata, created_at) VALUES ('pre-market', '2026-01-08',"
        " '2026-01-08T12:46:00Z', 'success', 45000, 5, 5, NULL, '{\"trigger\":\"scheduled\"}', '2026-01-08 12:46:45')"
    )
    conn.execute(
        "INSERT INTO analysis_results (execution_id, symbol, sentiment, confidence, direction, signals, news_count,"
        " created_at) VALUES (1, 'AAPL', 'bullish', 0.85, 'buy', '[{\"type\":\"momentum\",\"strength\":0.8}]', 12,"
        " '2026-01-08 12:46:45')"
    )
    conn.execute(
        "INSERT INTO report_snapshots (execution_id, report_type, report_date, content, summary, created_at)"
        " VALUES (1, 'pre-market', '2026-01-08', '{\"signals\":[]}', '5 signals', '2026-01-08 12:46:45')"
    )
    dump = tmp_path / "jobs.sql"
    dump.write_text("".join(f"{s}\n" for s in export_statements(conn)), encoding="utf-8")
    report = import_d1(fresh_db, dump)
    assert report.exit_code == 0, "\n".join(report.lines())
    (run,) = _rows(fresh_db, "SELECT scheduled_time, finished_at, symbols_failed, metadata FROM job_executions")
    assert run["scheduled_time"] == datetime(2026, 1, 8, 12, 46, tzinfo=UTC)
    assert run["finished_at"] == datetime(2026, 1, 8, 12, 46, 45, tzinfo=UTC)
    assert run["symbols_failed"] == 0
    assert run["metadata"] == {"trigger": "scheduled"}
    (snapshot,) = _rows(fresh_db, "SELECT high_confidence_count, report_date FROM report_snapshots")
    assert snapshot["high_confidence_count"] == 0


def test_awkward_values_verify_equal_on_both_sides(fresh_db: D1Database, tmp_path: Path) -> None:
    """The target's digests are computed by PostgreSQL and the dump's in Python: text, JSON, numbers and times that
    print differently in each must still digest the same, or the verification would cry mismatch."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SEED_SCHEMA)
    name = 'Zoë "\\" \t\x01\x7f\u2028 🚀 O\'Brien\nline two'
    conn.execute("INSERT INTO users VALUES ('5WT1', NULL, ?, 1767225600, 1767225600.25)", (name,))
    documents = [
        '{"é": 1, "b": {"zz": [], "a": {}}, "aa": [1.50, 1e2, -0, 1E-7, 123456789012345678901234567890]}',
        '  {"dup": 1, "dup": "the last wins", "s": "tab\\there \\u00fc \\ud83d\\ude80"}  ',
        '[true, false, null, "", 0.0]',
    ]
    for n, document in enumerate(documents, start=1):
        conn.execute(
            "INSERT INTO analyses (id, user_id, symbol, type, result, created_at) VALUES (?, '5WT1', 'AAPL', 'full', ?,"
            " '2026-01-08T12:46:00.250Z')",
            (n, document),
        )
    conn.execute(
        "INSERT INTO alerts (id, user_id, symbol, alert_type, condition, threshold, status, created_at)"
        " VALUES (1, '5WT1', 'SPY', 'price', 'above', 0.1 + 0.2, 'active', 1767225600)"
    )
    dump = tmp_path / "awkward.sql"
    dump.write_text("".join(f"{s}\n" for s in export_statements(conn)), encoding="utf-8")
    report = import_d1(fresh_db, dump)
    assert report.exit_code == 0, "\n".join(report.lines())
    counts = {c.name: c.target.count for c in report.comparisons if c.target.count}
    assert counts == {"users": 1, "alerts": 1, "analyses": 3}
    assert _rows(fresh_db, "SELECT name FROM users")[0]["name"] == name
    assert _rows(fresh_db, "SELECT result FROM analyses WHERE id = 2")[0]["result"]["dup"] == "the last wins"
