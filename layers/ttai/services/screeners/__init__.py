"""A user's saved screeners (seed 000's table), by name, and the stored runs of each, newest first.

Running one (its criteria, how they are evaluated, asking for a run) is ``ttai.services.screeners.evaluation``,
imported only where a run is asked for or made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ttai.cursors import INSTANT, PAGE_BUDGET_BYTES, ROW_ID, CursorKind, Page, Row, TextField, budget_fits
from ttai.errors import NotFound
from ttai.models.screeners import Screener, ScreenerIn, ScreenerRun
from ttai.services.named import NamedRepository, NamedTable

SCREENERS = CursorKind("screeners", (TextField(100),), ("name",))  # by name (ScreenerName: at most 100 characters)
# Newest first, per screener.
SCREENER_RUNS = CursorKind("screener_runs", (INSTANT, ROW_ID), ("created_at", "id"))
# The screener's runs stay when it is deleted (screener_id becomes NULL, as the schema's ON DELETE SET NULL says): they
# are the record of what was screened and when, which a deleted configuration does not make untrue.
TABLE = NamedTable(
    "screeners",
    "screener",
    ("description", "type", "criteria", "auto_run", "schedule", "notify_channels"),
    SCREENERS,
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


def _run(row: Row) -> ScreenerRun:
    return ScreenerRun.model_validate({k: v for k, v in row.items() if k not in {"fits", "screener_id"}})


class ScreenerRepository(NamedRepository[Screener, ScreenerIn]):
    table = TABLE
    model = Screener

    def runs(self, name: str, limit: int, cursor: str | None) -> Page[ScreenerRun]:
        """The screener's stored runs, newest first; NotFound if the caller has no screener by that name."""

        def fetch(after: tuple[Any, ...], count: int) -> Sequence[Row]:
            rows = self.db.prepare(_RUNS).bind(self.user_id, name, *after, count, PAGE_BUDGET_BYTES).all().results
            if not rows:
                raise NotFound(f"no screener named {name!r}")
            return [r for r in rows if r["id"] is not None]

        # The screener's name is part of the cursor's scope, so a cursor cannot continue another screener's runs.
        return self.page(SCREENER_RUNS, cursor, limit, fetch, _run, filters=(name,), within_budget=True)
