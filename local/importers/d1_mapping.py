"""Where every D1 table and column of the seeds goes in our schema: the one place the mapping is written down.

Seeds 000 and 002 declare the Worker's D1 database (002's migrations create the same ``positions`` and
``user_oauth_tokens`` as 000); seed 003 adds the job tables, in a D1 database of their own. Each ``TableMap`` below
names a D1 table, the table of ours it fills, and for every column of ours where its value comes from. Types:
D1 times are unix-epoch integers (or SQLite's ``datetime()`` text, in UTC) and become ``timestamptz``; JSON kept as
text becomes ``jsonb``; REALs become ``numeric`` at the column's scale (rounded half away from zero); 0/1 become
booleans. Ids are kept, and each identity sequence moves past the highest id (and past D1's own high-water mark).

Decisions a reader should know (each row they touch is counted in the report, none is dropped silently):
- ``positions``: seed 000's upsert targets (user, symbol, option type, strike, expiration) but no constraint backs
  it, and a stock's NULL option fields never collide, so re-syncs of an open stock position added rows. Ours keeps
  one open position per key (``positions_open_unique``, NULLS NOT DISTINCT). Open duplicates are merged: the group
  keeps its lowest id (the position as first synced, which a re-run already finds in the target) with the values of
  its most recently updated row (the last sync), the earliest ``created_at`` and ``opened_at``.
- ``positions.quantity``: D1 keeps one signed number; a short is negative. Ours keeps the size in ``quantity`` (never
  negative) and the side in ``direction``.
- ``positions.closed_at``: seed 000's upsert can close a position without setting it; ours requires it for a closed
  position, so it is taken from ``updated_at`` (the sync that closed it) and the row is reported as repaired.
- ``alerts``: D1 has no ``cancelled_at`` and no ``updated_at``. A cancelled alert gets ``cancelled_at`` = its
  ``created_at`` (the earliest it can have been cancelled; reported as repaired); ``updated_at`` is the last time
  D1 records a change (``triggered_at``, else ``created_at``).
- Columns a seed declares with a default and we declare NOT NULL (``status``, ``default_strategy``, the 0/1 flags,
  ``notification_channels``): a NULL is read as the seed's default, as the Worker's code reads it, and reported.
- ``sessions``: imported as history (who signed in when, what was revoked), with no scopes (D1 knows none). A token
  is honoured only while its KV record exists and the import writes none: Cloudflare's tokens end at the cutover.
- Columns D1 does not have take our defaults: ``analyses.params``, ``screeners.schedule`` and ``notify_channels``,
  ``alerts.channels``, ``watchlists.description``, ``user_preferences.discord_webhook_url``, ``message_id``s.

What has no home, and why, is in ``NO_HOME``. Tables of ours that no D1 table fills: ``alert_events`` and
``trade_journal`` (seed 001's PostgreSQL history), ``audit_events`` (seed 004), ``bars``, the Vectorize tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from local.importers.d1_dump import MERGED_GROUPS, WorkingDatabase, quote
from local.importers.d1_values import Document, Refused, parse_document
from ttai.models.times import date_in_range, in_range

EMPTY_LIST = Document("[]", [])
EMPTY_OBJECT = Document("{}", {})


class SourceRow:
    """A D1 row on its way through the mapping: its values by column, and what the mapping repaired in it."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.repairs: list[str] = []

    def __getitem__(self, column: str) -> Any:
        return self.values.get(column)

    def repaired(self, what: str) -> None:
        self.repairs.append(what)


Convert = Callable[[SourceRow], Any]


@dataclass(frozen=True, slots=True)
class ColumnMap:
    target: str
    convert: Convert
    reads: tuple[str, ...]  # the D1 columns it reads
    note: str = ""


