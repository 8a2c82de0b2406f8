"""What a job is given (its context) and what it gives back (its outcome); the runner does the bookkeeping."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, Literal

from ttai.bindings.d1 import D1Database
from ttai.env import Env
from ttai.jobs.outbox import Outgoing
from ttai.jobs.reports import html_report
from ttai.messages import AnyMessage
from ttai.models.jobs import AnalysisResultIn, ReportSnapshotIn
from ttai.services.cache import CacheService
from ttai.services.jobs import JobStorage

Trigger = Literal["schedule", "manual"]


@dataclass
class JobContext:
    env: Env
    execution_id: int
    job_type: str
    scheduled_time: datetime  # UTC
    market_date: date  # the date in New York
    trigger: Trigger
    storage: JobStorage
    # The messages the run sends, staged until the runner records the run as finished (ttai.jobs.outbox).
    outgoing: list[Outgoing] = field(default_factory=list)

    def send(self, queue: str, messages: Iterable[AnyMessage]) -> int:
        """Queue ``messages`` on the binding ``queue`` once the run is recorded as finished, in the statement that
        records it (never before, and never if the run fails); returns how many."""
        staged = [Outgoing(queue, message) for message in messages]
        self.outgoing += staged
        return len(staged)

    @property
    def db(self) -> D1Database:
        return self.env.DB

    @cached_property
    def cache(self) -> CacheService:
        return CacheService(self.env.KV)

    def store_results(self, results: list[AnalysisResultIn]) -> None:
        self.storage.add_results(self.execution_id, results)

    def store_report(
        self,
        title: str,
        summary: str,
        content: dict[str, Any],
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        high_confidence: int = 0,
    ) -> int:
        """Store this run's report (of the job's type, for its market date): ``summary``, ``content``, and an HTML
        snapshot of ``title``, the summary and a table of ``columns`` and ``rows``."""
        snapshot = html_report(title, summary, columns, rows)
        report = ReportSnapshotIn(
            report_type=self.job_type,
            report_date=self.market_date,
            content=content,
            html_snapshot=snapshot,
            summary=summary,
            high_confidence_count=high_confidence,
        )
        return self.storage.add_report(self.execution_id, report)


@dataclass
class JobOutcome:
    """Counts of what the job worked through (symbols, alerts or positions: ``metadata["unit"]`` says which) and
    the errors of the items that failed, by item. Some failed and some not: partial; all failed: failure."""

    processed: int = 0
    successful: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def status(self) -> str:
        if not self.errors:
            return "success"
        return "partial" if self.successful else "failure"


@dataclass(frozen=True, slots=True)
class JobSpec:
    job_type: str
    # "module:function" (imported when the job runs: an invocation runs one job and loads only its code), or the
    # function itself.
    runner: str | Callable[[JobContext], JobOutcome]
    # Market jobs record themselves as skipped on weekends and NYSE holidays; a backup runs every day.
    market_days_only: bool = True

    def run(self, ctx: JobContext) -> JobOutcome:
        runner = self.runner
        if isinstance(runner, str):
            module, _, function = runner.partition(":")
            runner = getattr(importlib.import_module(module), function)
        outcome: JobOutcome = runner(ctx)
        return outcome
