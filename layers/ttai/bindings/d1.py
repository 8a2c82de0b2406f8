"""Cloudflare D1's API over the RDS Data API (Aurora Serverless v2 PostgreSQL), synchronous.

``db.prepare(sql).bind(*values)`` then ``first`` / ``all`` / ``run`` / ``raw``; ``db.batch([...])`` runs as one
transaction. Placeholders are D1's (``?``, ``?NNN``); values cross as typed Data API parameters and come back
as Python values (int, float, Decimal, bool, str, datetime, date, time, UUID, bytes, parsed JSON).

A timestamp, date or time that Python cannot hold (BC, after year 9999, ``infinity``, ``24:00:00``) comes back as
the Data API's text for it rather than failing the read, with the Data API's stand-ins for ±infinity (Java's
instants ``+292278994-08-16 23:00:00`` and ``-292275055-05-16 23:00:00``) given back as PostgreSQL's own words,
``infinity`` and ``-infinity``. Code that reads such columns types them ``datetime | str`` (``ttai.models.times``);
``stored_literal`` turns such a text back into PostgreSQL's literal for the value, to bind it again.

Differences D1 users should know, each raised or documented rather than silently papered over:
- ``meta.last_row_id`` is the first column of the last row an ``INSERT ... RETURNING`` gave back (PostgreSQL
  has no rowid); otherwise None. ``meta.rows_read`` counts rows returned, not rows scanned.
- A Data API response is at most 1 MiB: a bigger result raises ``D1ResponseTooLarge``; paginate.
- A list or dict is bound as JSON (the Data API takes no array parameters for PostgreSQL).

The Data API publishes no CloudWatch metrics of its own, so every call it refuses is counted here, as the
``DataApiUnavailable`` metric (throttled, resuming, unreachable: capacity) or ``DataApiErrors`` (everything else).
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ttai.bindings.common import error_code, unavailable

# The errors live in their own small module so the HTTP layer can map them without importing the binding.
from ttai.bindings.d1_errors import (
    D1BindError,
    D1ConflictError,
    D1ConstraintError,
    D1DataError,
    D1Error,
    D1QueryError,
    D1ResponseTooLarge,
    D1SessionError,
    D1TransactionGone,
    D1Unavailable,
)
from ttai.bindings.sql import CompiledSql, SqlSyntaxError, compile_d1, split_statements
from ttai.errors import Unavailable

if TYPE_CHECKING:
    from ttai.bindings.d1_session import D1DatabaseSession

__all__ = [  # the errors re-exported from d1_errors, beside what this module defines
    "D1BindError",
    "D1ConflictError",
    "D1ConstraintError",
    "D1DataError",
    "D1Database",
    "D1Error",
    "D1QueryError",
    "D1ResponseTooLarge",
    "D1SessionError",
    "D1TransactionGone",
    "D1Unavailable",
]

_INT64 = range(-(2**63), 2**63)
_SQLSTATE = re.compile(r"SQLState:\s*([0-9A-Z]{5})")
_RESUME_DELAYS = (0.5, 1.0, 2.0, 4.0, 4.0, 4.0)  # 15.5 s: Aurora resumes from 0 ACU in about 15 s, and the
# HTTP API gives up after 30 s, so waiting longer would only turn a slow answer into a gateway timeout.
_TOO_LARGE = "response size limit"
_STATEMENTS = frozenset({"execute_statement", "batch_execute_statement"})
DEPENDENCY = "the database"  # what a 503 calls Aurora when the Data API throttles or cannot reach it
# The RDS Data API's documented size limits, which every reader and writer of the database sizes its work by (and
# the local Data API enforces): result data one call returns, one row of it, one request.
DATA_API_RESPONSE_MAX_BYTES = 1024 * 1024
DATA_API_ROW_MAX_BYTES = 64 * 1024
DATA_API_REQUEST_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class D1Meta:
    duration: float  # milliseconds, measured by the client
    changes: int | None  # rows changed; None for statements run through BatchExecuteStatement
    last_row_id: int | None
    rows_read: int
    rows_written: int
    changed_db: bool
    size_after: int | None = None  # D1 reports the database size; the Data API does not
    served_by: str = "aurora-data-api"


@dataclass(frozen=True, slots=True)
class D1Result:
    results: list[dict[str, Any]]
    meta: D1Meta
    success: bool = True


@dataclass(frozen=True, slots=True)
class D1ExecResult:
    count: int
    duration: float


@dataclass(frozen=True, slots=True)
class _Raw:
    columns: list[str]
    rows: list[list[Any]]
    updated: int
    duration: float

    def first(self, column: str | None) -> Any:
        if not self.rows:
            return None
        row = dict(zip(self.columns, self.rows[0], strict=True))
        if column is None:
            return row
        if column not in row:
            raise D1QueryError(f"D1_COLUMN_NOTFOUND: column {column!r} is not in the result")
        return row[column]


class D1PreparedStatement:
    def __init__(self, db: D1Database, compiled: CompiledSql, sql: str, values: tuple[Any, ...] = ()) -> None:
        self._db = db
        self._compiled = compiled
        self.sql = sql
        self.values = values

    def bind(self, *values: Any) -> D1PreparedStatement:
        """A new statement with these values (checked now, so a bad value fails here, not mid-batch)."""
        if len(values) != self._compiled.parameter_count:
            raise D1BindError(
                f"wrong number of parameter bindings: the statement has {self._compiled.parameter_count} "
                f"placeholder(s), {len(values)} value(s) were bound"
            )
        for position, value in enumerate(values, start=1):
            encode_value(value, f"?{position}")
        return D1PreparedStatement(self._db, self._compiled, self.sql, values)

    def _parameters(self) -> list[dict[str, Any]]:
        if len(self.values) != self._compiled.parameter_count:
            raise D1BindError(
                f"wrong number of parameter bindings: {self._compiled.parameter_count} needed, {len(self.values)} bound"
            )
        return [encode_value(v, f"p{i}") for i, v in enumerate(self.values, start=1)]

    def all(self) -> D1Result:
        return self._db._result(self, self._db._execute(self))

    def run(self) -> D1Result:
        """Same as ``all`` (as in current D1): the result carries rows if the statement returns any."""
        return self.all()

    def first(self, column: str | None = None) -> Any:
        """The first row as a dict (None if there is none), or that row's ``column`` (D1 raises if absent)."""
        return self._db._execute(self).first(column)

    def raw(self, column_names: bool = False) -> list[list[Any]]:
        raw = self._db._execute(self)
        return [list(raw.columns), *raw.rows] if column_names else raw.rows


