"""Paging: the one cursor codec, typed and authenticated, and the one keyset-paging helper every list uses.

A cursor holds a keyset position (the sort values of the last row a page returned), declared per list as a
``CursorKind``: a name and one typed field per value. On the wire it is base64url (unpadded) of a version byte, a
16-byte HMAC-SHA256 tag and the position as compact JSON. The tag covers the version, the kind, the list's scope
(the caller, and the filters the list was asked with) and the position, so only a cursor this API issued, for the
same list of the same caller, opens. The position is then still checked field by field against its declaration:
whatever a cursor holds is bound into a statement, and a leaked key or a changed declaration must not make that a
500. Anything else is ``InvalidCursor`` (a 400).

The key is the ``CURSOR_SECRET`` secret, read on the first cursor a container encodes or decodes; a cursor signed
with the secret's previous version (``AWSPREVIOUS``) still opens, so replacing the secret does not break the pages
clients are in the middle of.

``keyset_page`` is how a list uses it: open the cursor, fetch one row more than the page, cut the page (at the
response-size budget too, for lists of large documents), and issue the next cursor from the last row's sort values.
``keyset_rows`` reads every row of a keyset query the same way, for jobs that walk a whole table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import takewhile
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel

from ttai.bindings.d1 import DATA_API_RESPONSE_MAX_BYTES, stored_literal
from ttai.errors import BadRequest, ConfigurationError
from ttai.secret_names import CURSOR_SECRET

VERSION = 1
TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits: forging one is a 2**-128 guess per request
# A Data API response is at most 1 MiB (and a row at most 64 KB). In a list of large documents, rows join a page while
# the JSON of the rows before them is under this budget, so a page of 100 large rows is cut short instead of failing;
# the margin below 1 MiB covers the last row (under 64 KB) and the short columns of every row.
PAGE_BUDGET_BYTES = DATA_API_RESPONSE_MAX_BYTES * 5 // 8
CURSOR_MAX_CHARS = 4096  # longer than any cursor issued; refused before any decoding
ROW_ID_MAX = 2**63 - 1  # bigint
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_REFUSED = "the cursor is not one this API issued for this list"
_INSTANT_MAX_CHARS = 40  # 2026-01-02T03:04:05.123456+00:00, or a stored text such as +294276-12-31 23:59:59.999999999
T = TypeVar("T")
Row = dict[str, Any]
# A list's query: the rows after a position (None for each of its values on the first page), at most ``count`` of them.
Fetch = Callable[[tuple[Any, ...], int], Sequence[Row]]


class InvalidCursor(BadRequest):
    """A cursor this API did not issue, or issued for another list or another caller (one message for every
    refusal, so a caller learns nothing about which check failed)."""

    def __init__(self, message: str = _REFUSED) -> None:
        super().__init__(message)


# ------------------------------------------------------------------ fields


class CursorField(Protocol):
    """One value of a position: ``encode`` gives its JSON form, ``decode`` takes it back; both raise ValueError
    for a value outside the field's type or range."""

    def encode(self, value: Any) -> Any: ...

    def decode(self, raw: Any) -> Any: ...


class TextField(NamedTuple):
    """Text of ``min_length``..``max_length`` characters that PostgreSQL can hold (no NUL, valid Unicode)."""

    max_length: int
    min_length: int = 1

    def encode(self, value: Any) -> str:
        return self.decode(value)

    def decode(self, raw: Any) -> str:
        if not isinstance(raw, str) or not self.min_length <= len(raw) <= self.max_length:
            raise ValueError(f"expected text of {self.min_length} to {self.max_length} characters")
        if "\x00" in raw:
            raise ValueError("text holds a NUL character")
        raw.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError
        return raw


class Integer(NamedTuple):
    """An integer (never a boolean) from ``minimum`` to ``maximum``."""

    minimum: int
    maximum: int

    def encode(self, value: Any) -> int:
        return self.decode(value)

    def decode(self, raw: Any) -> int:
        if type(raw) is not int or not self.minimum <= raw <= self.maximum:
            raise ValueError(f"expected an integer from {self.minimum} to {self.maximum}")
        return raw


