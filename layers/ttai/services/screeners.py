"""A user's saved screeners (seed 000's table), by name, and the stored runs of each, newest first."""

from __future__ import annotations

from typing import Any

from ttai.cursors import INSTANT, ROW_ID, CursorKind, Text
from ttai.errors import NotFound
from ttai.models.screeners import Screener, ScreenerIn, ScreenerRun
from ttai.services.analyses import PAGE_BUDGET_BYTES, budget_fits, within_budget
from ttai.services.tenancy import Page, TenantRepository, audited

SCREENERS = CursorKind("screeners", (Text(100),))  # by name (ScreenerName: at most 100 characters)
SCREENER_RUNS = CursorKind("screener_runs", (INSTANT, ROW_ID))  # newest first: (created_at, id), per screener
_COLUMNS = "id, name, description, type, criteria, auto_run, schedule, notify_channels, created_at, updated_at"
_LIST = f"""
SELECT {_COLUMNS} FROM screeners
WHERE user_id = ?1 AND (?2::text IS NULL OR name > ?2)
ORDER BY name LIMIT ?3
"""  # noqa: S608 - a column list constant
_GET = f"SELECT {_COLUMNS} FROM screeners WHERE user_id = ?1 AND name = ?2"  # noqa: S608
_PUT = audited(
    f"""INSERT INTO screeners (user_id, name, description, type, criteria, auto_run, schedule, notify_channels)
    VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (user_id, name) DO UPDATE SET description = EXCLUDED.description, type = EXCLUDED.type,
        criteria = EXCLUDED.criteria, auto_run = EXCLUDED.auto_run, schedule = EXCLUDED.schedule,
        notify_channels = EXCLUDED.notify_channels
    RETURNING {_COLUMNS}""",  # noqa: S608
    action="screener.put",
    entity="screener",
)
# The screener's runs stay (screener_id becomes NULL, as the schema's ON DELETE SET NULL says): they are the
# record of what was screened and when, which a deleted configuration does not make untrue.
_DELETE = audited(
    "DELETE FROM screeners WHERE user_id = ?1 AND name = ?3 RETURNING id",
    action="screener.delete",
    entity="screener",
)
# One round trip: the caller's screener (no row at all: 404) left-joined to a page of its runs (none: one row of
# NULLs). The runs are filtered by user_id too, so the index (user_id, screener_id, created_at, id) serves them, and
# the cursor is tested on its id, for the reason given in analyses.py.
_RUNS = f"""
SELECT s.id AS screener_id, r.id, r.candidates_found, r.created_at, r.fits,
       CASE WHEN r.fits THEN r.criteria END AS criteria, CASE WHEN r.fits THEN r.results END AS results
FROM screeners s
LEFT JOIN LATERAL (
    SELECT *, {budget_fits(6)}
    FROM (
        SELECT id, criteria, results, candidates_found, created_at,
               octet_length(criteria::text) + octet_length(results::text) AS size
        FROM screener_results
        WHERE user_id = ?1 AND screener_id = s.id
          AND (?4::bigint IS NULL OR (created_at, id) < (?3::timestamptz, ?4::bigint))
        ORDER BY created_at DESC, id DESC
        LIMIT ?5
    ) newest
) r ON true
WHERE s.user_id = ?1 AND s.name = ?2
ORDER BY r.created_at DESC, r.id DESC
"""  # noqa: S608 - column lists and a budget placeholder, all constants


def _screener(row: dict[str, Any]) -> Screener:
    return Screener.model_validate({k: v for k, v in row.items() if k != "id"})


class ScreenerRepository(TenantRepository):
    def list(self, limit: int, cursor: str | None) -> Page[Screener]:
        after = self.cursor_position(SCREENERS, cursor)
        rows = self.db.prepare(_LIST).bind(self.user_id, after[0] if after else None, limit + 1).all().results
        items = [_screener(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=self.next_cursor(SCREENERS, [items[-1].name]) if more else None)

    def get(self, name: str) -> Screener:
        row = self.db.prepare(_GET).bind(self.user_id, name).first()
        if row is None:
            raise NotFound(f"no screener named {name!r}")
        return _screener(row)

    def put(self, name: str, body: ScreenerIn) -> Screener:
        row = (
            self.db.prepare(_PUT)
            .bind(
                self.user_id,
                self.tenant.request_id,
                name,
                body.description,
                body.type,
                body.criteria,
                body.auto_run,
                body.schedule,
                body.notify_channels,
            )
            .first()
        )
        assert row is not None  # an upsert always returns its row
        return _screener(row)

    def delete(self, name: str) -> None:
        if self.db.prepare(_DELETE).bind(self.user_id, self.tenant.request_id, name).first() is None:
            raise NotFound(f"no screener named {name!r}")

    def runs(self, name: str, limit: int, cursor: str | None) -> Page[ScreenerRun]:
        """The screener's stored runs, newest first; NotFound if the caller has no screener by that name."""
        # The screener's name is part of the cursor's scope, so a cursor cannot continue another screener's runs.
        after, after_id = self.cursor_position(SCREENER_RUNS, cursor, name) or (None, None)
        rows = (
            self.db.prepare(_RUNS).bind(self.user_id, name, after, after_id, limit + 1, PAGE_BUDGET_BYTES).all().results
        )
        if not rows:
            raise NotFound(f"no screener named {name!r}")
        found = [r for r in rows if r["id"] is not None]
        page, more = within_budget(found, limit)
        items = [
            ScreenerRun.model_validate({k: v for k, v in r.items() if k not in {"fits", "screener_id"}}) for r in page
        ]
        last = items[-1] if more else None
        next_cursor = self.next_cursor(SCREENER_RUNS, [last.created_at, last.id], name) if last else None
        return Page(items=items, next_cursor=next_cursor)