class D1Database:
    """A D1 database bound to an Aurora cluster through the Data API."""

    def __init__(
        self,
        resource_arn: str,
        secret_arn: str,
        database: str,
        *,
        client: Any = None,
        resume_delays: Sequence[float] = _RESUME_DELAYS,
    ) -> None:
        if not (resource_arn and secret_arn and database):
            raise D1BindError("D1Database needs a cluster ARN, a secret ARN and a database name")
        self.resource_arn = resource_arn
        self.secret_arn = secret_arn
        self.database = database
        if client is None:
            from ttai import aws  # noqa: PLC0415

            client = aws.client("rds-data")
        self._client = client
        self._resume_delays = tuple(resume_delays)
        self._after_statement: Callable[[], None] | None = None  # a session's hook: a statement ran through it

    def patient(self, resume_delays: Sequence[float]) -> D1Database:
        """The same database, waiting longer for a resume (for work with a longer deadline than a request)."""
        return D1Database(
            self.resource_arn, self.secret_arn, self.database, client=self._client, resume_delays=resume_delays
        )

    def with_session(self, constraint_or_bookmark: str | None = None) -> D1DatabaseSession:
        """D1's Sessions API: a session whose statements run in order, and which reports a bookmark.

        ``constraint_or_bookmark`` is "first-unconstrained" (the default), "first-primary" or a bookmark from an
        earlier session (``get_bookmark()``, or one Cloudflare's D1 issued before the cutover). On Aurora the Data
        API sends every statement, reads included, to the cluster's single writer, so every read sees every
        committed write: both constraints read the primary, and any bookmark is already satisfied (nothing waits
        for a replica to catch up). See ``ttai.bindings.d1_session``.
        """
        from ttai.bindings.d1_session import D1DatabaseSession  # noqa: PLC0415 - only sessions load it

        return D1DatabaseSession(self, constraint_or_bookmark)

    withSession = with_session  # Cloudflare's name, so Worker code runs unchanged

    def prepare(self, sql: str) -> D1PreparedStatement:
        try:
            compiled = compile_d1(sql)
        except SqlSyntaxError as exc:
            raise D1QueryError(f"cannot read the SQL: {exc}") from exc
        return D1PreparedStatement(self, compiled, sql)

    def exec(self, script: str) -> D1ExecResult:
        """Run a script of statements without parameters, one after another (not in one transaction)."""
        started = time.perf_counter()
        statements = split_statements(script)
        for statement in statements:
            self._call("execute_statement", sql=statement)
        return D1ExecResult(count=len(statements), duration=(time.perf_counter() - started) * 1000)

    def batch(self, statements: Sequence[D1PreparedStatement]) -> list[D1Result]:
        """Run the statements in one transaction: all take effect, or (on any failure) none.

        When every statement is the same SQL and none returns rows, this is a single BatchExecuteStatement;
        otherwise BeginTransaction, one ExecuteStatement per statement, CommitTransaction.
        """
        if not statements:
            return []
        if len({s.sql for s in statements}) == 1 and not statements[0]._compiled.returns_rows:
            return self._batch_same_sql(statements)
        transaction = self._call("begin_transaction")["transactionId"]
        try:
            results = [self._result(s, self._execute(s, transaction)) for s in statements]
        except BaseException:
            self._rollback(transaction)
            raise
        self._call("commit_transaction", transactionId=transaction)
        return results

    def transaction(self) -> D1Transaction:
        """A transaction for statements that depend on each other's results (``with db.transaction() as tx``)."""
        return D1Transaction(self)

    def resume_transaction(self, transaction_id: str) -> D1Transaction:
        """A transaction begun earlier (``transaction().begin()``), by its id, perhaps in another invocation: beyond
        D1's API, for work spread over workflow steps. The Data API ends a transaction unused for 3 minutes or
        open for 24 hours; a statement in one that ended raises D1TransactionGone."""
        if not transaction_id:
            raise D1BindError("a transaction id is required")
        transaction = D1Transaction(self)
        transaction.transaction_id = transaction_id
        return transaction

    # ----------------------------------------------------------------- internals

    def _batch_same_sql(self, statements: Sequence[D1PreparedStatement]) -> list[D1Result]:
        started = time.perf_counter()
        first = statements[0]
        parameter_sets = [s._parameters() for s in statements]
        self._call("batch_execute_statement", sql=first._compiled.sql, parameterSets=parameter_sets)
        duration = (time.perf_counter() - started) * 1000 / len(statements)
        meta = D1Meta(duration=duration, changes=None, last_row_id=None, rows_read=0, rows_written=0, changed_db=True)
        return [D1Result(results=[], meta=meta) for _ in statements]

    def _execute(self, statement: D1PreparedStatement, transaction: str | None = None) -> _Raw:
        extra: dict[str, Any] = {"transactionId": transaction} if transaction else {}
        started = time.perf_counter()
        response = self._call(
            "execute_statement",
            sql=statement._compiled.sql,
            parameters=statement._parameters(),
            includeResultMetadata=True,
            **extra,
        )
        columns = [c.get("label") or c.get("name", "") for c in response.get("columnMetadata", [])]
        types = [str(c.get("typeName", "")).lower() for c in response.get("columnMetadata", [])]
        rows = [
            [decode_field(f, t) for f, t in zip(record, types, strict=True)] for record in response.get("records", [])
        ]
        duration = (time.perf_counter() - started) * 1000
        return _Raw(columns, rows, int(response.get("numberOfRecordsUpdated", 0)), duration)

    def _result(self, statement: D1PreparedStatement, raw: _Raw) -> D1Result:
        results = [dict(zip(raw.columns, row, strict=True)) for row in raw.rows]
        last_row_id = None
        if raw.rows and raw.columns and statement._compiled.sql.lstrip()[:6].lower() == "insert":
            candidate = raw.rows[-1][0]
            last_row_id = candidate if isinstance(candidate, int) and not isinstance(candidate, bool) else None
        meta = D1Meta(
            duration=raw.duration,
            changes=raw.updated,
            last_row_id=last_row_id,
            rows_read=len(raw.rows),
            rows_written=raw.updated,
            changed_db=raw.updated > 0,
        )
        return D1Result(results=results, meta=meta)

    def _call(self, operation: str, **params: Any) -> Any:
        """One Data API call, retried only while the cluster resumes from auto-pause."""
        request = {"resourceArn": self.resource_arn, "secretArn": self.secret_arn, **params}
        if operation in {"execute_statement", "batch_execute_statement", "begin_transaction"}:
            request["database"] = self.database
        method = getattr(self._client, operation)
        for attempt in range(len(self._resume_delays) + 1):
            try:
                response = method(**request)
            except ClientError as exc:
                if error_code(exc) == "DatabaseResumingException" and attempt < len(self._resume_delays):
                    time.sleep(self._resume_delays[attempt])
                    continue
                error = _translate(exc)
                if not (operation == "rollback_transaction" and isinstance(error, D1TransactionGone)):
                    # A rollback finding its transaction gone is the expected end of a failed statement's (the
                    # service aborts it), not a refusal of its own: counting it would double every failure.
                    _count_refusal(error)
                raise error from exc
            except BotoCoreError as exc:  # the endpoint unreachable: the database is away, not the request wrong
                busy = unavailable(exc, DEPENDENCY)
                _count_refusal(busy)
                if busy is None:
                    raise
                raise busy from exc
            if self._after_statement is not None and operation in _STATEMENTS:
                self._after_statement()
            return response
        raise D1Unavailable("the database is still resuming; try again shortly")  # pragma: no cover - loop exits above

    def _rollback(self, transaction: str) -> None:
        try:
            self._call("rollback_transaction", transactionId=transaction)
        except D1TransactionGone:
            return  # aborted by the statement that failed, as the service does: nothing left to roll back
        except (D1Error, Unavailable):
            # The transaction may already be gone (it failed, or expired); the original error is what matters.
            from ttai.observability import logger  # noqa: PLC0415

            logger.warning("rollback failed after an error in a D1 batch", extra={"transaction": transaction})


