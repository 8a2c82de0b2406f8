"""The read side of seed 003's job storage: history, the latest run, one run with what it wrote; and asking for a run.

``ttai.jobs`` writes job_executions, analysis_results and report_snapshots; this module only reads them. Job results
are market-wide, not tenant data: every signed-in user reads the same history. The history is newest market date
first (ties by id, newest first), paged by keyset on (execution_date, id) with cursors bound to the filter asked for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ttai.bindings.d1 import D1Database
from ttai.bindings.queues import Queue
from ttai.cursors import DAY, ROW_ID, CursorCodec, CursorKind, Page, Row, keyset_page
from ttai.errors import NotFound
from ttai.messages import JobRunRequested
from ttai.models.jobs import AnalysisResult, JobDetail, JobExecution, JobRunAccepted, LatestJob

JOB_HISTORY = CursorKind("job_history", (DAY, ROW_ID), ("execution_date", "id"))  # newest first, per filter
# The history shows the start of a failed run's error; the run itself (``get``) gives all of it. This keeps a page of
# 100 rows well under the Data API's 1 MiB response whatever the jobs wrote.
HISTORY_ERROR_CHARS = 1000
# A run's results join the response while the results before them (by symbol) hold less than this many bytes of
# text and JSON, so one response stays under the Data API's 1 MiB whatever the run wrote (a row is under 64 KB).
RESULTS_BUDGET_BYTES = 640 * 1024
RESULTS_MAX = 1000

# A run on demo data: ttai.jobs lists the symbols whose bars were demo bars under metadata "demo_data" (a run may also
# say "demo": true). A result on demo bars says "demo_data": true in its technical data.
_DEMO = """(coalesce(metadata -> 'demo_data' NOT IN ('false', '[]', 'null'), false)
    OR metadata @> '{"demo": true}') AS demo"""
_EXECUTION = (
    "id, job_type, scheduled_time, execution_date, status, started_at, finished_at, duration_ms, "
    "symbols_processed, symbols_successful, symbols_failed"
)
_HISTORY_COLUMNS = f"{_EXECUTION}, left(error_message, {HISTORY_ERROR_CHARS}) AS error_message, {_DEMO}"
_REPORT_COLUMNS = "id, report_type, report_date, summary, high_confidence_count, created_at"
# A Data API record is at most 64 KB: a report's content joins its run's row only below this size (the run's other
# columns are short), and is left out, saying so, above it.
REPORT_CONTENT_MAX_BYTES = 48 * 1024
_REPORT_WITH_CONTENT = (
    f"{_REPORT_COLUMNS}, octet_length(content::text) > {REPORT_CONTENT_MAX_BYTES} AS content_omitted, "
    f"CASE WHEN octet_length(content::text) <= {REPORT_CONTENT_MAX_BYTES} THEN content END AS content"
)


def _report(columns: str) -> str:
    """The run's report as one JSON value (its newest, should a run have written more than one), or NULL."""
    return f"""(
        SELECT to_jsonb(s) FROM (
            SELECT {columns} FROM report_snapshots WHERE execution_id = j.id ORDER BY id DESC LIMIT 1
        ) s
    ) AS report"""  # noqa: S608 - column lists, constants


_ORDER = "ORDER BY execution_date DESC, id DESC"


def _latest(where: str) -> str:
    return f"""
SELECT j.*, {_report(_REPORT_COLUMNS)}
FROM (SELECT {_HISTORY_COLUMNS} FROM job_executions {where} {_ORDER} LIMIT 1) j
"""  # noqa: S608 - constants