@dataclass(frozen=True)
class TableMap:
    source: str
    target: str
    seeds: str
    columns: tuple[ColumnMap, ...]
    key: str = "id"
    note: str = ""
    merge: MergeOpenDuplicates | None = None

    def reads(self) -> set[str]:
        return {column for c in self.columns for column in c.reads}

    def rows(self, work: WorkingDatabase, available: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """The D1 rows to map, duplicates already merged (a missing D1 column reads as NULL)."""
        if self.merge is None:
            yield from work.rows(f"SELECT * FROM {quote(self.source)}")  # noqa: S608 - a quoted dump table name
        else:
            yield from self.merge.rows(work, self.source, available)


@dataclass(frozen=True)
class MergeOpenDuplicates:
    """Rows that collide on our unique key while open become one: the lowest id, the last-updated row's values, the
    earliest of ``earliest`` columns. ``groups`` gives (kept id, merged ids) for the report."""

    key: tuple[str, ...]
    latest_by: str
    earliest: tuple[str, ...]
    where: str
    _table: str = field(default=MERGED_GROUPS)

    def prepare(self, work: WorkingDatabase, source: str) -> None:
        partition = ", ".join(quote(c) for c in self.key)
        earliest = "".join(f", min({quote(c)}) OVER g AS {quote('first_' + c)}" for c in self.earliest)
        work.conn.execute(f"DROP TABLE IF EXISTS {self._table}")
        # Quoted dump names and this class's own constants only.
        work.conn.execute(
            f"CREATE TABLE {self._table} AS SELECT id, kept, latest{''.join(', first_' + c for c in self.earliest)}"  # noqa: S608
            f" FROM (SELECT id, min(id) OVER g AS kept, count(*) OVER g AS size,"
            f" first_value(id) OVER (PARTITION BY {partition} ORDER BY {quote(self.latest_by)} DESC, id DESC) AS latest"
            f"{earliest} FROM {quote(source)} WHERE {self.where} WINDOW g AS (PARTITION BY {partition}))"
            " WHERE size > 1"
        )
        work.conn.execute(f"CREATE UNIQUE INDEX {self._table}_id ON {self._table} (id)")

    def rows(self, work: WorkingDatabase, source: str, available: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        self.prepare(work, source)
        overrides = {"id": "coalesce(g.kept, p.id)"}
        overrides.update({c: f"coalesce(g.{quote('first_' + c)}, p.{quote(c)})" for c in self.earliest})
        select = ", ".join(f"{overrides.get(c, 'p.' + quote(c))} AS {quote(c)}" for c in available)
        yield from work.rows(
            f"SELECT {select} FROM {quote(source)} AS p LEFT JOIN {self._table} AS g ON g.id = p.id"  # noqa: S608
            " WHERE g.id IS NULL OR g.latest = p.id"
        )

    def groups(self, work: WorkingDatabase) -> Iterator[tuple[str, list[str]]]:
        for kept, merged in work.conn.execute(
            f"SELECT kept, group_concat(id, ',') FROM (SELECT kept, id FROM {self._table}"  # noqa: S608
            " WHERE id <> kept ORDER BY kept, id) GROUP BY kept ORDER BY kept"
        ):
            yield str(kept), str(merged).split(",")

    def merged_away(self, work: WorkingDatabase) -> int:
        return int(work.conn.execute(f"SELECT count(*) FROM {self._table} WHERE id <> kept").fetchone()[0])  # noqa: S608


# ------------------------------------------------------------------------------------------ converters


def text(column: str, *, default: str | None = None) -> Convert:
    def convert(row: SourceRow) -> str | None:
        value = row[column]
        if value is None and default is not None:
            row.repaired(f"{column} NULL read as the seed's default {default!r}")
            return default
        if value is None or isinstance(value, str):
            return value
        raise Refused(f"{column} holds {_shown(value)}, not text")

    return convert


def whole(column: str, *, null_as: int | None = None) -> Convert:
    def convert(row: SourceRow) -> int | None:
        value = row[column]
        if value is None:
            return null_as
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        raise Refused(f"{column} holds {_shown(value)}, not a whole number")

    return convert


def flag(column: str) -> Convert:
    def convert(row: SourceRow) -> bool:
        value = row[column]
        if value is None:
            row.repaired(f"{column} NULL read as 0, the seed's default")
            return False
        if value in (0, 1) and not isinstance(value, str):
            return bool(value)
        raise Refused(f"{column} holds {_shown(value)}, not 0 or 1")

    return convert


def number(column: str) -> Convert:
    def convert(row: SourceRow) -> Decimal | None:
        value = row[column]
        if value is None:
            return None
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            return Decimal(repr(value))  # the shortest decimal that is this double: what D1 printed for it
        raise Refused(f"{column} holds {_shown(value)}, not a number")

    return convert


def instant(column: str) -> Convert:
    def convert(row: SourceRow) -> datetime | None:
        return to_instant(column, row[column])

    return convert


def to_instant(column: str, value: Any) -> datetime | None:
    """A D1 time: unix-epoch seconds, or SQLite's ``datetime()`` / ISO 8601 text (UTC unless it says otherwise)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise Refused(f"{column} {value!r} is not {_RANGE} (milliseconds where seconds belong?)") from None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            raise Refused(f"{column} {value!r} is neither seconds since 1970 nor an ISO 8601 time") from None
        moment = moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
    else:
        raise Refused(f"{column} holds {_shown(value)}, not a time")
    try:
        return in_range(moment)
    except ValueError:
        raise Refused(f"{column} {value!r} is not {_RANGE} (milliseconds where seconds belong?)") from None


_RANGE = "from 1970 up to 2200"


def day(column: str) -> Convert:
    def convert(row: SourceRow) -> date | None:
        value = row[column]
        if value is None:
            return None
        if not isinstance(value, str) or len(value) != 10:
            raise Refused(f"{column} {_shown(value)} is not a YYYY-MM-DD date")
        try:
            return date_in_range(date.fromisoformat(value))
        except ValueError:
            raise Refused(f"{column} {value!r} is not a date {_RANGE}") from None

    return convert


def document(column: str, *, null_as: Document | None = None, seed_default: bool = False) -> Convert:
    def convert(row: SourceRow) -> Document | None:
        value = row[column]
        if value is None:
            if null_as is not None and seed_default:
                row.repaired(f"{column} NULL read as the seed's default {null_as.text}")
            return null_as
        if not isinstance(value, str):
            raise Refused(f"{column} holds {_shown(value)}, not JSON text")
        try:
            return parse_document(value)
        except Refused as exc:
            raise Refused(f"{column}: {exc}") from None

    return convert


def constant(value: Any) -> Convert:
    return lambda _row: value


def _shown(value: Any) -> str:
    if isinstance(value, bytes):
        return f"a {len(value)}-byte blob"
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def copy(column: str, convert: Callable[[str], Convert] = text, note: str = "") -> ColumnMap:
    return ColumnMap(column, convert(column), (column,), note)


def made(target: str, convert: Convert, reads: tuple[str, ...] = (), note: str = "") -> ColumnMap:
    return ColumnMap(target, convert, reads, note)


# ------------------------------------------------------------------------------------- column rules


def _quantity(row: SourceRow) -> int | None:
    value = whole("quantity")(row)
    return abs(value) if value is not None else None


def _direction(row: SourceRow) -> str:
    value = whole("quantity")(row)
    return "short" if value is not None and value < 0 else "long"


def _position_closed_at(row: SourceRow) -> datetime | None:
    closed = to_instant("closed_at", row["closed_at"])
    if closed is None and row["status"] == "closed" and row["updated_at"] is not None:
        row.repaired("closed without closed_at: the time of the sync that closed it (updated_at)")
        return to_instant("updated_at", row["updated_at"])
    return closed


def _candidates_found(row: SourceRow) -> int | None:
    results = document("results")(row)
    return len(results.value) if results is not None and isinstance(results.value, list) else None


def _alert_cancelled_at(row: SourceRow) -> datetime | None:
    if row["status"] != "cancelled":
        return None
    row.repaired("cancelled without a time in D1: cancelled_at is its created_at")
    return to_instant("created_at", row["created_at"])


def _alert_updated_at(row: SourceRow) -> datetime | None:
    times = (to_instant("created_at", row["created_at"]), to_instant("triggered_at", row["triggered_at"]))
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _job_finished_at(row: SourceRow) -> datetime | None:
    started = to_instant("execution_time", row["execution_time"])
    duration = whole("duration_ms")(row)
    return started + timedelta(milliseconds=duration) if started is not None and duration is not None else None


# ------------------------------------------------------------------------------------------ the mapping

_CREATED = copy("created_at", instant)
_UPDATED = copy("updated_at", instant)

TABLES: tuple[TableMap, ...] = (
    TableMap(
        "users",
        "users",
        "000",
        (copy("id"), copy("email"), copy("name"), _CREATED, _UPDATED),
        note="id is the TastyTrade account id; ours checks its characters",
    ),
    TableMap(
        "sessions",
        "sessions",
        "000",
        (
            copy("id"),
            copy("user_id"),
            made("scopes", constant([]), note="D1 records no scopes: a plain user's session"),
            _CREATED,
            copy("expires_at", instant),
            copy("revoked_at", instant),
        ),
        note="history only: a token is honoured while its KV record exists, and the import writes none",
    ),
    TableMap(
        "user_preferences",
        "user_preferences",
        "000",
        (
            copy("user_id"),
            made("default_strategy", text("default_strategy", default="csp"), ("default_strategy",)),
            copy("morning_alert", flag),
            copy("eod_summary", flag),
            made(
                "notification_channels",
                document("notification_channels", null_as=EMPTY_LIST, seed_default=True),
                ("notification_channels",),
            ),
            made("discord_webhook_url", constant(None), note="no D1 column: set through PUT /api/v1/preferences"),
            _CREATED,
            _UPDATED,
        ),
        key="user_id",
    ),
    TableMap(
        "positions",
        "positions",
        "000, 002",
        (
            copy("id", whole),
            copy("user_id"),
            copy("symbol"),
            made("quantity", _quantity, ("quantity",), "its size: D1's quantity without the sign"),
            made("direction", _direction, ("quantity",), "short when D1's quantity is negative"),
            copy("average_cost", number),
            copy("position_type"),
            copy("option_type"),
            copy("strike", number),
            copy("expiration", day),
            made("status", text("status", default="open"), ("status",)),
            copy("opened_at", instant, "merged: the earliest of the group"),
            made("closed_at", _position_closed_at, ("closed_at", "status", "updated_at"), "repaired from updated_at"),
            copy("created_at", instant, "merged: the earliest of the group"),
            _UPDATED,
        ),
        merge=MergeOpenDuplicates(
            key=("user_id", "symbol", "option_type", "strike", "expiration"),
            latest_by="updated_at",
            earliest=("created_at", "opened_at"),
            where="status = 'open'",
        ),
    ),
    TableMap(
        "analyses",
        "analyses",
        "000",
        (
            copy("id", whole),
            copy("user_id"),
            copy("symbol"),
            copy("type"),
            made("params", constant(None), note="D1 keeps no parameters"),
            copy("result", document),
            copy("recommendation"),
            copy("workflow_id"),
            _CREATED,
        ),
    ),
    TableMap(
        "screeners",
        "screeners",
        "000",
        (
            copy("id", whole),
            copy("user_id"),
            copy("name"),
            copy("description"),
            copy("type"),
            copy("criteria", document),
            copy("auto_run", flag),
            made("schedule", constant(None), note="D1 has none"),
            made("notify_channels", constant(EMPTY_LIST), note="D1 has none"),
            _CREATED,
            _UPDATED,
        ),
    ),
    TableMap(
        "screener_results",
        "screener_results",
        "000",
        (
            copy("id", whole),
            copy("user_id"),
            copy("screener_id", whole),
            copy("criteria", document),
            copy("results", document),
            made("candidates_found", _candidates_found, ("results",), "how many results D1 stored"),
            made("message_id", constant(None), note="written by our queue consumer only"),
            _CREATED,
        ),
    ),
    TableMap(
        "alerts",
        "alerts",
        "000",
        (
            copy("id", whole),
            copy("user_id"),
            copy("symbol"),
            copy("alert_type"),
            copy("condition"),
            copy("threshold", number),
            copy("message_template"),
            made("channels", constant(EMPTY_LIST), note="D1 has none: notifications follow the preferences"),
            made("status", text("status", default="active"), ("status",)),
            copy("triggered_at", instant),
            made("cancelled_at", _alert_cancelled_at, ("status", "created_at"), "created_at, for a cancelled alert"),
            _CREATED,
            made("updated_at", _alert_updated_at, ("created_at", "triggered_at"), "the last change D1 records"),
        ),
    ),
    TableMap(
        "watchlists",
        "watchlists",
        "000",
        (
            copy("id", whole),
            copy("user_id"),
            copy("name"),
            made("description", constant(None), note="D1 has none"),
            copy("symbols", document),
            _CREATED,
            _UPDATED,
        ),
    ),
    TableMap(
        "job_executions",
        "job_executions",
        "003",
        (
            copy("id", whole),
            copy("job_type"),
            made(
                "scheduled_time",
                instant("execution_time"),
                ("execution_time",),
                "seed 003 records when a run ran, and nothing else to key it by",
            ),
            copy("execution_date", day),
            copy("status"),
            made("started_at", instant("execution_time"), ("execution_time",)),
            made("finished_at", _job_finished_at, ("execution_time", "duration_ms"), "start + duration when known"),
            copy("duration_ms", whole),
            *(
                made(c, whole(c, null_as=0), (c,), "seed 003 writes 0 as NULL (`n || null`)")
                for c in ("symbols_processed", "symbols_successful", "symbols_failed")
            ),
            copy("error_message"),
            made("metadata", document("metadata", null_as=EMPTY_OBJECT), ("metadata",)),
            _CREATED,
        ),
    ),
    TableMap(
        "analysis_results",
        "analysis_results",
        "003",
        (
            copy("id", whole),
            copy("execution_id", whole),
            copy("symbol"),
            copy("sentiment"),
            copy("confidence", number),
            copy("direction"),
            copy("reasoning"),
            made("signals", document("signals", null_as=EMPTY_LIST), ("signals",)),
            copy("technical_data", document),
            copy("news_count", whole),
            made("error_message", constant(None), note="seed 003 has none"),
            _CREATED,
        ),
    ),
    TableMap(
        "report_snapshots",
        "report_snapshots",
        "003",
        (
            copy("id", whole),
            copy("execution_id", whole),
            copy("report_type"),
            copy("report_date", day),
            copy("content", document),
            copy("html_snapshot"),
            copy("summary"),
            made("high_confidence_count", whole("high_confidence_count", null_as=0), ("high_confidence_count",)),
            _CREATED,
        ),
    ),
)

BY_SOURCE = {table.source: table for table in TABLES}

NO_HOME = {
    "user_oauth_tokens": (
        "the Worker sealed these with its own scheme and key (seed 000 says only 'Encrypted'); ours are AES-256-GCM "
        "under TOKEN_ENCRYPTION_KEY with the user id bound in, so they cannot be carried over: each user signs in "
        "with TastyTrade once after the cutover, which stores new ones"
    ),
    "d1_migrations": "wrangler's record of applied D1 migrations; our schema has its own (schema_migrations)",
}