class D1Transaction:
    """Statements run in one Data API transaction, committed on a clean exit and rolled back on an error."""

    def __init__(self, db: D1Database) -> None:
        self._db = db
        self.transaction_id: str | None = None

    def __enter__(self) -> D1Transaction:
        return self.begin()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()

    def begin(self) -> D1Transaction:
        """Begin it (``with`` does this); then ``commit`` or ``rollback`` end it."""
        self.transaction_id = self._db._call("begin_transaction")["transactionId"]
        return self

    def commit(self) -> None:
        assert self.transaction_id is not None, "the transaction has not begun"
        self._db._call("commit_transaction", transactionId=self.transaction_id)

    def rollback(self) -> None:
        """Roll it back; one already gone (failed, expired) is no error here."""
        assert self.transaction_id is not None, "the transaction has not begun"
        self._db._rollback(self.transaction_id)

    def all(self, statement: D1PreparedStatement) -> D1Result:
        return self._db._result(statement, self._db._execute(statement, self.transaction_id))

    def exec(self, script: str) -> D1ExecResult:
        """A parameterless script, statement by statement, inside this transaction (migrations)."""
        started = time.perf_counter()
        statements = split_statements(script)
        for statement in statements:
            self._db._call("execute_statement", sql=statement, transactionId=self.transaction_id)
        return D1ExecResult(count=len(statements), duration=(time.perf_counter() - started) * 1000)

    run = all

    def first(self, statement: D1PreparedStatement, column: str | None = None) -> Any:
        return self._db._execute(statement, self.transaction_id).first(column)


