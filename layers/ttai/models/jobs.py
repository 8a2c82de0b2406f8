"""Seed 003's scheduled-job results: executions, their analysis results and reports, as the jobs API gives them and
the runner records them (``...In``: what a job hands over to be stored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args

from ttai.models.base import Output
from ttai.models.times import StoredDate, StoredInstant

# The values job_executions' CHECK constraints allow (migrations/0001_schema.sql).
JobType = Literal["pre-market", "analysis", "intraday", "end-of-day", "weekly", "backup"]
JobStatus = Literal["running", "success", "partial", "failure", "skipped"]
JOB_TYPES: tuple[str, ...] = get_args(JobType)
# What POST /api/v1/jobs/{type}/run may ask for. A backup runs only on its schedule (or `ttai backup`, or the
# scheduler function invoked with its payload): the consumer that runs requested jobs has no access to backups/.
RunnableJobType = Literal["pre-market", "analysis", "intraday", "end-of-day", "weekly"]


class JobExecution(Output):
    """One run of a job: a row of the history."""

    id: int
    job_type: str
    scheduled_time: StoredInstant
    execution_date: StoredDate
    status: str
    started_at: StoredInstant
    finished_at: StoredInstant | None
    duration_ms: int | None
    symbols_processed: int
    symbols_successful: int
    symbols_failed: int
    error_message: str | None
    # The run worked on demo data (its metadata lists ``demo_data`` symbols, or says ``"demo": true``): shown as such
    # wherever it appears.
    demo: bool


class JobRecord(JobExecution):
    """A run's row with its metadata, as the runner claims and finishes it."""

    metadata: dict[str, Any]


class ReportSummary(Output):
    id: int
    report_type: str
    report_date: StoredDate
    summary: str | None
    high_confidence_count: int
    created_at: StoredInstant


class ReportSnapshot(ReportSummary):
    content: Any  # None when content_omitted: too large to travel with its run (ttai.services.jobs)
    content_omitted: bool


class LatestJob(JobExecution):
    """The latest run, with the summary of the report it wrote (if it wrote one)."""

    report: ReportSummary | None


class AnalysisResult(Output):
    id: int
    symbol: str
    sentiment: str | None
    confidence: float | None
    direction: str | None
    reasoning: str | None
    signals: list[Any]
    technical_data: Any
    news_count: int | None
    error_message: str | None
    created_at: StoredInstant
    demo: bool  # made from demo bars (its technical data says ``"demo_data": true``)


class JobDetail(JobRecord):
    """One run with everything it wrote: its metadata, its analysis results (by symbol) and its report.

    ``results`` holds every result when ``results_total`` equals its length; a run with results too large for one
    response gives the first ones by symbol.
    """

    results: list[AnalysisResult]
    results_total: int
    report: ReportSnapshot | None


class JobRunAccepted(Output):
    """A run asked for: the task message sent to the task queue (its id is the consumer's idempotency key)."""

    message_id: str
    job_type: str
    scheduled_time: datetime


ERROR_MESSAGE_MAX = 2000


@dataclass(frozen=True, slots=True)
class AnalysisResultIn:
    """One symbol's result a job stores: the call, or why there is none (``error_message``)."""

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
class ReportSnapshotIn:
    """A report a job stores with its run."""

    report_type: str
    report_date: date
    content: dict[str, Any]
    html_snapshot: str
    summary: str
    high_confidence_count: int = 0
