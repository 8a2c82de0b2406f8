"""BackupWorkflow on the SDK's local runner against a database of its own: a table's file in parts of a step each,
all in one snapshot kept across steps, a lost snapshot started again, the run recorded once; its backups restore."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from local.workflows import LocalWorkflows, VirtualClock
from tests.integration.jobs_fixtures import JobWorld, new_world
from ttai.bindings.d1 import D1Database
from ttai.bindings.r2 import R2ObjectBody
from ttai.bindings.workflows.backend import BucketBlobs
from ttai.services import backups
from ttai.services.tables import discover, row_texts
from ttai.workflows.backup import BackupWorkflow


@pytest.fixture
def world(stack: LocalStack) -> JobWorld:
    return new_world(stack)


@pytest.fixture
def workflows(stack: LocalStack, world: JobWorld, tmp_path: Path) -> Iterator[LocalWorkflows]:
    with LocalWorkflows(
        tmp_path, clock=VirtualClock(skip=True), env=world.env, blobs=BucketBlobs(stack.env.R2)
    ) as local:
        local.register("BACKUP_WORKFLOW", BackupWorkflow)
        yield local


@pytest.fixture
def parts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Each part written, as (table, the key it started after)."""
    written: list[tuple[str, Any]] = []
    real = backups.BackupWriter.write_part

    def write_part(self: backups.BackupWriter, prefix: str, table: dict[str, Any], *args: Any) -> Any:
        written.append((table["table"], args[1]))
        return real(self, prefix, table, *args)

    monkeypatch.setattr(backups.BackupWriter, "write_part", write_part)
    return written


def _scheduled() -> datetime:
    return datetime(2031, 1, 5, 8, 0, tzinfo=UTC).replace(second=uuid.uuid4().int % 60, minute=uuid.uuid4().int % 60)


def _dump(db: D1Database) -> dict[str, list[str]]:
    return {t.name: list(row_texts(db, t)) for t in discover(db) if t.name != "schema_migrations"}


def _restored(stack: LocalStack, prefix: str) -> D1Database:
    target = stack.create_database(f"restored_{uuid.uuid4().hex[:8]}")
    backups.restore(target, stack.env.R2, prefix)
    return target


def _seed(world: JobWorld, noisy_rows: int = 0) -> str:
    """A user with a watchlist, an alert and its event; ``noisy_rows`` journal rows of 2 KB that gzip cannot
    shrink much (hex digests), so a few thousand make a file of several parts."""
    user = world.user("keeper")
    world.watch(user, "AAPL", "MSFT")
    alert = world.sql(
        "INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold) VALUES (?, 'SPY', 'price', 'above',"
        " 500) RETURNING id",
        user,
    )[0]["id"]
    world.sql(
        "INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message) VALUES (?, ?, 'SPY', 'price', 'x')",
        user,
        alert,
    )
    if noisy_rows:
        world.sql(
            "INSERT INTO trade_journal (user_id, symbol, strategy, legs, entry_date, entry_price, notes)"
            " SELECT ?1, 'NOISE', 'csp', '[]'::jsonb, DATE '2026-01-01', 1,"
            " (SELECT string_agg(md5(g::text || ':' || k::text), '') FROM generate_series(1, 62) AS k)"
            " FROM generate_series(1, ?2::int) AS g",
            user,
            noisy_rows,
        )
    return user


@pytest.mark.slow
def test_a_backup_in_steps_writes_a_big_table_in_parts_records_the_run_and_restores(
    stack: LocalStack, world: JobWorld, workflows: LocalWorkflows, parts: list[tuple[str, Any]]
) -> None:
    _seed(world, noisy_rows=6_000)
    scheduled = _scheduled()
    before = _dump(world.db)

    instance = workflows.binding("BACKUP_WORKFLOW").create(params={"scheduled_time": scheduled.isoformat()})
    status = workflows.wait_for(instance, "complete", "errored", timeout=120)

    assert status["status"] == "complete", status
    output = status["output"]
    prefix = backups.backup_prefix(scheduled)
    assert output["prefix"] == prefix
    manifest = backups.read_manifest(stack.env.R2, prefix)
    assert manifest["format"] == "ttai-backup/2"
    entries = {entry["table"]: entry for entry in manifest["tables"]}
    journal = entries["trade_journal"]
    assert journal["rows"] == 6_000
    assert len(journal["parts"]) >= 2
    assert sum(p["rows"] for p in journal["parts"]) == 6_000
    starts = [after for table, after in parts if table == "trade_journal"]
    assert len(starts) == len(journal["parts"])  # one step a part, none repeated
    assert starts[0] is None  # the first part starts at the table's first row, each later one past the last's
    assert [key for (key,) in starts[1:]] == sorted({key for (key,) in starts[1:]})
    stored = stack.env.R2.get(prefix + journal["file"])
    assert isinstance(stored, R2ObjectBody)
    assert stored.size == journal["bytes"] > backups.PART_BYTES
    lines = gzip.decompress(stored.bytes()).splitlines()  # the parts' gzip members read as one stream
    assert len(lines) == 6_000

    run = world.sql("SELECT * FROM job_executions WHERE job_type = 'backup' AND scheduled_time = ?", scheduled)[0]
    assert (run["status"], run["symbols_processed"], run["symbols_successful"]) == ("success", *[len(entries)] * 2)
    assert run["metadata"]["workflow_id"] == instance.id
    assert run["metadata"]["parts"] == output["parts"] == sum(len(e["parts"]) for e in manifest["tables"])
    assert output["execution_id"] == run["id"]

    restored = _dump(_restored(stack, prefix))
    # The run's own row was claimed before the snapshot, so the backup holds it as running.
    assert [json.loads(row)["status"] for row in restored.pop("job_executions")] == ["running"]
    assert restored == {table: rows for table, rows in before.items() if table != "job_executions"}