# --------------------------------------------------------------------- values


def encode_value(value: Any, name: str) -> dict[str, Any]:  # noqa: PLR0911, PLR0912 - one case per type
    """A Python value as a Data API SqlParameter (typed, with a typeHint where the Data API needs one)."""
    if value is None:
        return {"name": name, "value": {"isNull": True}}
    if isinstance(value, bool):
        return {"name": name, "value": {"booleanValue": value}}
    if isinstance(value, int):
        if value not in _INT64:
            raise D1BindError(f"{name}: integer {value} does not fit in 64 bits; bind a Decimal")
        return {"name": name, "value": {"longValue": value}}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise D1BindError(f"{name}: {value} is not a finite number")
        return {"name": name, "value": {"doubleValue": value}}
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise D1BindError(f"{name}: {value} is not a finite decimal")
        return {"name": name, "value": {"stringValue": format(value, "f")}, "typeHint": "DECIMAL"}
    if isinstance(value, str):
        if "\x00" in value:
            raise D1BindError(f"{name}: PostgreSQL text cannot hold NUL characters")
        return {"name": name, "value": {"stringValue": value}}
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise D1BindError(f"{name}: a timezone-naive datetime is ambiguous; give it a time zone")
        try:
            utc = value.astimezone(UTC)
        except OverflowError as exc:  # 0001-01-01T00:00+14:00 is a BC instant, 9999-12-31T23:59-14:00 is in 10000
            raise D1BindError(f"{name}: {value.isoformat()} is outside the years 1-9999 once in UTC") from exc
        return {"name": name, "value": {"stringValue": utc.strftime("%Y-%m-%d %H:%M:%S.%f")}, "typeHint": "TIMESTAMP"}
    if isinstance(value, date):
        return {"name": name, "value": {"stringValue": value.isoformat()}, "typeHint": "DATE"}
    if isinstance(value, clock_time):
        if value.tzinfo is not None:
            raise D1BindError(f"{name}: times with a zone are not supported; bind a datetime")
        return {"name": name, "value": {"stringValue": value.strftime("%H:%M:%S.%f")}, "typeHint": "TIME"}
    if isinstance(value, uuid.UUID):
        return {"name": name, "value": {"stringValue": str(value)}, "typeHint": "UUID"}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"name": name, "value": {"blobValue": bytes(value)}}
    if isinstance(value, dict | list | tuple):
        try:
            text = json.dumps(value, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise D1BindError(f"{name}: cannot bind as JSON: {exc}") from exc
        return {"name": name, "value": {"stringValue": text}, "typeHint": "JSON"}
    raise D1BindError(f"{name}: cannot bind a value of type {type(value).__name__}")


_TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S")


def decode_field(field_value: dict[str, Any], type_name: str) -> Any:  # noqa: PLR0911 - one case per type
    """A Data API Field as a Python value, using the column's PostgreSQL type name."""
    if field_value.get("isNull"):
        return None
    if "arrayValue" in field_value:
        return _decode_array(field_value["arrayValue"], type_name.lstrip("_"))
    if "blobValue" in field_value:
        return bytes(field_value["blobValue"])
    for simple in ("longValue", "doubleValue", "booleanValue"):
        if simple in field_value:
            return field_value[simple]
    text = field_value.get("stringValue")
    if text is None:
        return None
    if type_name in {"numeric", "decimal"}:
        return Decimal(text)
    if type_name in {"json", "jsonb"}:
        return json.loads(text)
    if type_name == "uuid":
        return uuid.UUID(text)
    if type_name in _TIMESTAMP_TYPES or type_name in _DATE_AND_TIME_TYPES:
        return _decode_temporal(text, type_name)
    return text


_TIMESTAMP_TYPES = frozenset({"timestamptz", "timestamp", "timestamp with time zone", "timestamp without time zone"})
_DATE_AND_TIME_TYPES = frozenset({"date", "time", "time without time zone"})


def _decode_temporal(text: str, type_name: str) -> datetime | date | clock_time | str:
    try:
        if type_name == "date":
            return date.fromisoformat(text)
        if type_name in _DATE_AND_TIME_TYPES:
            return clock_time.fromisoformat(text)
        parsed = _parse_timestamp(text)
    except ValueError:
        return _unrepresentable(text)
    return parsed.replace(tzinfo=UTC) if "tz" in type_name or "with time zone" in type_name else parsed


def _parse_timestamp(text: str) -> datetime:
    for layout in _TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text, layout)  # noqa: DTZ007 - the zone is applied by the caller
        except ValueError:
            continue
    return datetime.fromisoformat(text)


