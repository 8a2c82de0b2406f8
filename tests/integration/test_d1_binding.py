"""D1's API on the embedded PostgreSQL, through the local Data API endpoint: the production client, unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.d1 import (
    D1BindError,
    D1ConstraintError,
    D1Database,
    D1QueryError,
    D1ResponseTooLarge,
    D1Unavailable,
)


@pytest.fixture
def db(stack: LocalStack) -> D1Database:
    return stack.env.DB


@pytest.fixture
def rds_calls(stack: LocalStack) -> Iterator[CallCounter]:
    with CallCounter(stack.env.client("rds-data")) as counter:
        yield counter


@pytest.fixture
def table(db: D1Database) -> Iterator[str]:
    """A fresh table per test: id, a unique name and a free-form note."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    db.exec(f"CREATE TABLE {name} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text UNIQUE, note text)")
    yield name
    db.exec(f"DROP TABLE {name}")


def test_prepare_bind_run_all_first_and_raw(db: D1Database, table: str) -> None:
    inserted = db.prepare(f"INSERT INTO {table} (name, note) VALUES (?, ?) RETURNING id").bind("a", "first").run()
    assert inserted.success is True
    assert inserted.meta.changes == 1
    assert inserted.meta.rows_written == 1
    assert inserted.meta.changed_db is True
    assert inserted.meta.last_row_id == inserted.results[0]["id"]
    assert inserted.meta.duration > 0
    db.prepare(f"INSERT INTO {table} (name, note) VALUES (?, ?)").bind("b", None).run()

    everything = db.prepare(f"SELECT name, note FROM {table} ORDER BY name").all()
    assert everything.results == [{"name": "a", "note": "first"}, {"name": "b", "note": None}]
    assert everything.meta.rows_read == 2
    assert everything.meta.changes == 0
    assert everything.meta.changed_db is False

    query = db.prepare(f"SELECT name, note FROM {table} WHERE name = ?")
    assert query.bind("a").first() == {"name": "a", "note": "first"}
    assert query.bind("a").first("note") == "first"
    assert query.bind("zzz").first() is None
    with pytest.raises(D1QueryError, match="D1_COLUMN_NOTFOUND"):
        query.bind("a").first("missing")

    raw = db.prepare(f"SELECT name, note FROM {table} ORDER BY name").raw()
    assert raw == [["a", "first"], ["b", None]]
    assert db.prepare(f"SELECT name FROM {table} ORDER BY name").raw(column_names=True) == [["name"], ["a"], ["b"]]


def test_numbered_and_anonymous_placeholders_follow_sqlite(db: D1Database) -> None:
    row = db.prepare("SELECT ?2::text AS b, ?::text AS c, ?1::text AS a").bind("A", "B", "C").first()
    assert row == {"b": "B", "c": "C", "a": "A"}


def test_a_wrong_number_of_bindings_is_refused_before_any_call(db: D1Database, rds_calls: CallCounter) -> None:
    statement = db.prepare("SELECT ?, ?")
    with pytest.raises(D1BindError, match="wrong number of parameter bindings"):
        statement.bind(1)
    with pytest.raises(D1BindError, match="wrong number"):
        statement.all()  # never bound
    assert rds_calls.total == 0


NEW_YORK = timezone(timedelta(hours=-4))

ROUND_TRIPS: list[tuple[str, Any, Any]] = [
    ("text", "héllo ' \" ; -- ∑", "héllo ' \" ; -- ∑"),
    ("bigint", 2**62, 2**62),
    ("integer", -7, -7),
    ("double precision", 0.1, 0.1),
    ("boolean", True, True),
    ("numeric(20, 6)", Decimal("12345678.123456"), Decimal("12345678.123456")),
    ("jsonb", {"a": [1, 2.5, None, "x"], "b": {"c": True}}, {"a": [1, 2.5, None, "x"], "b": {"c": True}}),
    ("jsonb", ["x", 1], ["x", 1]),
    (
        "timestamptz",
        datetime(2026, 3, 8, 9, 30, 15, 123456, tzinfo=NEW_YORK),
        datetime(2026, 3, 8, 13, 30, 15, 123456, tzinfo=UTC),
    ),
    ("date", date(2026, 2, 28), date(2026, 2, 28)),
    ("time", time(9, 30, 0, 500), time(9, 30, 0, 500)),
    (
        "uuid",
        uuid.UUID("0e5d2c1a-9a57-4c4b-8a4b-2f1d6c3e9b10"),
        uuid.UUID("0e5d2c1a-9a57-4c4b-8a4b-2f1d6c3e9b10"),
    ),
    ("bytea", b"\x00\x01\xfe\xff binary", b"\x00\x01\xfe\xff binary"),
    ("text", None, None),
]