class Instant(NamedTuple):
    """An instant as stored, kept as text: ISO 8601 in UTC for a datetime (any year Python holds), else the D1
    binding's text for one Python cannot hold (``infinity``, BC, past 9999). It opens as the datetime, or as
    PostgreSQL's literal for that text (``ttai.bindings.d1.stored_literal``), which statements cast
    (``?::timestamptz``): a row outside the house range (``ttai.models.times``) is still paged past."""

    def encode(self, value: Any) -> str:
        if isinstance(value, str):
            stored_literal(value, with_time=True)
            return value
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ValueError("expected a time-zone aware datetime or a stored instant's text")
        try:
            return value.astimezone(UTC).isoformat()
        except OverflowError as exc:  # the offset takes it past year 1 or 9999
            raise ValueError("expected an instant Python holds in UTC") from exc

    def decode(self, raw: Any) -> datetime | str:
        if not isinstance(raw, str) or len(raw) > _INSTANT_MAX_CHARS:
            raise ValueError("expected an ISO 8601 instant")
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            return stored_literal(raw, with_time=True)
        if value.utcoffset() != timedelta(0):  # issued in UTC, so anything else was not issued
            raise ValueError("expected an instant in UTC")
        return value


class Day(NamedTuple):
    """A calendar date as stored, kept as text: ISO 8601 for a date Python holds, else the D1 binding's text for one
    it cannot hold. It opens as the date, or as PostgreSQL's literal for that text, which statements cast
    (``?::date``)."""

    def encode(self, value: Any) -> str:
        if isinstance(value, str):
            stored_literal(value, with_time=False)
            return value
        if type(value) is not date:
            raise ValueError("expected a date or a stored date's text")
        return value.isoformat()

    def decode(self, raw: Any) -> date | str:
        if not isinstance(raw, str) or len(raw) > _INSTANT_MAX_CHARS:
            raise ValueError("expected an ISO 8601 date")
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return stored_literal(raw, with_time=False)


ROW_ID = Integer(1, ROW_ID_MAX)
INSTANT = Instant()
DAY = Day()


class CursorKind(NamedTuple):
    """A list's cursor: its name (part of what the tag covers) and the fields of its position, in sort order;
    ``columns`` name the row values a position is read from (one per field), for ``keyset_page``."""

    name: str
    fields: tuple[CursorField, ...]
    columns: tuple[str, ...] = ()

    def position(self, row: Row) -> list[Any]:
        """The position of ``row``: its values of ``columns``."""
        if len(self.columns) != len(self.fields):
            raise ValueError(f"the {self.name} cursor names {len(self.columns)} columns for {len(self.fields)} fields")
        return [row[column] for column in self.columns]


# ------------------------------------------------------------------ codec

Scope = Sequence[str | int | date | None]  # dates as ISO 8601 text


def _scope_value(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"a cursor's scope holds text, integers, dates and None, not {type(value).__name__}")


class CursorCodec:
    """Encodes positions as cursors and opens them again, for one key source.

    ``keys`` is called once, on first use, and returns the secret's values, newest first: the first signs, any
    verifies. ``scope`` names the list a cursor continues (the caller's user id, then the list's filters); a cursor
    opens only with the scope it was issued with.
    """

    def __init__(self, keys: Callable[[], Sequence[str]]) -> None:
        self._load_keys = keys
        self._macs: list[hmac.HMAC] | None = None

    def encode(self, kind: CursorKind, position: Sequence[Any], *, scope: Scope) -> str:
        """The cursor for ``position``; ValueError if the position does not fit ``kind`` (a bug, never input)."""
        if len(position) != len(kind.fields):
            raise ValueError(f"a {kind.name} cursor holds {len(kind.fields)} values, not {len(position)}")
        values = [field.encode(value) for field, value in zip(kind.fields, position, strict=True)]
        payload = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        tag = self._tag(self._keys()[0], kind, scope, payload)
        return base64.urlsafe_b64encode(bytes([VERSION]) + tag + payload).decode("ascii").rstrip("=")

    def decode(self, kind: CursorKind, cursor: str, *, scope: Scope) -> tuple[Any, ...]:
        """The position ``cursor`` holds, each value of its field's type; InvalidCursor for anything else."""
        if not isinstance(cursor, str) or len(cursor) > CURSOR_MAX_CHARS or not _BASE64URL.match(cursor):
            raise InvalidCursor(_REFUSED)
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as exc:  # a length no encoder produces
            raise InvalidCursor(_REFUSED) from exc
        if len(raw) <= 1 + TAG_BYTES or raw[0] != VERSION:
            raise InvalidCursor(_REFUSED)
        tag, payload = raw[1 : 1 + TAG_BYTES], raw[1 + TAG_BYTES :]
        if not any(hmac.compare_digest(tag, self._tag(mac, kind, scope, payload)) for mac in self._keys()):
            raise InvalidCursor(_REFUSED)
        try:
            values = json.loads(payload)
            if not isinstance(values, list) or len(values) != len(kind.fields):
                raise ValueError(f"a {kind.name} cursor holds {len(kind.fields)} values")
            return tuple(field.decode(value) for field, value in zip(kind.fields, values, strict=True))
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise InvalidCursor(_REFUSED) from exc

    def _keys(self) -> list[hmac.HMAC]:
        if self._macs is None:
            secrets = [s for s in self._load_keys() if s]
            if not secrets:
                raise ConfigurationError(f"{CURSOR_SECRET} has no value to sign cursors with")
            self._macs = [hmac.new(s.encode("utf-8"), digestmod=hashlib.sha256) for s in secrets]
        return self._macs

    @staticmethod
    def _tag(key: hmac.HMAC, kind: CursorKind, scope: Scope, payload: bytes) -> bytes:
        mac = key.copy()
        # JSON keeps the parts apart: no newline can occur in it, and every string is quoted and escaped.
        context = json.dumps([VERSION, kind.name, list(scope)], separators=(",", ":"), default=_scope_value)
        mac.update(context.encode("utf-8"))
        mac.update(b"\n")
        mac.update(payload)
        return mac.digest()[:TAG_BYTES]


