"""The schema's promises, checked on the real PostgreSQL: upserts that cannot duplicate, enumerations that
cannot drift, an audit trail that cannot be rewritten, and time zones everywhere."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from local.stack import LocalStack
from ttai.bindings.d1 import D1ConstraintError, D1Database, D1Error

# The seed's upsert, made correct by the partial NULLS NOT DISTINCT index on open positions.
STOCK_COLUMNS = "(user_id, symbol, quantity, average_cost, position_type)"
UPSERT = """
INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type, option_type, strike, expiration,
                       status, opened_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', now())
ON CONFLICT (user_id, symbol, option_type, strike, expiration) WHERE status = 'open'
DO UPDATE SET quantity = EXCLUDED.quantity, average_cost = EXCLUDED.average_cost
RETURNING id
"""


@pytest.fixture
def db(stack: LocalStack) -> D1Database:
    return stack.env.DB


@pytest.fixture
def user(db: D1Database) -> Iterator[str]:
    user_id = f"u-{uuid.uuid4().hex[:10]}"
    db.prepare("INSERT INTO users (id) VALUES (?)").bind(user_id).run()
    yield user_id
    db.prepare("DELETE FROM users WHERE id = ?").bind(user_id).run()


def count(db: D1Database, sql: str, *values: object) -> int:
    value = db.prepare(sql).bind(*values).first("n")
    assert isinstance(value, int)
    return value


def test_a_resynced_stock_position_updates_instead_of_duplicating(db: D1Database, user: str) -> None:
    first = db.prepare(UPSERT).bind(user, "AAPL", 10, 150.0, "stock", None, None, None).first("id")
    again = db.prepare(UPSERT).bind(user, "AAPL", 15, 152.5, "stock", None, None, None).first("id")
    assert again == first
    row = db.prepare("SELECT quantity, average_cost FROM positions WHERE user_id = ?").bind(user).first()
    assert row is not None
    assert (row["quantity"], float(row["average_cost"])) == (15, 152.5)
    assert count(db, "SELECT count(*) AS n FROM positions WHERE user_id = ?", user) == 1


def test_a_resynced_option_position_updates_and_a_different_strike_is_another_position(
    db: D1Database, user: str
) -> None:
    option = (user, "AAPL  261218C00200000", 1, 5.2, "option", "call", 200.0, date(2026, 12, 18))
    first = db.prepare(UPSERT).bind(*option).first("id")
    assert db.prepare(UPSERT).bind(*option[:2], 2, *option[3:]).first("id") == first
    other_strike = (*option[:6], 210.0, option[7])
    assert db.prepare(UPSERT).bind(*other_strike).first("id") != first
    assert count(db, "SELECT count(*) AS n FROM positions WHERE user_id = ?", user) == 2


def test_a_plain_duplicate_open_stock_position_is_a_constraint_violation(db: D1Database, user: str) -> None:
    insert = db.prepare(f"INSERT INTO positions {STOCK_COLUMNS} VALUES (?, 'MSFT', 1, 1, 'stock')")
    insert.bind(user).run()
    with pytest.raises(D1ConstraintError) as duplicate:
        insert.bind(user).run()
    assert duplicate.value.sqlstate == "23505"


def test_a_closed_position_is_history_beside_the_reopened_one(db: D1Database, user: str) -> None:
    first = db.prepare(UPSERT).bind(user, "TSLA", 5, 200.0, "stock", None, None, None).first("id")
    db.prepare("UPDATE positions SET status = 'closed', closed_at = now() WHERE id = ?").bind(first).run()
    reopened = db.prepare(UPSERT).bind(user, "TSLA", 3, 180.0, "stock", None, None, None).first("id")
    assert reopened != first
    assert count(db, "SELECT count(*) AS n FROM positions WHERE user_id = ? AND symbol = 'TSLA'", user) == 2


@pytest.mark.parametrize(
    ("sql", "values"),
    [
        (
            "INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type, status) "
            "VALUES (?, 'X', 1, 1, 'stock', 'pending')",
            (),
        ),
        (
            f"INSERT INTO positions {STOCK_COLUMNS} VALUES (?, 'X', 1, 1, 'bond')",
            (),
        ),
        (
            "INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type, option_type) "
            "VALUES (?, 'X', 1, 1, 'option', 'call')",  # an option without strike and expiration
            (),
        ),
        (
            f"INSERT INTO positions {STOCK_COLUMNS} VALUES (?, 'X', -1, 1, 'stock')",
            (),
        ),
        ("INSERT INTO alerts (user_id, symbol, alert_type, condition) VALUES (?, 'X', 'price', 'sideways')", ()),
        ("INSERT INTO analyses (user_id, symbol, type, result) VALUES (?, 'X', 'astrology', '{}')", ()),
        ("INSERT INTO user_preferences (user_id, notification_channels) VALUES (?, '[\"pigeon\"]')", ()),
        (
            "INSERT INTO trade_journal (user_id, symbol, strategy, legs, entry_date, entry_price, exit_date) "
            "VALUES (?, 'X', 'csp', '[]', '2026-01-02', 1, '2026-01-01')",  # exit before entry, and no exit price
            (),
        ),
    ],
)
def test_values_outside_an_enumeration_or_rule_are_refused(
    db: D1Database, user: str, sql: str, values: tuple[object, ...]
) -> None:
    with pytest.raises(D1ConstraintError) as refused:
        db.prepare(sql).bind(user, *values).run()
    assert refused.value.sqlstate == "23514"  # check_violation


def test_tenant_rows_go_when_their_user_goes(db: D1Database) -> None:
    user_id = f"u-{uuid.uuid4().hex[:10]}"
    db.batch(
        [
            db.prepare("INSERT INTO users (id) VALUES (?)").bind(user_id),
            db.prepare("INSERT INTO watchlists (user_id, name, symbols) VALUES (?, 'w', '[\"AAPL\"]')").bind(user_id),
        ]
    )
    db.prepare("DELETE FROM users WHERE id = ?").bind(user_id).run()
    assert count(db, "SELECT count(*) AS n FROM watchlists WHERE user_id = ?", user_id) == 0


def test_the_audit_trail_is_append_only(db: D1Database, user: str) -> None:
    new_id = (
        db.prepare(
            "INSERT INTO audit_events (user_id, actor, action, entity, entity_id) "
            "VALUES (?1, ?1, 'position.upsert', 'position', '1') RETURNING id"
        )
        .bind(user)
        .first("id")
    )
    for sql in (
        "UPDATE audit_events SET action = 'position.delete' WHERE id = ?",
        "DELETE FROM audit_events WHERE id = ?",
    ):
        with pytest.raises(D1Error, match="append-only") as refused:
            db.prepare(sql).bind(new_id).run()
        assert refused.value.sqlstate == "42501"
    assert count(db, "SELECT count(*) AS n FROM audit_events WHERE id = ? AND action = 'position.upsert'", new_id) == 1


def test_the_audit_trail_can_only_be_redacted_not_rewritten(db: D1Database, user: str) -> None:
    new_id = (
        db.prepare(
            "INSERT INTO audit_events (user_id, actor, action, entity, entity_id, details) "
            "VALUES (?1, ?1, 'user.sign_in', 'user', ?1, '{\"ip\": \"10.0.0.1\"}') RETURNING id"
        )
        .bind(user)
        .first("id")
    )
    with db.transaction() as tx:
        tx.run(db.prepare("SELECT set_config('ttai.audit_maintenance', 'redact', true)"))
        tx.run(
            db.prepare(
                "UPDATE audit_events SET user_id = NULL, actor = NULL, details = '{}', redacted_at = now() WHERE id = ?"
            ).bind(new_id)
        )
    row = db.prepare("SELECT user_id, actor, details, action FROM audit_events WHERE id = ?").bind(new_id).first()
    assert row == {"user_id": None, "actor": None, "details": {}, "action": "user.sign_in"}

    def rewrite_while_redacting() -> None:
        with db.transaction() as tx:
            tx.run(db.prepare("SELECT set_config('ttai.audit_maintenance', 'redact', true)"))
            tx.run(db.prepare("UPDATE audit_events SET action = 'user.other' WHERE id = ?").bind(new_id))

    with pytest.raises(D1Error, match="append-only"):
        rewrite_while_redacting()


def test_every_time_column_has_a_time_zone(db: D1Database) -> None:
    naive = db.prepare(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = 'timestamp without time zone'"
    ).raw()
    assert naive == []
