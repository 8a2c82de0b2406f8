"""Migrations through the Data API: a fresh database gets the schema, a re-run changes nothing, a failure changes
nothing either, and history edited after the fact is refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.d1 import D1Database
from ttai.migrations import Migration, MigrationError, apply, discover

SCHEMA_TABLES = {
    "users",
    "sessions",
    "user_oauth_tokens",
    "user_preferences",
    "positions",
    "analyses",
    "screeners",
    "screener_results",
    "alerts",
    "alert_events",
    "watchlists",
    "trade_journal",
    "job_executions",
    "analysis_results",
    "report_snapshots",
    "audit_events",
    "bars",
    "vector_indexes",
    "vectors",
    "vector_metadata_indexes",
    "workflow_runs",
    "outbox",
    "schema_migrations",
}


@pytest.fixture
def fresh_db(stack: LocalStack) -> D1Database:
    return stack.create_database(f"m_{uuid.uuid4().hex[:12]}")


def tables(db: D1Database) -> set[str]:
    rows = db.prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").raw()
    return {row[0] for row in rows}


def test_a_fresh_database_gets_every_table_and_a_rerun_is_a_no_op(fresh_db: D1Database, stack: LocalStack) -> None:
    first = apply(fresh_db)
    assert first.applied == [m.version for m in discover()]
    assert tables(fresh_db) == SCHEMA_TABLES
    with CallCounter(stack.env.client("rds-data")) as calls:
        again = apply(fresh_db)
    assert again.applied == []
    assert again.already_applied == first.applied
    assert tables(fresh_db) == SCHEMA_TABLES
    # Bookkeeping only: the table check, then per migration a transaction with its lock and one read.
    assert "BatchExecuteStatement" not in calls.by_operation()


def test_a_failing_migration_leaves_the_schema_as_it_was(fresh_db: D1Database) -> None:
    good = Migration(1, "create_a", "CREATE TABLE a (x int); INSERT INTO a VALUES (1);")
    bad = Migration(2, "half_done", "CREATE TABLE b (x int); ALTER TABLE a ADD COLUMN y int; SELECT 1 / 0;")
    with pytest.raises(MigrationError, match="0002_half_done failed") as failure:
        apply(fresh_db, [good, bad])
    assert "division by zero" in str(failure.value)
    assert tables(fresh_db) == {"a", "schema_migrations"}  # no table b
    columns = fresh_db.prepare("SELECT column_name FROM information_schema.columns WHERE table_name = 'a'").raw()
    assert columns == [["x"]]  # no column y
    assert fresh_db.prepare("SELECT version FROM schema_migrations").raw() == [[1]]
    fixed = Migration(2, "half_done", "CREATE TABLE b (x int);")
    assert apply(fresh_db, [good, fixed]).applied == [2]


def test_a_migration_changed_after_it_was_applied_is_refused(fresh_db: D1Database) -> None:
    apply(fresh_db, [Migration(1, "one", "CREATE TABLE one (x int);")])
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply(fresh_db, [Migration(1, "one", "CREATE TABLE one (x bigint);")])


def test_migration_files_are_numbered_and_ship_with_the_layer() -> None:
    migrations = discover()
    assert migrations
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})
    assert all(m.sql.strip() for m in migrations)


def test_the_stack_applied_the_migrations_at_start(stack: LocalStack, db_tables: Callable[[], set[str]]) -> None:
    assert stack.migrations is not None
    assert stack.migrations.current == max(m.version for m in discover())
    assert db_tables() >= SCHEMA_TABLES


@pytest.fixture
def db_tables(stack: LocalStack) -> Callable[[], set[str]]:
    return lambda: tables(stack.env.DB)
