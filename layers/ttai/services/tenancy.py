"""What every tenant repository shares: whose rows, keyset pages with cursors bound to the caller, audited writes.

The user_id a repository is bound to comes from the verified token (``Principal``), never from a request; every
statement a repository runs filters or writes by it, so another user's row is simply not there (404). The cursors
it issues (``ttai.cursors``) are bound to that user id too, so one user's cursor is refused on another's list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from ttai.bindings.d1 import D1Database, D1PreparedStatement
from ttai.cursors import CursorCodec, CursorKind, Fetch, Page, Row, keyset_page, required_codec

_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")
_TABLE = re.compile(r"[a-z_]+")
T = TypeVar("T")
Filter = str | int | date | None


@dataclass(frozen=True, slots=True)
class Tenant:
    """The caller a repository acts for, and the request it acts in (recorded with every audit event)."""

    user_id: str
    request_id: str | None = None


def audited(sql: str, *, action: str, entity: str) -> str:
    """``sql`` (a write with ``RETURNING id, ...``) with an audit event per row it touched, in the same statement.

    Convention: ``?1`` is the tenant's user_id and ``?2`` the request id, in every audited statement.
    """
    if not _NAME.match(action) or not re.fullmatch(r"[a-z_]+", entity):
        raise ValueError(f"audit names are lower_snake constants, got {action!r} / {entity!r}")
    return f"""
WITH changed AS ({sql}),
audit AS (
    INSERT INTO audit_events (user_id, actor, action, entity, entity_id, request_id)
    SELECT ?1, ?1, '{action}', '{entity}', changed.id::text, ?2 FROM changed
)
SELECT * FROM changed
"""  # noqa: S608 - action and entity are checked constants, never input


def ids_from_user_index(table: str, columns: str, condition: str, order: str) -> str:
    """SQL for a page of the caller's rows (``?1`` is the user id) whose ids come from the user's index alone, then
    their rows: ``condition`` filters and places the page, ``order`` is ``id`` or ``id DESC``, ``?4`` the page size.

    Asked for the rows directly, PostgreSQL may walk the primary key in id order and filter by user, betting that the
    user's rows are spread evenly over it: for a user whose rows are all older or newer than most, that reads every
    other user's rows in between (26,579 positions, or 90,304 alerts, for a page of 51 in ``make bench``).
    """
    if not _TABLE.fullmatch(table) or order not in {"id", "id DESC"}:
        raise ValueError(f"a table name and an id order are constants, got {table!r} / {order!r}")
    return f"""
SELECT {columns} FROM {table}
WHERE user_id = ?1 AND id IN (
    SELECT id FROM {table}
    WHERE user_id = ?1 AND {condition}
    ORDER BY {order} LIMIT ?4
)
ORDER BY {order}
"""  # noqa: S608 - constants of the repositories, never input


class TenantRepository:
    """Base of the per-resource repositories: the database and the tenant it is bound to."""

    def __init__(self, db: D1Database, tenant: Tenant, *, cursors: CursorCodec | None = None) -> None:
        self.db = db
        self.tenant = tenant
        self.cursors = cursors  # needed by the lists that page with a cursor

    @property
    def user_id(self) -> str:
        return self.tenant.user_id

    def audited_statement(self, sql: str, *values: Any) -> D1PreparedStatement:
        """``sql``, made by ``audited``, bound to the caller (``?1``) and the request (``?2``), then ``values``."""
        return self.db.prepare(sql).bind(self.user_id, self.tenant.request_id, *values)

    def page(
        self,
        kind: CursorKind,
        cursor: str | None,
        limit: int,
        fetch: Fetch,
        item: Callable[[Row], T],
        *,
        filters: Sequence[Filter] = (),
        within_budget: bool = False,
    ) -> Page[T]:
        """A page of the caller's list ``kind`` (``ttai.cursors.keyset_page``). The filters the list was asked with
        are part of its cursors' scope, with the user id, so a cursor cannot continue a list filtered differently."""
        scope = (self.user_id, *filters)
        return keyset_page(self.cursors, kind, scope, cursor, limit, fetch, item, within_budget=within_budget)

    def next_cursor(self, kind: CursorKind, position: Sequence[Any], *filters: Filter) -> str:
        """The cursor to the page after ``position`` of the caller's list ``kind``, as filtered by ``filters``."""
        return required_codec(self.cursors).encode(kind, position, scope=(self.user_id, *filters))