# The Data API reads a value through Java, which has no infinite instant: PostgreSQL's ±infinity arrive as the
# instants its JDBC driver stands in for them, far outside PostgreSQL's own range (4713 BC to 294276 AD).
_INFINITIES = (("+292278994-08-16", "infinity"), ("-292275055-05-16", "-infinity"))


def _unrepresentable(text: str) -> str:
    """A value Python's datetime, date or time cannot hold, kept as the Data API's text (never clamped or refused)."""
    for stand_in, word in _INFINITIES:
        if text.startswith(stand_in):
            return word
    return text


# The text _unrepresentable keeps besides the infinities: Java's ISO form of a year Python has no datetime for, signed
# past 9999 (+10000), astronomical and signed before year 1 (1 BC is 0000, 44 BC is -0043), a time for timestamps.
_STORED_TEXT = re.compile(
    r"(?P<year>[+-]\d{4,9}|\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?P<time> (?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.\d{1,9})?)?"
)
# What PostgreSQL's timestamptz and date hold: from 24 November 4714 BC (astronomical -4713) to the end of a year.
_STORED_FIRST_DAY = (-4713, 11, 24)
_STORED_LAST_YEAR = {True: 294276, False: 5874897}


def stored_literal(text: str, *, with_time: bool) -> str:
    """PostgreSQL's literal for a timestamp (``with_time``) or date this binding read back as text, because Python
    cannot hold it: bound as text and cast in SQL (``?::timestamptz``, ``?::date``), it is the value stored.

    Before 1582-10-15 the Data API's text is the Julian-calendar reading of PostgreSQL's (proleptic Gregorian) fields
    (``local.data_api.times`` says why), so for a year before 1 the reading is undone. ValueError for any other text,
    or for a value PostgreSQL could not hold.
    """
    if text in {"infinity", "-infinity"}:
        return text
    match = _STORED_TEXT.fullmatch(text)
    if match is None or (match["time"] is not None) is not with_time:
        raise ValueError(f"not a stored {'timestamp' if with_time else 'date'} Python cannot hold: {text!r}")
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    if 1 <= year <= 9999 or not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        raise ValueError(f"not a stored {'timestamp' if with_time else 'date'} Python cannot hold: {text!r}")
    if with_time and (int(match["hour"]) > 23 or int(match["minute"]) > 59 or int(match["second"]) > 59):
        raise ValueError(f"not a stored timestamp Python cannot hold: {text!r}")
    if year < 1:
        year, month, day = _julian_date(_gregorian_day_number(year, month, day))
    if (year, month, day) < _STORED_FIRST_DAY or year > _STORED_LAST_YEAR[with_time]:
        raise ValueError(f"{text!r} is outside what PostgreSQL holds")
    literal = f"{year if year >= 1 else 1 - year:04d}-{month:02d}-{day:02d}"
    if with_time:
        literal += f"{match['time']}+00"
    return literal if year >= 1 else f"{literal} BC"


