"""A user's trade journal (seed 001's table): entries opened, then closed with a pnl this service computes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ttai.cursors import DAY, ROW_ID, CursorKind, Page, Row
from ttai.errors import Conflict, InvalidField, NotFound
from ttai.models.journal import JournalClose, JournalEntry, JournalEntryIn, StoredLeg, profit_and_loss
from ttai.services.tenancy import TenantRepository, audited

JOURNAL = CursorKind("journal", (DAY, ROW_ID), ("entry_date", "id"))  # newest first, per filter
_COLUMNS = (
    "id, symbol, strategy, legs, direction, quantity, entry_date, entry_price, exit_date, exit_price, pnl, "
    "pnl_percent, notes, analysis_id, created_at, updated_at"
)
_LIST = f"""
SELECT {_COLUMNS} FROM trade_journal
WHERE user_id = ?1 AND (?2::text IS NULL OR symbol = ?2)
  AND (?3::date IS NULL OR entry_date >= ?3) AND (?4::date IS NULL OR entry_date <= ?4)
  AND (?5::date IS NULL OR (entry_date, id) < (?5::date, ?6::bigint))
ORDER BY entry_date DESC, id DESC LIMIT ?7
"""  # noqa: S608 - a column list constant
_GET = f"SELECT {_COLUMNS} FROM trade_journal WHERE user_id = ?1 AND id = ?2"  # noqa: S608
# The analysis must be the caller's: checked by user_id in the same statement, so an analysis id that exists for
# someone else reads exactly like one that does not exist (no row inserted, nothing audited).
_CREATE = audited(
    f"""INSERT INTO trade_journal (user_id, symbol, strategy, legs, direction, quantity, entry_date, entry_price,
        notes, analysis_id, created_at, updated_at)
    SELECT ?1, ?3, ?4, ?5::jsonb, ?6, ?7, ?8::date, ?9::numeric, ?10, ?11::bigint, ?12::timestamptz, ?12::timestamptz
    WHERE ?11::bigint IS NULL OR EXISTS (SELECT 1 FROM analyses WHERE id = ?11::bigint AND user_id = ?1)
    RETURNING {_COLUMNS}""",  # noqa: S608
    action="journal.create",
    entity="journal_entry",
)
# exit_date IS NULL guards against a concurrent close: the second one changes nothing and gets a 409. The
# database compares the dates: a stored entry date may be one Python cannot hold (ttai.models.times).
_CLOSE = audited(
    f"""UPDATE trade_journal SET exit_price = ?4, exit_date = ?5, pnl = ?6, pnl_percent = ?7
    WHERE user_id = ?1 AND id = ?3 AND exit_date IS NULL AND entry_date <= ?5
    RETURNING {_COLUMNS}""",  # noqa: S608
    action="journal.close",
    entity="journal_entry",
)
_CENT = Decimal("0.01")


class EntryAlreadyClosed(Conflict):
    """The journal entry was closed before; its exit and pnl are final."""


class InvalidJournalInput(InvalidField):
    """A close date before the entry, or an analysis that is not the caller's."""


def _entry(row: dict[str, Any]) -> JournalEntry:
    # Stored at numeric(18, 4); the API's figures are money and percentages, in cents.
    for money in ("pnl", "pnl_percent"):
        if row[money] is not None:
            row = {**row, money: row[money].quantize(_CENT)}
    return JournalEntry.model_validate(row)


class JournalRepository(TenantRepository):
    def list(
        self, symbol: str | None, since: date | None, until: date | None, limit: int, cursor: str | None
    ) -> Page[JournalEntry]:
        def fetch(after: tuple[Any, ...], count: int) -> Sequence[Row]:
            return self.db.prepare(_LIST).bind(self.user_id, symbol, since, until, *after, count).all().results

        return self.page(JOURNAL, cursor, limit, fetch, _entry, filters=(symbol, since, until))

    def create(self, body: JournalEntryIn) -> JournalEntry:
        now = datetime.fromtimestamp(time.time(), UTC)
        legs = [leg.model_dump(mode="json") for leg in body.legs]
        row = self.audited_statement(
            _CREATE,
            body.symbol,
            body.strategy,
            legs,
            body.direction,
            body.quantity,
            body.entry_date,
            body.entry_price,
            body.notes,
            body.analysis_id,
            now,
        ).first()
        if row is None:
            raise InvalidJournalInput("body.analysis_id", f"no analysis with id {body.analysis_id}")
        return _entry(row)

    def close(self, entry_id: int, body: JournalClose) -> JournalEntry:
        row = self._open_entry(entry_id)
        legs = [StoredLeg.model_validate(leg) for leg in row["legs"]]
        pnl, pnl_percent = profit_and_loss(row["direction"], row["entry_price"], body.exit_price, row["quantity"], legs)
        closed = self.audited_statement(_CLOSE, entry_id, body.exit_price, body.exit_date, pnl, pnl_percent).first()
        if closed is None:  # closed meanwhile (a 409), or the exit is before the entry
            self._open_entry(entry_id)
            raise InvalidJournalInput(
                "body.exit_date", f"the exit date is before the entry date ({_shown(row['entry_date'])})"
            )
        return _entry(closed)

    def _open_entry(self, entry_id: int) -> dict[str, Any]:
        """The entry's row; NotFound if the caller has none by that id, EntryAlreadyClosed if it was closed."""
        row: dict[str, Any] | None = self.db.prepare(_GET).bind(self.user_id, entry_id).first()
        if row is None:
            raise NotFound(f"no journal entry with id {entry_id}")
        if row["exit_date"] is not None:
            raise EntryAlreadyClosed(f"journal entry {entry_id} was closed on {_shown(row['exit_date'])}")
        return row


def _shown(stored: date | str) -> str:
    """A stored date as a message shows it: ISO 8601, or the database's text for one Python cannot hold."""
    return stored if isinstance(stored, str) else stored.isoformat()