def test_rows_written_during_the_backup_are_not_in_it_and_a_lost_snapshot_starts_again(
    stack: LocalStack, world: JobWorld, workflows: LocalWorkflows, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _seed(world)
    before = _dump(world.db)
    snapshots: Counter[str] = Counter()
    real = backups.BackupWriter.write_part

    def meddling(self: backups.BackupWriter, prefix: str, table: dict[str, Any], snapshot: str, *args: Any) -> Any:
        snapshots[snapshot] += 0
        if table["table"] == "alert_events" and len(snapshots) == 1:
            world.db.resume_transaction(snapshot).rollback()  # the Data API dropped the first snapshot
        if table["table"] == "alert_events" and len(snapshots) == 2 and not snapshots[snapshot]:
            snapshots[snapshot] += 1  # alerts are written: a new alert and its event now would be orphans
            alert = world.sql(
                "INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold) VALUES (?, 'QQQ', 'price',"
                " 'below', 1) RETURNING id",
                user,
            )[0]["id"]
            world.sql(
                "INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message)"
                " VALUES (?, ?, 'QQQ', 'price', 'late')",
                user,
                alert,
            )
        return real(self, prefix, table, snapshot, *args)

    monkeypatch.setattr(backups.BackupWriter, "write_part", meddling)
    scheduled = _scheduled()

    instance = workflows.binding("BACKUP_WORKFLOW").create(params={"scheduled_time": scheduled.isoformat()})
    status = workflows.wait_for(instance, "complete", "errored", timeout=60)

    assert status["status"] == "complete", status
    assert len(snapshots) == 2  # the first was lost; the tables were written again in a second
    restored = _dump(_restored(stack, backups.backup_prefix(scheduled)))
    restored.pop("job_executions")
    assert restored == {t: rows for t, rows in before.items() if t != "job_executions"}  # no late alert or event
    assert len(world.sql("SELECT id FROM alert_events")) == 2


def test_a_scheduled_time_already_claimed_is_not_backed_up_twice(world: JobWorld, workflows: LocalWorkflows) -> None:
    scheduled = _scheduled().isoformat()
    binding = workflows.binding("BACKUP_WORKFLOW")
    first = binding.create(params={"scheduled_time": scheduled})
    assert workflows.wait_for(first, "complete", "errored")["status"] == "complete"

    second = binding.create(params={"scheduled_time": scheduled, "trigger": "manual"})
    output = workflows.wait_for(second, "complete", "errored")["output"]

    assert output["ran"] is False
    assert output["status"] == "success"
    assert len(world.sql("SELECT id FROM job_executions WHERE job_type = 'backup'")) == 1


def test_a_backup_in_the_first_format_still_restores(stack: LocalStack, world: JobWorld) -> None:
    _seed(world)
    scheduled = _scheduled()
    backups.write_backup(world.db, stack.env.R2, scheduled)
    prefix = backups.backup_prefix(scheduled)
    manifest = backups.read_manifest(stack.env.R2, prefix)
    for entry in manifest["tables"]:
        (part,) = entry.pop("parts")  # small tables: one part each, whose digest is the whole file's
        entry["sha256"] = part["sha256"]
    stack.env.R2.put(prefix + backups.MANIFEST, json.dumps({**manifest, "format": "ttai-backup/1"}))

    assert _dump(_restored(stack, prefix)) == _dump(world.db)


def test_parts_are_checked_one_by_one_an_empty_last_one_included(stack: LocalStack, world: JobWorld) -> None:
    """A file whose last part was empty (the table ended where a part filled up) restores; one whose manifest
    says that last part held a row is refused."""
    _seed(world)
    scheduled = _scheduled()
    backups.write_backup(world.db, stack.env.R2, scheduled)
    prefix = backups.backup_prefix(scheduled)
    manifest = backups.read_manifest(stack.env.R2, prefix)
    entry = next(e for e in manifest["tables"] if e["table"] == "watchlists")
    stored = stack.env.R2.get(prefix + entry["file"])
    assert isinstance(stored, R2ObjectBody)
    (line,) = gzip.decompress(stored.bytes()).splitlines(keepends=True)
    stack.env.R2.put(prefix + entry["file"], gzip.compress(line) + gzip.compress(b""))
    entry["parts"].append({"rows": 0, "sha256": hashlib.sha256(b"").hexdigest()})
    stack.env.R2.put(prefix + backups.MANIFEST, json.dumps(manifest))

    assert _dump(_restored(stack, prefix)) == _dump(world.db)

    entry["parts"][-1] = {"rows": 1, "sha256": hashlib.sha256(line).hexdigest()}
    stack.env.R2.put(prefix + backups.MANIFEST, json.dumps(manifest))
    with pytest.raises(backups.BackupError, match="damaged"):
        _restored(stack, prefix)
