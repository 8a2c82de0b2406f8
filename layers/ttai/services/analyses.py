"""A user's analysis history (seed 000's table), newest first, in pages cut at the response-size budget; a new analysis
is also cached as the latest for its symbol."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ttai.bindings.d1 import D1Database
from ttai.cursors import INSTANT, PAGE_BUDGET_BYTES, ROW_ID, CursorCodec, CursorKind, Page, Row, budget_fits
from ttai.errors import NotFound
from ttai.models.analyses import Analysis, AnalysisIn
from ttai.services.cache import CacheService
from ttai.services.tenancy import Tenant, TenantRepository, audited

ANALYSES = CursorKind("analyses", (INSTANT, ROW_ID), ("created_at", "id"))  # newest first, per symbol filter

_COLUMNS = "id, symbol, type, params, result, recommendation, workflow_id, created_at"
# Whether a cursor was given is tested on its id (?4), never on its time: the time is bound as a timestamp, and its
# cast to timestamptz depends on the session's zone, so the planner cannot fold "?3::timestamptz IS NULL". The OR
# would then survive into the plan and the keyset become a filter applied to every newer row of the user (32,571
# rows read for a page of 51 in ``make bench``) instead of where the index scan starts.
_LIST = f"""
SELECT id, symbol, type, recommendation, workflow_id, created_at, fits,
       CASE WHEN fits THEN params END AS params, CASE WHEN fits THEN result END AS result
FROM (
    SELECT *, {budget_fits(6)}
    FROM (
        SELECT {_COLUMNS}, octet_length(result::text) + coalesce(octet_length(params::text), 0) AS size
        FROM analyses
        WHERE user_id = ?1 AND (?2::text IS NULL OR symbol = ?2)
          AND (?4::bigint IS NULL OR (created_at, id) < (?3::timestamptz, ?4::bigint))
        ORDER BY created_at DESC, id DESC
        LIMIT ?5
    ) newest
) sized
ORDER BY created_at DESC, id DESC
"""  # noqa: S608 - column lists and a budget placeholder, all constants
_GET = f"SELECT {_COLUMNS} FROM analyses WHERE user_id = ?1 AND id = ?2"  # noqa: S608
_OF_WORKFLOW = f"""SELECT {_COLUMNS} FROM analyses WHERE user_id = ?1 AND workflow_id = ?2 AND symbol = ?3
ORDER BY id LIMIT 1"""  # noqa: S608
_CREATE = audited(
    f"""INSERT INTO analyses (user_id, symbol, type, params, result, recommendation, workflow_id, created_at)
    VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {_COLUMNS}""",  # noqa: S608
    action="analysis.create",
    entity="analysis",
)


def _analysis(row: Row) -> Analysis:
    return Analysis.model_validate({k: v for k, v in row.items() if k not in {"fits", "size"}})


class AnalysisRepository(TenantRepository):
    def __init__(
        self, db: D1Database, tenant: Tenant, cache: CacheService, *, cursors: CursorCodec | None = None
    ) -> None:
        super().__init__(db, tenant, cursors=cursors)
        self.cache = cache

    def list(self, limit: int, cursor: str | None, symbol: str | None = None) -> Page[Analysis]:
        def fetch(after: tuple[Any, ...], count: int) -> Sequence[Row]:
            return self.db.prepare(_LIST).bind(self.user_id, symbol, *after, count, PAGE_BUDGET_BYTES).all().results

        return self.page(ANALYSES, cursor, limit, fetch, _analysis, filters=(symbol,), within_budget=True)

    def get(self, analysis_id: int) -> Analysis:
        row = self.db.prepare(_GET).bind(self.user_id, analysis_id).first()
        if row is None:
            raise NotFound(f"no analysis with id {analysis_id}")
        return _analysis(row)

    def create_once(self, body: AnalysisIn) -> Analysis:
        """``create``, unless the caller already has this workflow's analysis of the symbol: a workflow step that
        stored it and failed before its result was checkpointed stores nothing twice when it runs again (the
        analysis is cached again, which is harmless)."""
        if body.workflow_id is None:
            raise ValueError("create_once needs the workflow_id that makes the analysis unique")
        row = self.db.prepare(_OF_WORKFLOW).bind(self.user_id, body.workflow_id, body.symbol).first()
        if row is None:
            return self.create(body)
        analysis = _analysis(row)
        self.cache.set_analysis(self.user_id, analysis.symbol, analysis.model_dump(mode="json"))
        return analysis

    def create(self, body: AnalysisIn) -> Analysis:
        """Store the analysis (audited), then cache it as the caller's latest for its symbol."""
        row = self.audited_statement(
            _CREATE,
            body.symbol,
            body.type,
            body.params,
            body.result,
            body.recommendation,
            body.workflow_id,
            datetime.fromtimestamp(time.time(), UTC),
        ).first()
        assert row is not None  # an INSERT ... RETURNING always returns its row
        analysis = _analysis(row)
        self.cache.set_analysis(self.user_id, analysis.symbol, analysis.model_dump(mode="json"))
        return analysis
