"""The scheduler function as EventBridge Scheduler invokes it: the payload in, one recorded run out."""

from __future__ import annotations

from typing import Any

import pytest

from local.stack import LocalStack


def _rows(stack: LocalStack, job_type: str, scheduled_time: str) -> list[dict[str, Any]]:
    return (
        stack.env.DB.prepare("SELECT * FROM job_executions WHERE job_type = ? AND scheduled_time = ?::timestamptz")
        .bind(job_type, scheduled_time)
        .all()
        .results
    )


def test_a_schedule_payload_runs_its_job_once(stack: LocalStack) -> None:
    # A Sunday: the run records itself skipped without depending on what other tests stored.
    payload = {"job_type": "analysis", "cron": "30 9 * * MON-FRI", "scheduled_time": "2031-03-09T13:30:00Z"}

    first = stack.functions["scheduler"](payload)
    second = stack.functions["scheduler"](payload)

    assert first["status"] == "skipped"
    assert first["ran"] is True
    assert second["id"] == first["id"]
    assert second["ran"] is False
    assert len(_rows(stack, "analysis", payload["scheduled_time"])) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"job_type": "lunch", "cron": "0 12 * * MON-FRI", "scheduled_time": "2031-03-10T16:00:00Z"}, "job_type"),
        (
            {"job_type": "analysis", "cron": "30 9 * * MON-FRI", "scheduled_time": "2031-03-10T13:30:00"},
            "scheduled_time",
        ),
        ({"job_type": "analysis", "scheduled_time": "2031-03-10T13:31:00Z"}, "cron"),
        ({"job_type": "analysis", "cron": "30 9 * * MON-FRI", "scheduled_time": "soon"}, "scheduled_time"),
        (
            {"job_type": "analysis", "cron": "30 9 * * MON-FRI", "scheduled_time": "2031-03-10T13:32:00Z", "x": 1},
            "x",
        ),
    ],
)
def test_a_bad_payload_is_rejected_and_writes_nothing(stack: LocalStack, payload: dict[str, Any], field: str) -> None:
    result = stack.functions["scheduler"](payload)

    assert result["status"] == "rejected"
    assert field in [e["field"] for e in result["errors"]]
    if isinstance(payload.get("scheduled_time"), str) and payload["scheduled_time"].endswith("Z"):
        assert _rows(stack, str(payload["job_type"]), payload["scheduled_time"]) == []