def _days_in_month(year: int, month: int) -> int:
    """Days in the month of the proleptic Gregorian calendar (astronomical years: 0 and -4 are leap years)."""
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in {4, 6, 9, 11} else 31


def _gregorian_day_number(year: int, month: int, day: int) -> int:
    """The Julian Day Number of a proleptic Gregorian date (astronomical years)."""
    shift = (14 - month) // 12
    y, m = year + 4800 - shift, month + 12 * shift - 3
    return day + (153 * m + 2) // 5 + 365 * y + y // 4 - y // 100 + y // 400 - 32045


def _julian_date(day_number: int) -> tuple[int, int, int]:
    """The Julian-calendar (year, month, day) of a Julian Day Number (astronomical years)."""
    c = day_number + 32082
    d = (4 * c + 3) // 1461
    e = c - 1461 * d // 4
    m = (5 * e + 2) // 153
    return d - 4800 + m // 10, m + 3 - 12 * (m // 10), e - (153 * m + 2) // 5 + 1


def _decode_array(array: dict[str, Any], element_type: str) -> list[Any]:
    if "arrayValues" in array:
        return [_decode_array(a, element_type) for a in array["arrayValues"]]
    for kind in ("longValues", "doubleValues", "booleanValues"):
        if kind in array:
            return list(array[kind])
    if "stringValues" in array:
        return [decode_field({"stringValue": s}, element_type) for s in array["stringValues"]]
    return []