@pytest.mark.parametrize(("column_type", "value", "expected"), ROUND_TRIPS)
def test_every_parameter_type_round_trips(db: D1Database, column_type: str, value: Any, expected: Any) -> None:
    name = f"rt_{uuid.uuid4().hex[:10]}"
    db.exec(f"CREATE TABLE {name} (v {column_type})")
    try:
        db.prepare(f"INSERT INTO {name} (v) VALUES (?)").bind(value).run()
        assert db.prepare(f"SELECT v FROM {name}").first("v") == expected
        assert (
            db.prepare(f"SELECT count(*) AS n FROM {name} WHERE v IS NOT DISTINCT FROM CAST(? AS {column_type})")
            .bind(value)
            .first("n")
            == 1
        )
    finally:
        db.exec(f"DROP TABLE {name}")


def test_dates_and_times_python_cannot_hold_read_back_as_the_data_apis_text(db: D1Database) -> None:
    row = db.prepare(
        """SELECT 'infinity'::timestamptz AS a, '-infinity'::date AS b, '10000-01-01 13:59:59+00'::timestamptz AS c,
            '0044-03-15 BC'::date AS d, '24:00:00'::time AS e, '9999-12-31 23:59:59+00'::timestamptz AS f,
            ARRAY['2026-03-08'::date, 'infinity'] AS g"""
    ).first()

    assert row == {
        "a": "infinity",
        "b": "-infinity",
        "c": "+10000-01-01 13:59:59",
        "d": "-0043-03-13",
        "e": "24:00:00",
        "f": datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        "g": [date(2026, 3, 8), "infinity"],
    }


def test_an_instant_that_leaves_pythons_years_in_utc_is_refused_before_any_call(
    db: D1Database, rds_calls: CallCounter
) -> None:
    with pytest.raises(D1BindError, match="outside the years 1-9999 once in UTC"):
        db.prepare("SELECT ?::timestamptz").bind(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))

    assert rds_calls.total == 0


def test_arrays_come_back_as_lists(db: D1Database) -> None:
    row = db.prepare("SELECT ARRAY['a', 'b'] AS letters, ARRAY[1, 2, 3] AS numbers").first()
    assert row == {"letters": ["a", "b"], "numbers": [1, 2, 3]}


@pytest.mark.parametrize(
    "attack",
    ["x'); DROP TABLE {table}; --", "' OR '1'='1", "?; DELETE FROM {table}", "$$; DROP TABLE {table}; $$", "\\'; --"],
)
def test_injection_attempts_stay_data(db: D1Database, table: str, attack: str) -> None:
    text = attack.format(table=table)
    db.prepare(f"INSERT INTO {table} (name, note) VALUES (?, 'marker')").bind(text).run()
    assert db.prepare(f"SELECT name FROM {table} WHERE note = 'marker'").first("name") == text
    assert db.prepare(f"SELECT count(*) AS n FROM {table}").first("n") == 1


def test_a_batch_is_one_transaction_and_rolls_back_on_failure(db: D1Database, table: str) -> None:
    insert = db.prepare(f"INSERT INTO {table} (name) VALUES (?)")
    count = db.prepare(f"SELECT count(*) AS n FROM {table}")
    with pytest.raises(D1ConstraintError) as failure:
        db.batch([insert.bind("one"), count, insert.bind("one")])  # the second insert breaks the unique name
    assert failure.value.sqlstate == "23505"
    assert "duplicate key" in str(failure.value)
    assert count.first("n") == 0  # the first insert was rolled back with it


def test_a_batch_of_different_statements_is_begin_n_statements_commit(
    db: D1Database, table: str, stack: LocalStack
) -> None:
    insert = db.prepare(f"INSERT INTO {table} (name) VALUES (?) RETURNING id")
    with CallCounter(stack.env.client("rds-data")) as calls:
        results = db.batch([insert.bind("x"), db.prepare(f"SELECT name FROM {table}"), insert.bind("y")])
    assert calls.by_operation() == {"BeginTransaction": 1, "ExecuteStatement": 3, "CommitTransaction": 1}
    assert results[1].results == [{"name": "x"}]  # later statements see earlier ones
    assert results[2].meta.last_row_id == results[0].meta.last_row_id + 1  # type: ignore[operator]


