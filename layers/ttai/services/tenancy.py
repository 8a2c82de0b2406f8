"""What every tenant repository shares: whose rows, keyset pages with opaque cursors, and audited writes.

The user_id a repository is bound to comes from the verified token (``Principal``), never from a request; every
statement a repository runs filters or writes by it, so another user's row is simply not there (404).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from ttai.bindings.d1 import D1Database
from ttai.errors import BindingError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")
T = TypeVar("T")


class InvalidCursor(BindingError):
    """A cursor this API did not issue, or issued for another list."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """The caller a repository acts for, and the request it acts in (recorded with every audit event)."""

    user_id: str
    request_id: str | None = None


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(kind: str, position: list[Any]) -> str:
    """An opaque cursor for a keyset position (the sort values of the last row returned)."""
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, size: int) -> list[Any]:
    """The position a cursor holds; InvalidCursor (a 400) for anything else."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = payload["p"]
        if payload["k"] != kind or not isinstance(position, list) or len(position) != size:
            raise InvalidCursor(f"this cursor does not belong to the {kind} list")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidCursor("the cursor is not one this API issued") from exc
    return position


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


class TenantRepository:
    """Base of the per-resource repositories: the database and the tenant it is bound to."""

    def __init__(self, db: D1Database, tenant: Tenant) -> None:
        self.db = db
        self.tenant = tenant

    @property
    def user_id(self) -> str:
        return self.tenant.user_id
