"""A user's watchlists (seed 000's table), by name; symbols validated, de-duplicated and capped at the edge."""

from __future__ import annotations

from typing import Any

from ttai.cursors import CursorKind, Text
from ttai.errors import NotFound
from ttai.models.watchlists import Watchlist, WatchlistIn
from ttai.services.tenancy import Page, TenantRepository, audited

WATCHLISTS = CursorKind("watchlists", (Text(100),))  # by name (WatchlistName: at most 100 characters)
_COLUMNS = "id, name, description, symbols, created_at, updated_at"
_LIST = f"""
SELECT {_COLUMNS} FROM watchlists
WHERE user_id = ?1 AND (?2::text IS NULL OR name > ?2)
ORDER BY name LIMIT ?3
"""  # noqa: S608 - a column list constant
_GET = f"SELECT {_COLUMNS} FROM watchlists WHERE user_id = ?1 AND name = ?2"  # noqa: S608
_PUT = audited(
    f"""INSERT INTO watchlists (user_id, name, description, symbols) VALUES (?1, ?3, ?4, ?5)
    ON CONFLICT (user_id, name) DO UPDATE SET description = EXCLUDED.description, symbols = EXCLUDED.symbols
    RETURNING {_COLUMNS}""",  # noqa: S608
    action="watchlist.put",
    entity="watchlist",
)
_DELETE = audited(
    "DELETE FROM watchlists WHERE user_id = ?1 AND name = ?3 RETURNING id",
    action="watchlist.delete",
    entity="watchlist",
)


def _watchlist(row: dict[str, Any]) -> Watchlist:
    return Watchlist.model_validate({k: v for k, v in row.items() if k != "id"})


class WatchlistRepository(TenantRepository):
    def list(self, limit: int, cursor: str | None) -> Page[Watchlist]:
        after = self.cursor_position(WATCHLISTS, cursor)
        rows = self.db.prepare(_LIST).bind(self.user_id, after[0] if after else None, limit + 1).all().results
        items = [_watchlist(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=self.next_cursor(WATCHLISTS, [items[-1].name]) if more else None)

    def get(self, name: str) -> Watchlist:
        row = self.db.prepare(_GET).bind(self.user_id, name).first()
        if row is None:
            raise NotFound(f"no watchlist named {name!r}")
        return _watchlist(row)

    def put(self, name: str, body: WatchlistIn) -> Watchlist:
        row = (
            self.db.prepare(_PUT)
            .bind(self.user_id, self.tenant.request_id, name, body.description, body.symbols)
            .first()
        )
        assert row is not None  # an upsert always returns its row
        return _watchlist(row)

    def delete(self, name: str) -> None:
        if self.db.prepare(_DELETE).bind(self.user_id, self.tenant.request_id, name).first() is None:
            raise NotFound(f"no watchlist named {name!r}")