def test_a_batch_repeating_one_sql_is_one_batch_execute_statement(
    db: D1Database, table: str, stack: LocalStack
) -> None:
    insert = db.prepare(f"INSERT INTO {table} (name) VALUES (?)")
    with CallCounter(stack.env.client("rds-data")) as calls:
        results = db.batch([insert.bind(f"n{i}") for i in range(50)])
    assert calls.by_operation() == {"BatchExecuteStatement": 1}
    assert len(results) == 50
    assert db.prepare(f"SELECT count(*) AS n FROM {table}").first("n") == 50


def test_a_repeated_sql_batch_is_atomic_too(db: D1Database, table: str) -> None:
    insert = db.prepare(f"INSERT INTO {table} (name) VALUES (?)")
    with pytest.raises(D1ConstraintError):
        db.batch([insert.bind("same"), insert.bind("other"), insert.bind("same")])
    assert db.prepare(f"SELECT count(*) AS n FROM {table}").first("n") == 0


def test_one_statement_outside_a_batch_is_one_execute_statement(
    db: D1Database, table: str, rds_calls: CallCounter
) -> None:
    db.prepare(f"SELECT * FROM {table}").all()
    db.prepare(f"INSERT INTO {table} (name) VALUES (?)").bind("z").run()
    assert rds_calls.by_operation() == {"ExecuteStatement": 2}


def test_a_transaction_commits_on_success_and_rolls_back_on_error(db: D1Database, table: str) -> None:
    insert = db.prepare(f"INSERT INTO {table} (name) VALUES (?) RETURNING id")
    with db.transaction() as tx:
        new_id = tx.first(insert.bind("kept"), "id")
        tx.run(db.prepare(f"UPDATE {table} SET note = 'seen' WHERE id = ?").bind(new_id))

    def abandon() -> None:
        with db.transaction() as tx:
            tx.run(insert.bind("dropped"))
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError, match="abandon"):
        abandon()
    assert db.prepare(f"SELECT name, note FROM {table}").all().results == [{"name": "kept", "note": "seen"}]


def test_errors_carry_postgresql_message_and_sqlstate(db: D1Database) -> None:
    with pytest.raises(D1QueryError) as missing:
        db.prepare("SELECT * FROM no_such_table").all()
    assert missing.value.sqlstate == "42P01"
    assert "no_such_table" in str(missing.value)
    with pytest.raises(D1QueryError) as syntax:
        db.prepare("SELEC 1").all()
    assert syntax.value.sqlstate == "42601"


def test_a_result_over_one_mebibyte_says_to_paginate(db: D1Database) -> None:
    with pytest.raises(D1ResponseTooLarge, match="paginate"):
        db.prepare("SELECT repeat('x', 1100000) AS big").all()


def test_a_resuming_database_is_retried_with_backoff(stack: LocalStack) -> None:
    assert stack.data_api is not None
    patient = D1Database(
        stack.environ["TTAI_DB_CLUSTER_ARN"],
        stack.environ["TTAI_DB_SECRET_ARN"],
        stack.environ["TTAI_DB_NAME"],
        client=stack.env.client("rds-data"),
        resume_delays=(0.01, 0.01, 0.01),
    )
    stack.data_api.pause(2)
    assert patient.prepare("SELECT 1 AS one").first("one") == 1
    stack.data_api.pause(10)
    with pytest.raises(D1Unavailable, match="resuming"):
        patient.prepare("SELECT 1 AS one").first("one")
    stack.data_api.pause(0)


def test_exec_runs_a_script_of_statements(db: D1Database) -> None:
    name = f"s_{uuid.uuid4().hex[:10]}"
    result = db.exec(f"CREATE TABLE {name} (x int); INSERT INTO {name} VALUES (1); INSERT INTO {name} VALUES (2);")
    assert result.count == 3
    assert db.prepare(f"SELECT sum(x) AS s FROM {name}").first("s") == 3
    db.exec(f"DROP TABLE {name}")


def test_env_db_is_wired_from_the_stack_variables(stack: LocalStack, db: D1Database) -> None:
    assert db.resource_arn == stack.environ["TTAI_DB_CLUSTER_ARN"]
    assert db.database == stack.environ["TTAI_DB_NAME"]
    assert db.prepare("SELECT max(version) AS v FROM schema_migrations").first("v") >= 1
