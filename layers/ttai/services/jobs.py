"""Seed 003's job storage on PostgreSQL, both sides of it: the runs ``ttai.jobs`` claims and records (job_executions
claimed once per (job type, scheduled time), the analysis_results and report_snapshots a run writes, its outcome),
and the reads of the jobs API (history, the latest run, one run with what it wrote); and asking for a run.

Job results are market-wide, not tenant data: every signed-in user reads the same history. The history is newest
market date first (ties by id, newest first), paged by keyset on (execution_date, id) with cursors bound to the filter
asked for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ttai.bindings.d1 import DATA_API_ROW_MAX_BYTES, D1Database
from ttai.bindings.queues import Queue
from ttai.cursors import DAY, PAGE_BUDGET_BYTES, ROW_ID, CursorCodec, CursorKind, Page, Row, keyset_page
from ttai.errors import NotFound
from ttai.messages import JobRunRequested
from ttai.models.jobs import (
    ERROR_MESSAGE_MAX,
    AnalysisResult,
    AnalysisResultIn,
    JobDetail,
    JobExecution,
    JobRecord,
    JobRunAccepted,
    LatestJob,
    ReportSnapshotIn,
)

JOB_HISTORY = CursorKind("job_history", (DAY, ROW_ID), ("execution_date", "id"))  # newest first, per filter
# The history shows the start of a failed run's error; the run itself (``get``) gives all of it. This keeps a page of
# 100 rows well under the Data API's 1 MiB response whatever the jobs wrote.
HISTORY_ERROR_CHARS = 1000
# A run's results join the response while the results before them (by symbol) hold less than the paged lists'
# budget of text and JSON, so one response stays under the Data API's 1 MiB whatever the run wrote.
RESULTS_BUDGET_BYTES = PAGE_BUDGET_BYTES
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
REPORT_CONTENT_MAX_BYTES = DATA_API_ROW_MAX_BYTES * 3 // 4
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


# A row still 'running' this long after it started belongs to an invocation that died without recording anything
# (Lambda's 15-minute limit, a lost container): a later invocation of the same run may take it over.
STALE_AFTER = timedelta(minutes=20)
_RECORD = f"{_EXECUTION}, error_message, {_DEMO}, metadata"
# Insert the run as 'running'; an existing row is left alone unless it is a stale 'running' one, which is taken
# over. Nothing comes back when the row exists and was left alone: the caller then reads it.
_CLAIM = f"""
INSERT INTO job_executions (job_type, scheduled_time, execution_date, status, started_at, metadata)
VALUES (?1, ?2, ?3, 'running', ?4, ?5::jsonb)
ON CONFLICT (job_type, scheduled_time) DO UPDATE
    SET status = 'running', started_at = EXCLUDED.started_at, finished_at = NULL, duration_ms = NULL,
        error_message = NULL,
        metadata = EXCLUDED.metadata || jsonb_build_object('took_over_run_started', job_executions.started_at)
    WHERE job_executions.status = 'running' AND job_executions.started_at < ?6
RETURNING {_RECORD}, (xmax::text <> '0') AS taken_over
"""  # noqa: S608 - a column list constant
_GET_CLAIMED = f"SELECT {_RECORD} FROM job_executions WHERE job_type = ?1 AND scheduled_time = ?2"  # noqa: S608
# The run's outcome and its queue messages (?10, a JSON array of outbox rows: ttai.jobs.outbox) in one statement, so
# one is never stored without the other; nothing is staged when the run is no longer this invocation's.
_FINISH = f"""
WITH finished AS (
    UPDATE job_executions
    SET status = ?2, finished_at = ?3, duration_ms = ?4, symbols_processed = ?5, symbols_successful = ?6,
        symbols_failed = ?7, error_message = ?8, metadata = metadata || ?9::jsonb
    WHERE id = ?1 AND status = 'running'
    RETURNING {_RECORD}
), staged AS (
    INSERT INTO outbox (queue, message_id, user_id, body)
    SELECT m.queue, m.message_id, m.user_id, m.body
    FROM jsonb_to_recordset(?10::jsonb) AS m(queue text, message_id text, user_id text, body jsonb)
    WHERE EXISTS (SELECT 1 FROM finished)
    ON CONFLICT (message_id) DO NOTHING
)
SELECT * FROM finished
"""  # noqa: S608
_CLEAR_RESULTS = "DELETE FROM analysis_results WHERE execution_id = ?"
_CLEAR_REPORTS = "DELETE FROM report_snapshots WHERE execution_id = ?"
# Every result of a run in one statement: the rows travel as one JSON array parameter.
_ADD_RESULTS = """
INSERT INTO analysis_results (execution_id, symbol, sentiment, confidence, direction, reasoning, signals,
                              technical_data, error_message)
SELECT ?1, r.symbol, r.sentiment, r.confidence, r.direction, r.reasoning, coalesce(r.signals, '[]'::jsonb),
       r.technical_data, r.error_message
