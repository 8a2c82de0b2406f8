"""The nightly backup as the scheduler starts it: one backup workflow per scheduled time, every table written under
backups/ in steps, the run recorded once."""

from __future__ import annotations

import json

from local.stack import LocalStack
from ttai.bindings.r2 import R2ObjectBody


def test_the_backup_schedule_writes_every_table_and_records_the_run_once(stack: LocalStack, alice: str) -> None:
    # A Sunday, 03:00 in New York: a backup runs every day, market or not.
    payload = {"job_type": "backup", "cron": "0 3 * * *", "scheduled_time": "2031-03-09T07:00:00Z"}

    first = stack.functions["scheduler"](payload)
    second = stack.functions["scheduler"](payload)

    assert first == {"job_type": "backup", "workflow_id": "backup-2031-03-09T07-00-00Z", "started": True}
    assert second == {**first, "started": False}  # a duplicate delivery starts nothing
    assert stack.workflows is not None
    run = stack.workflows.binding("backup").get(first["workflow_id"])
    assert stack.workflows.wait_for(run, "complete", "errored", timeout=60)["status"] == "complete"
    row = (
        stack.env.DB.prepare("SELECT * FROM job_executions WHERE job_type = ? AND scheduled_time = ?::timestamptz")
        .bind("backup", payload["scheduled_time"])
        .first()
    )
    assert row is not None
    assert (row["status"], row["metadata"]["workflow_id"]) == ("success", first["workflow_id"])
    tables = [
        r["table_name"]
        for r in stack.env.DB.prepare(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        .all()
        .results
    ]
    assert row["symbols_processed"] == row["symbols_successful"] == len(tables)
    assert row["metadata"]["prefix"] == "backups/2031-03-09T07-00-00Z/"
    manifest = stack.env.R2.get("backups/2031-03-09T07-00-00Z/manifest.json")
    assert isinstance(manifest, R2ObjectBody)
    written = {entry["table"] for entry in json.loads(manifest.text())["tables"]}
    assert written == set(tables)


def test_a_backup_cannot_be_asked_for_through_the_api(stack: LocalStack) -> None:
    admin = stack.token_for("backup-admin", scopes=("admin",))

    status, _, body = stack.http("POST", "/api/v1/jobs/backup/run", token=admin)

    assert status == 422
    assert body["error"]["fields"][0]["field"] == "path.job_type"
