"""A user's positions (seed 000's table): keyset-paged reads, and the broker sync as one audited transaction.

Open positions are unique per (symbol, option_type, strike, expiration), NULLs included (``positions_open_unique``),
so re-syncing a stock updates its row instead of adding one. A sync, or deleting a position, drops the user's cached
positions afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ttai.bindings.d1 import D1Database
from ttai.bindings.kv import KVNamespace
from ttai.cursors import ROW_ID, CursorCodec, CursorKind, Page, Row
from ttai.errors import NotFound
from ttai.models.positions import Position, PositionIn, PositionSync, StatusFilter, SyncResult
from ttai.services.cache import CacheKeys
from ttai.services.tenancy import Tenant, TenantRepository, audited, ids_from_user_index

POSITIONS = CursorKind("positions", (ROW_ID,), ("id",))  # by id, per status filter
_COLUMNS = (
    "id, symbol, quantity, direction, average_cost, position_type, option_type, strike, expiration, status, "
    "opened_at, closed_at, created_at, updated_at"
)
# The page's ids from positions_user_status, or positions_user_id for 'all'.
_LIST = ids_from_user_index("positions", _COLUMNS, "(?2 = 'all' OR status = ?2) AND id > ?3", "id")
_GET = f"SELECT {_COLUMNS} FROM positions WHERE user_id = ?1 AND id = ?2"  # noqa: S608
# Every position of the sync in one statement: the list crosses as one JSON parameter.
_UPSERT = audited(
    f"""INSERT INTO positions (user_id, symbol, quantity, direction, average_cost, position_type, option_type,
        strike, expiration, opened_at)
    SELECT ?1, p.symbol, p.quantity, p.direction, p.average_cost, p.position_type, p.option_type, p.strike,
        p.expiration, p.opened_at
    FROM jsonb_to_recordset(?3::jsonb) AS p(symbol text, quantity integer, direction text, average_cost numeric,
        position_type text, option_type text, strike numeric, expiration date, opened_at timestamptz)
    ON CONFLICT (user_id, symbol, option_type, strike, expiration) WHERE status = 'open' DO UPDATE SET
        quantity = EXCLUDED.quantity, direction = EXCLUDED.direction, average_cost = EXCLUDED.average_cost,
        opened_at = COALESCE(EXCLUDED.opened_at, positions.opened_at)
    RETURNING {_COLUMNS}""",  # noqa: S608
    action="position.upsert",
    entity="position",
)
_CLOSE_MISSING = audited(
    """UPDATE positions SET status = 'closed', closed_at = ?3
    WHERE user_id = ?1 AND status = 'open'
      AND id NOT IN (SELECT kept::bigint FROM jsonb_array_elements_text(?4::jsonb) AS kept)
    RETURNING id""",
    action="position.close",
    entity="position",
)
# The way to remove a row no sync reaches: a closed position, or one whose key no broker would send again.
_DELETE = audited(
    "DELETE FROM positions WHERE user_id = ?1 AND id = ?3 RETURNING id",
    action="position.delete",
    entity="position",
)


class PositionRepository(TenantRepository):
    def __init__(self, db: D1Database, tenant: Tenant, kv: KVNamespace, *, cursors: CursorCodec | None = None) -> None:
        super().__init__(db, tenant, cursors=cursors)
        self.kv = kv

    def list(self, status: StatusFilter, limit: int, cursor: str | None) -> Page[Position]:
        def fetch(after: tuple[Any, ...], count: int) -> Sequence[Row]:
            [after_id] = after
            return self.db.prepare(_LIST).bind(self.user_id, status, after_id or 0, count).all().results

        return self.page(POSITIONS, cursor, limit, fetch, Position.model_validate, filters=(status,))

    def get(self, position_id: int) -> Position:
        row = self.db.prepare(_GET).bind(self.user_id, position_id).first()
        if row is None:
            raise NotFound(f"no position {position_id}")
        return Position.model_validate(row)

    def delete(self, position_id: int) -> None:
        if self.audited_statement(_DELETE, position_id).first() is None:
            raise NotFound(f"no position {position_id}")
        self.kv.delete(CacheKeys.positions(self.user_id))

    def sync(self, body: PositionSync) -> SyncResult:
        """Upsert every position; with ``full_sync``, close the open ones the list leaves out, atomically."""
        upsert = None
        if body.positions:
            payload = [_as_stored(p) for p in body.positions]
            upsert = self.audited_statement(_UPSERT, payload)
        upserted: list[dict[str, Any]] = []
        closed: list[dict[str, Any]] = []
        if body.full_sync:
            with self.db.transaction() as tx:
                upserted = tx.all(upsert).results if upsert else []
                kept = [row["id"] for row in upserted]
                close = self.audited_statement(_CLOSE_MISSING, datetime.fromtimestamp(time.time(), UTC), kept)
                closed = tx.all(close).results
        elif upsert:
            upserted = upsert.all().results  # one statement is its own transaction
        if upserted or closed:
            # Write-through invalidation (seed 004), after the commit: a read between an earlier delete and the
            # commit would cache the rows this sync replaces.
            self.kv.delete(CacheKeys.positions(self.user_id))
        positions = sorted((Position.model_validate(r) for r in upserted), key=lambda p: p.id)
        return SyncResult(positions=positions, upserted=len(upserted), closed=len(closed))


def _as_stored(position: PositionIn) -> dict[str, Any]:
    """A position as the upsert's JSON carries it, its opening instant in UTC: PostgreSQL refuses offsets past 15:59,
    which a ``Timestamp`` may carry (ttai.models.times)."""
    document = position.model_dump(mode="json")
    if position.opened_at is not None:
        document["opened_at"] = position.opened_at.astimezone(UTC).isoformat()
    return document