FROM jsonb_to_recordset(?2::jsonb) AS r(symbol text, sentiment text, confidence numeric, direction text,
                                        reasoning text, signals jsonb, technical_data jsonb, error_message text)
"""
_ADD_REPORT = """
INSERT INTO report_snapshots (execution_id, report_type, report_date, content, html_snapshot, summary,
                              high_confidence_count)
VALUES (?1, ?2, ?3, ?4::jsonb, ?5, ?6, ?7)
RETURNING id
"""


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Which runs a history page lists; every field optional. Validated at the edge (ttai.http.routes.jobs)."""

    job_type: str | None = None
    status: str | None = None
    since: date | None = None  # execution_date on or after
    until: date | None = None  # execution_date on or before

    @property
    def conditions(self) -> tuple[list[str], list[Any]]:
        """The predicates of the fields given (``?`` placeholders) and their values. Only those reach PostgreSQL, so
        the planner picks the index that serves them (type, status or date) instead of planning around
        "? IS NULL OR ..." for every filter."""
        given = (
            ("job_type = ?", self.job_type),
            ("status = ?", self.status),
            ("execution_date >= ?", self.since),
            ("execution_date <= ?", self.until),
        )
        return [clause for clause, value in given if value is not None], [v for _, v in given if v is not None]

    @property
    def cursor_scope(self) -> tuple[str | date | None, ...]:
        # The history is the same for every signed-in user, so a cursor is bound to the filter alone: it cannot
        # continue a list filtered differently.
        return (self.job_type, self.status, self.since, self.until)


def _execution_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in {"report", "total"}}


class JobStorage:
    """Seed 003's D1JobStorage: runs claimed, recorded and finished by ``ttai.jobs``, and read by the jobs API."""

    def __init__(self, db: D1Database, *, cursors: CursorCodec | None = None) -> None:
        self.db = db
        self.cursors = cursors  # needed by the history's pages

    # ----------------------------------------------------------- recording runs

    def claim(
        self,
        job_type: str,
        scheduled_time: datetime,
        execution_date: date,
        started_at: datetime,
        metadata: dict[str, Any],
    ) -> tuple[JobRecord, bool]:
        """The run's row and whether this invocation owns it (False: another invocation did or does the work)."""
        row = (
            self.db.prepare(_CLAIM)
            .bind(job_type, scheduled_time, execution_date, started_at, _json(metadata), started_at - STALE_AFTER)
            .first()
        )
        if row is not None:
            execution = JobRecord.model_validate(row)
            if row["taken_over"]:
                # The dead invocation may have written some results: the new run writes them all again.
                self.db.batch([self.db.prepare(sql).bind(execution.id) for sql in (_CLEAR_RESULTS, _CLEAR_REPORTS)])
            return execution, True
        existing = self.db.prepare(_GET_CLAIMED).bind(job_type, scheduled_time).first()
        if existing is None:  # pragma: no cover - the conflict that stopped the insert means the row exists
            raise RuntimeError(f"job {job_type} at {scheduled_time.isoformat()} is neither new nor stored")
        return JobRecord.model_validate(existing), False

    def add_results(self, execution_id: int, results: list[AnalysisResultIn]) -> None:
        if results:
            self.db.prepare(_ADD_RESULTS).bind(execution_id, _json([r.to_record() for r in results])).run()

    def add_report(self, execution_id: int, report: ReportSnapshotIn) -> int:
        row = (
            self.db.prepare(_ADD_REPORT)
            .bind(
                execution_id,
                report.report_type,
                report.report_date,
                _json(report.content),
                report.html_snapshot,
                report.summary,
                report.high_confidence_count,
            )
            .first()
        )
        assert row is not None  # an INSERT ... RETURNING returns its row
        return int(row["id"])

    def finish(
        self,
        execution_id: int,
        *,
        status: str,
        finished_at: datetime,
        duration_ms: int,
        processed: int = 0,
        successful: int = 0,
        failed: int = 0,
        error_message: str | None = None,
        metadata: dict[str, Any] | None = None,
        outbox: str = "[]",
    ) -> JobRecord:
        """Record the run's outcome, and stage its queue messages (``outbox``: ttai.jobs.outbox.staged_rows) in the
        same statement; RuntimeError if it is no longer running (another invocation took it over)."""
        row = (
            self.db.prepare(_FINISH)
            .bind(
                execution_id,
                status,
                finished_at,
                max(0, duration_ms),
                processed,
                successful,
                failed,
                error_message[:ERROR_MESSAGE_MAX] if error_message else None,
                _json(metadata or {}),
                outbox,
            )
            .first()
        )
        if row is None:
            raise RuntimeError(f"job execution {execution_id} is no longer running: another invocation took it over")
        return JobRecord.model_validate(row)

    # ------------------------------------------------------------ reading runs

    def history(self, wanted: HistoryFilter, limit: int, cursor: str | None = None) -> Page[JobExecution]:
        conditions, params = wanted.conditions

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