def required_codec(codec: CursorCodec | None) -> CursorCodec:
    """``codec``, for a service about to page; a service built without one is a wiring fault, never the caller's."""
    if codec is None:
        raise ConfigurationError("this list pages with cursors, but its service was built without a cursor codec")
    return codec


# ------------------------------------------------------------------ keyset pages


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def budget_fits(placeholder: int, order: str = "created_at DESC, id DESC") -> str:
    """SQL for ``fits``, which ``keyset_page(..., within_budget=True)`` cuts a page at: whether the ``size`` of the rows
    before this one (in ``order``) is under the budget bound at ``?placeholder`` (``PAGE_BUDGET_BYTES``). Rows that do
    not fit come back without their documents, so only small columns cross."""
    return (
        f"coalesce(sum(size) OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING EXCLUDE CURRENT ROW), 0)"
        f" < ?{placeholder} AS fits"
    )


def keyset_page(
    codec: CursorCodec | None,
    kind: CursorKind,
    scope: Scope,
    cursor: str | None,
    limit: int,
    fetch: Fetch,
    item: Callable[[Row], T],
    *,
    within_budget: bool = False,
) -> Page[T]:
    """One page of a list: the rows ``fetch`` finds after ``cursor``'s position, as ``item`` makes them.

    ``fetch`` is asked for ``limit + 1`` rows, in the list's order: the one past the page says whether another page
    follows, and the next cursor holds the page's last row's ``kind.columns``, bound to ``scope``. With
    ``within_budget``, the page also ends before the first row whose ``fits`` (``budget_fits``) is false. An empty
    cursor asks for the first page; any cursor this API did not issue for ``kind`` and ``scope`` is InvalidCursor.
    """
    after = required_codec(codec).decode(kind, cursor, scope=scope) if cursor else (None,) * len(kind.fields)
    rows = fetch(after, limit + 1)
    shown = rows[:limit]
    if within_budget:
        shown = list(takewhile(lambda row: bool(row["fits"]), shown))
    items = [item(row) for row in shown]
    if len(rows) == len(shown) or not shown:
        return Page(items=items)
    return Page(items=items, next_cursor=required_codec(codec).encode(kind, kind.position(shown[-1]), scope=scope))


def keyset_rows(fetch: Fetch, columns: Sequence[str], page_size: int) -> Iterator[Row]:
    """Every row of a keyset query, read ``page_size`` rows at a time: ``fetch`` continues after the ``columns`` of the
    last row read (None for each on the first call), until a page comes back short."""
    after: tuple[Any, ...] = (None,) * len(columns)
    while True:
        rows = fetch(after, page_size)
        yield from rows
        if len(rows) < page_size:
            return
        after = tuple(rows[-1][column] for column in columns)