DATA_API_ERRORS_METRIC = "DataApiErrors"
DATA_API_UNAVAILABLE_METRIC = "DataApiUnavailable"


def _count_refusal(error: D1Error | Unavailable | None) -> None:
    """One Data API call refused, counted by kind (None: a client-side failure with no better name)."""
    from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415 - only a failing call pays for these

    from ttai.observability import metrics  # noqa: PLC0415

    name = DATA_API_UNAVAILABLE_METRIC if isinstance(error, Unavailable) else DATA_API_ERRORS_METRIC
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _translate(exc: ClientError) -> D1Error | Unavailable:
    code, message = error_code(exc), str(exc.response.get("Error", {}).get("Message", ""))
    too_large = any(sign in message.lower() for sign in (_TOO_LARGE, "too large"))
    if code == "UnsupportedResultException" and not too_large:
        return D1QueryError(f"the Data API cannot return this result: {message}")
    if too_large:
        return D1ResponseTooLarge(
            "the result is over the Data API's 1 MiB response limit: select fewer columns or paginate "
            f"(LIMIT with a keyset cursor). Database said: {message}"
        )
    if code == "DatabaseResumingException":
        return D1Unavailable(f"the database is still resuming from auto-pause: {message}")
    if code == "TransactionNotFoundException":
        return D1TransactionGone(
            f"the transaction has ended (rolled back after an error, unused for 3 minutes, or "
            f"older than 24 hours): {message}"
        )
    busy = unavailable(exc, DEPENDENCY)  # throttled, failing for now (Aurora's writer away), or unreachable
    if busy is not None:
        return busy
    found = _SQLSTATE.search(message)
    sqlstate = found.group(1) if found else None
    kind: type[D1Error] = D1Error
    if sqlstate:
        kind = {"23": D1ConstraintError, "42": D1QueryError, "22": D1DataError, "40": D1ConflictError}.get(
            sqlstate[:2], D1Error
        )
    return kind(f"{code}: {message}" if code else message, sqlstate=sqlstate)
