"""Seed 003's job storage on PostgreSQL: job_executions claimed once per (job type, scheduled time), the
analysis_results and report_snapshots a run writes, and its outcome. The jobs read API ("dashboard") reads these
tables; the schema is the only contract between the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ttai.bindings.d1 import D1Database, D1PreparedStatement

ERROR_MESSAGE_MAX = 2000
# A row still 'running' this long after it started belongs to an invocation that died without recording anything
# (Lambda's 15-minute limit, a lost container): a later invocation of the same run may take it over.
STALE_AFTER = timedelta(minutes=20)

_COLUMNS = """id, job_type, scheduled_time, execution_date, status, started_at, finished_at, duration_ms,
symbols_processed, symbols_successful, symbols_failed, error_message, metadata"""

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
RETURNING {_COLUMNS}, (xmax::text <> '0') AS taken_over
"""  # noqa: S608 - a column list constant
_GET = f"SELECT {_COLUMNS} FROM job_executions WHERE job_type = ?1 AND scheduled_time = ?2"  # noqa: S608
_FINISH = f"""
UPDATE job_executions
SET status = ?2, finished_at = ?3, duration_ms = ?4, symbols_processed = ?5, symbols_successful = ?6,
    symbols_failed = ?7, error_message = ?8, metadata = metadata || ?9::jsonb
WHERE id = ?1 AND status = 'running'
RETURNING {_COLUMNS}
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


@dataclass(frozen=True, slots=True)
class JobExecution:
    id: int
    job_type: str
    scheduled_time: datetime
    execution_date: date
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    symbols_processed: int
    symbols_successful: int
    symbols_failed: int
    error_message: str | None
    metadata: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobExecution:
        metadata = row["metadata"]
        return cls(
            id=int(row["id"]),
            job_type=row["job_type"],
            scheduled_time=row["scheduled_time"],
            execution_date=row["execution_date"],
            status=row["status"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            duration_ms=row["duration_ms"],
            symbols_processed=int(row["symbols_processed"]),
            symbols_successful=int(row["symbols_successful"]),
            symbols_failed=int(row["symbols_failed"]),
            error_message=row["error_message"],
            metadata=json.loads(metadata) if isinstance(metadata, str) else dict(metadata or {}),
        )


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """One symbol's row of a run: the call, or why there is none (``error_message``)."""

    symbol: str
    sentiment: str | None = None
    confidence: float | None = None
    direction: str | None = None
    reasoning: str | None = None
    signals: list[dict[str, Any]] = field(default_factory=list)
    technical_data: dict[str, Any] | None = None
    error_message: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "sentiment": self.sentiment,
            "confidence": self.confidence,
            "direction": self.direction,
            "reasoning": self.reasoning,
            "signals": self.signals,
            "technical_data": self.technical_data,
            "error_message": self.error_message[:ERROR_MESSAGE_MAX] if self.error_message else None,
        }


@dataclass(frozen=True, slots=True)
class ReportSnapshot:
    report_type: str
    report_date: date
    content: dict[str, Any]
    html_snapshot: str
    summary: str
    high_confidence_count: int = 0


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)


class JobStorage:
    def __init__(self, db: D1Database) -> None:
        self.db = db

    def claim(
        self,
        job_type: str,
        scheduled_time: datetime,
        execution_date: date,
        started_at: datetime,
        metadata: dict[str, Any],
    ) -> tuple[JobExecution, bool]:
        """The run's row and whether this invocation owns it (False: another invocation did or does the work)."""
        row = (
            self.db.prepare(_CLAIM)
            .bind(job_type, scheduled_time, execution_date, started_at, _json(metadata), started_at - STALE_AFTER)
            .first()
        )
        if row is not None:
            execution = JobExecution.from_row(row)
            if row["taken_over"]:
                # The dead invocation may have written some results: the new run writes them all again.
                self.db.batch([self.db.prepare(sql).bind(execution.id) for sql in (_CLEAR_RESULTS, _CLEAR_REPORTS)])
            return execution, True
        existing = self.db.prepare(_GET).bind(job_type, scheduled_time).first()
        if existing is None:  # pragma: no cover - the conflict that stopped the insert means the row exists
            raise RuntimeError(f"job {job_type} at {scheduled_time.isoformat()} is neither new nor stored")
        return JobExecution.from_row(existing), False

    def add_results(self, execution_id: int, results: list[AnalysisResult]) -> None:
        if results:
            self.db.prepare(_ADD_RESULTS).bind(execution_id, _json([r.to_record() for r in results])).run()

    def add_report(self, execution_id: int, report: ReportSnapshot) -> int:
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

    def finish_statement(
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
    ) -> D1PreparedStatement:
        return self.db.prepare(_FINISH).bind(
            execution_id,
            status,
            finished_at,
            max(0, duration_ms),
            processed,
            successful,
            failed,
            error_message[:ERROR_MESSAGE_MAX] if error_message else None,
            _json(metadata or {}),
        )

    def finish(self, execution_id: int, **outcome: Any) -> JobExecution:
        row = self.finish_statement(execution_id, **outcome).first()
        if row is None:
            raise RuntimeError(f"job execution {execution_id} is no longer running: another invocation took it over")
        return JobExecution.from_row(row)