_LATEST_OF_ANY = _latest("")
_LATEST_OF_TYPE = _latest("WHERE job_type = ?1")
_GET = f"""
SELECT {_EXECUTION}, error_message, {_DEMO}, metadata, {_report(_REPORT_WITH_CONTENT)}
FROM job_executions j WHERE id = ?1
"""  # noqa: S608 - constants
_RESULT_FIELDS = (
    "id, symbol, sentiment, confidence, direction, reasoning, signals, technical_data, news_count, error_message, "
    "created_at"
)
_RESULTS = f"""
SELECT {_RESULT_FIELDS}, demo, total
FROM (
    SELECT *, count(*) OVER () AS total,
           coalesce(sum(size) OVER (ORDER BY symbol, id ROWS UNBOUNDED PRECEDING EXCLUDE CURRENT ROW), 0) AS before
    FROM (
        SELECT {_RESULT_FIELDS}, coalesce(technical_data @> '{{"demo_data": true}}', false) AS demo,
               coalesce(octet_length(reasoning), 0) + octet_length(signals::text)
               + coalesce(octet_length(technical_data::text), 0) + coalesce(octet_length(error_message), 0) AS size
        FROM analysis_results WHERE execution_id = ?1
    ) r
) sized
WHERE before < ?2
ORDER BY symbol, id
LIMIT ?3
"""  # noqa: S608 - constants


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Which runs a history page lists; every field optional. Validated at the edge (ttai.http.routes.jobs)."""

    job_type: str | None = None
    status: str | None = None
    since: date | None = None  # execution_date on or after
    until: date | None = None  # execution_date on or before

    @property
    def cursor_scope(self) -> tuple[str | date | None, ...]:
        # The history is the same for every signed-in user, so a cursor is bound to the filter alone: it cannot
        # continue a list filtered differently.
        return (self.job_type, self.status, self.since, self.until)


def _execution_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in {"report", "total"}}


class JobStorage:
    """Seed 003's D1JobStorage, read side: the runs every signed-in user may see."""

    def __init__(self, db: D1Database, *, cursors: CursorCodec | None = None) -> None:
        self.db = db
        self.cursors = cursors  # needed by the history's pages

    def history(self, wanted: HistoryFilter, limit: int, cursor: str | None = None) -> Page[JobExecution]:
        conditions: list[str] = []
        params: list[Any] = []
        # Only the predicates asked for reach PostgreSQL, so the planner picks the index that serves them (type,
        # status or date) instead of planning around "? IS NULL OR ..." for every filter.
        for clause, value in (
            ("job_type = ?", wanted.job_type),
            ("status = ?", wanted.status),
            ("execution_date >= ?", wanted.since),
            ("execution_date <= ?", wanted.until),
        ):
            if value is not None:
                conditions.append(clause)
                params.append(value)

        def fetch(after: tuple[Any, ...], count: int) -> Sequence[Row]:
            clauses, values = list(conditions), list(params)
            if after[-1] is not None:
                # Cast: a stored date Python cannot hold comes back from the cursor as PostgreSQL's literal (text).
                clauses.append("(execution_date, id) < (?::date, ?)")
                values += after
            where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
            sql = f"SELECT {_HISTORY_COLUMNS} FROM job_executions {where} {_ORDER} LIMIT ?"  # noqa: S608 - constants
            return self.db.prepare(sql).bind(*values, count).all().results

        scope = wanted.cursor_scope
        return keyset_page(self.cursors, JOB_HISTORY, scope, cursor, limit, fetch, JobExecution.model_validate)

    def latest(self, job_type: str | None = None) -> LatestJob:
        """The newest run (of one type, or of any), with the summary of its report; NotFound if there is none."""
        if job_type is None:
            row = self.db.prepare(_LATEST_OF_ANY).first()
        else:
            row = self.db.prepare(_LATEST_OF_TYPE).bind(job_type).first()
        if row is None:
            raise NotFound(f"no {job_type} job has run yet" if job_type else "no job has run yet")
        return LatestJob.model_validate(row)

    def get(self, execution_id: int) -> JobDetail:
        """One run with its metadata, its report and its analysis results (by symbol); NotFound if there is none."""
        row = self.db.prepare(_GET).bind(execution_id).first()
        if row is None:
            raise NotFound(f"no job execution with id {execution_id}")
        results = self.db.prepare(_RESULTS).bind(execution_id, RESULTS_BUDGET_BYTES, RESULTS_MAX).all().results
        return JobDetail.model_validate(
            {
                **_execution_fields(row),
                "report": row["report"],
                "results": [AnalysisResult.model_validate(_execution_fields(r)) for r in results],
                "results_total": results[0]["total"] if results else 0,
            }
        )


def request_run(queue: Queue, requested_by: str, job_type: str) -> JobRunAccepted:
    """Ask the consumer to run ``job_type`` now: a job_run task on the task queue, timed to the whole second (a run is
    idempotent per (job_type, scheduled_time), so asking twice within a second runs it once)."""
    scheduled_time = datetime.fromtimestamp(int(time.time()), UTC)
    message = JobRunRequested(user_id=requested_by, job_type=job_type, scheduled_time=scheduled_time)
    queue.send(message.to_wire())
    return JobRunAccepted(message_id=message.id, job_type=job_type, scheduled_time=scheduled_time)
