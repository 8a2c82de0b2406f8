"""Backups: every table to backups/<time>/ and back into an empty database, row for row."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime

import pytest

from local.stack import LocalStack
from ttai.bindings.d1 import D1Database
from ttai.bindings.r2 import R2ObjectBody
from ttai.migrations import discover as discover_migrations
from ttai.services.backups import BackupError, backup_prefix, read_manifest, restore, run_backup
from ttai.services.tables import discover, row_texts

BIG_HTML = "<p>" + "é" * 50_000 + "</p>"  # over the Data API's 64 KB row limit once UTF-8


def _seed(stack: LocalStack) -> str:
    """One user with a row in every kind of table, and a job whose report is too big for one Data API row."""
    user = f"backup-{uuid.uuid4().hex[:8]}"
    stack.token_for(user)  # users + sessions (+ its KV record)
    db = stack.env.DB
    db.batch(
        [
            db.prepare("UPDATE users SET email = ?2, name = ?3 WHERE id = ?1").bind(user, f"{user}@example.com", "Zoë"),
            db.prepare("INSERT INTO user_preferences (user_id, notification_channels) VALUES (?1, ?2::jsonb)").bind(
                user, ["email"]
            ),
            db.prepare(
                "INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type, option_type, strike,"
                " expiration) VALUES (?1, 'AAPL', 2, 1.234567, 'option', 'put', 180.5, '2026-12-18')"
            ).bind(user),
            db.prepare(
                "INSERT INTO trade_journal (user_id, symbol, strategy, legs, entry_date, entry_price)"
                " VALUES (?1, 'MSFT', 'csp', '[{\"k\": 1}]'::jsonb, '2026-11-02', 3.5)"
            ).bind(user),
            db.prepare(
                "INSERT INTO audit_events (user_id, actor, action, entity, details) VALUES (?1, ?1, 'test.seed',"
                " 'backup', '{\"a\": [1, 2.50]}'::jsonb)"
            ).bind(user),
        ]
    )
    alert = (
        db.prepare(
            "INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold) VALUES (?1, 'SPY', 'price',"
            " 'above', 500) RETURNING id"
        )
        .bind(user)
        .first("id")
    )
    db.prepare(
        "INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message) VALUES (?1, ?2, 'SPY', 'price', 'x')"
    ).bind(user, alert).run()
    execution = (
        db.prepare(
            "INSERT INTO job_executions (job_type, scheduled_time, execution_date, status) VALUES ('weekly', ?1,"
            " '2026-11-20', 'success') RETURNING id"
        )
        .bind(datetime(2020, 1, 3, 22, tzinfo=UTC).replace(microsecond=uuid.uuid4().int % 1_000_000))
        .first("id")
    )
    db.prepare(
        "INSERT INTO report_snapshots (execution_id, report_type, report_date, content, html_snapshot)"
        " VALUES (?1, 'weekly', '2026-11-20', '{}'::jsonb, ?2)"
    ).bind(execution, BIG_HTML).run()
    return user


def _without(row: str, field: str) -> dict[str, object]:
    return {k: v for k, v in json.loads(row).items() if k != field}


def _dump(db: D1Database) -> dict[str, list[str]]:
    return {t.name: list(row_texts(db, t)) for t in discover(db)}


def test_backup_then_restore_round_trips_every_table(stack: LocalStack) -> None:
    _seed(stack)
    scheduled = datetime(2026, 11, 22, 7, 0, tzinfo=UTC).replace(second=uuid.uuid4().int % 60)
    result = run_backup(stack.env, scheduled)
    before = _dump(stack.env.DB)

    prefix = backup_prefix(scheduled)
    assert result["prefix"] == prefix
    manifest = read_manifest(stack.env.R2, prefix)
    assert manifest["schema_version"] == discover_migrations()[-1].version
    names = [t["table"] for t in manifest["tables"]]
    assert set(names) == set(before)  # every table, found from the catalog
    assert names.index("users") < names.index("positions") < names.index("trade_journal")
    assert names.index("alerts") < names.index("alert_events")
    assert names.index("job_executions") < names.index("report_snapshots")
    assert {t["table"]: t["rows"] for t in manifest["tables"]} == {k: len(v) for k, v in before.items()}
    assert result["rows"] == sum(len(v) for v in before.values())
    journal = stack.env.R2.get(prefix + next(t["file"] for t in manifest["tables"] if t["table"] == "trade_journal"))
    assert isinstance(journal, R2ObjectBody)
    lines = gzip.decompress(journal.bytes()).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == sorted(json.loads(line)["id"] for line in lines)

    target = stack.create_database(f"restored_{uuid.uuid4().hex[:8]}")
    report = restore(target, stack.env.R2, prefix)
    assert report.rows == result["rows"] - len(before["schema_migrations"])  # the migrations refill that one
    after = _dump(target)
    assert after.keys() == before.keys()
    for table, rows in before.items():
        if table == "schema_migrations":  # the restore applied them again: same versions, a new applied_at
            assert [_without(r, "applied_at") for r in after[table]] == [_without(r, "applied_at") for r in rows]
            continue
        assert after[table] == rows, f"{table} differs after the restore"
    assert any(BIG_HTML in row for row in after["report_snapshots"])

    # Identity sequences were moved past the restored ids, and the audit trail still refuses changes.
    top = target.prepare("SELECT max(id) AS m FROM positions").first("m")
    user = target.prepare("SELECT user_id FROM positions ORDER BY id LIMIT 1").first("user_id")
    fresh = (
        target.prepare(
            "INSERT INTO positions (user_id, symbol, quantity, average_cost, position_type) VALUES (?1, 'T', 1, 1,"
            " 'stock') RETURNING id"
        )
        .bind(user)
        .first("id")
    )
    assert fresh > top
    with pytest.raises(Exception, match="append-only"):
        target.prepare("DELETE FROM audit_events").run()

    with pytest.raises(BackupError, match="not empty"):
        restore(target, stack.env.R2, prefix)


def test_restore_refuses_what_is_not_a_finished_backup(stack: LocalStack) -> None:
    target = stack.create_database(f"refused_{uuid.uuid4().hex[:8]}")
    with pytest.raises(BackupError, match="manifest"):
        restore(target, stack.env.R2, f"backups/{uuid.uuid4().hex}/")
    assert discover(target) == []  # nothing was applied


def test_restore_refuses_a_damaged_file(stack: LocalStack) -> None:
    scheduled = datetime(2026, 11, 23, 7, 0, tzinfo=UTC).replace(second=uuid.uuid4().int % 60)
    prefix = backup_prefix(scheduled)
    run_backup(stack.env, scheduled)
    manifest = read_manifest(stack.env.R2, prefix)
    entry = next(t for t in manifest["tables"] if t["table"] == "users")
    stack.env.R2.put(prefix + entry["file"], gzip.compress(b'{"id": "intruder"}\n'))
    target = stack.create_database(f"damaged_{uuid.uuid4().hex[:8]}")
    with pytest.raises(BackupError, match="damaged"):
        restore(target, stack.env.R2, prefix)
    assert discover(target) == []  # refused before anything was written
