"""A user's analysis history (seed 000's table), newest first; a new analysis is also cached as the latest for its
symbol. Also the newest-first paging that screener runs share: keyset on (created_at, id) and a page byte budget."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ttai.bindings.d1 import D1Database
from ttai.cursors import INSTANT, ROW_ID, CursorCodec, CursorKind
from ttai.errors import NotFound
from ttai.models.analyses import Analysis, AnalysisIn
from ttai.services.cache import CacheService
from ttai.services.tenancy import Page, Tenant, TenantRepository, audited

ANALYSES = CursorKind("analyses", (INSTANT, ROW_ID))  # newest first: (created_at, id)
# A Data API response is at most 1 MiB (and a row at most 64 KB). Rows join a page while the JSON of the newer rows
# before them is under this budget, so a page of 100 large rows is cut short instead of failing; the margin below
# 1 MiB covers the last row (under 64 KB) and the short columns of every row.
PAGE_BUDGET_BYTES = 640 * 1024


def budget_fits(placeholder: int) -> str:
    """SQL for ``fits``: whether the ``size`` of the newer rows before this one is under the budget bound at
    ``?placeholder``. Rows that do not fit come back without their documents, so only small columns cross."""
    return (
        "coalesce(sum(size) OVER (ORDER BY created_at DESC, id DESC ROWS UNBOUNDED PRECEDING EXCLUDE CURRENT ROW), 0)"
        f" < ?{placeholder} AS fits"
    )


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
_CREATE = audited(
    f"""INSERT INTO analyses (user_id, symbol, type, params, result, recommendation, workflow_id, created_at)
    VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {_COLUMNS}""",  # noqa: S608
    action="analysis.create",
    entity="analysis",
)


def within_budget(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a page (at most ``limit``, stopping at the first past the byte budget), and whether more follow."""
    page: list[dict[str, Any]] = []
    for row in rows[:limit]:
        if not row["fits"]:
            break
        page.append(row)
    return page, len(rows) > len(page)


def _analysis(row: dict[str, Any]) -> Analysis:
    return Analysis.model_validate({k: v for k, v in row.items() if k not in {"fits", "size"}})


class AnalysisRepository(TenantRepository):
    def __init__(
        self, db: D1Database, tenant: Tenant, cache: CacheService, *, cursors: CursorCodec | None = None
    ) -> None:
        super().__init__(db, tenant, cursors=cursors)
        self.cache = cache

    def list(self, limit: int, cursor: str | None, symbol: str | None = None) -> Page[Analysis]:
        # The filter is part of the cursor's scope, so a cursor cannot continue a list filtered differently.
        after, after_id = self.cursor_position(ANALYSES, cursor, symbol) or (None, None)
        rows = (
            self.db.prepare(_LIST)
            .bind(self.user_id, symbol, after, after_id, limit + 1, PAGE_BUDGET_BYTES)
            .all()
            .results
        )
        page, more = within_budget(rows, limit)
        items = [_analysis(r) for r in page]
        last = items[-1] if more else None
        next_cursor = self.next_cursor(ANALYSES, [last.created_at, last.id], symbol) if last else None
        return Page(items=items, next_cursor=next_cursor)

    def get(self, analysis_id: int) -> Analysis:
        row = self.db.prepare(_GET).bind(self.user_id, analysis_id).first()
        if row is None:
            raise NotFound(f"no analysis with id {analysis_id}")
        return _analysis(row)

    def create(self, body: AnalysisIn) -> Analysis:
        """Store the analysis (audited), then cache it as the caller's latest for its symbol."""
        row = (
            self.db.prepare(_CREATE)
            .bind(
                self.user_id,
                self.tenant.request_id,
                body.symbol,
                body.type,
                body.params,
                body.result,
                body.recommendation,
                body.workflow_id,
                datetime.fromtimestamp(time.time(), UTC),
            )
            .first()
        )
        assert row is not None  # an INSERT ... RETURNING always returns its row
        analysis = _analysis(row)
        self.cache.set_analysis(self.user_id, analysis.symbol, analysis.model_dump(mode="json"))
        return analysis
