"""``LocalDataApi``: the ``rds-data`` endpoint, its five operations over PostgreSQL, its limits and timeouts."""

from __future__ import annotations

import functools
import json
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import psycopg
from psycopg import pq

from local.data_api.connections import Connection, Pool, Transactions
from local.data_api.errors import DataApiError, database_error
from local.data_api.metadata import column_metadata, load_types
from local.data_api.named_sql import single_statement
from local.data_api.parameters import Typed, bind_parameters
from local.data_api.results import (
    Column,
    Outcome,
    PgType,
    ResultOptions,
    encode_value,
    field_as_json,
    read_rows,
    unsupported_type,
)
from local.data_api.server import ROUTES, Answer, HttpServer, error_response, json_response
from local.data_api.validation import validate_request
from local.service import Service
from ttai.bindings.d1 import DATA_API_REQUEST_MAX_BYTES, DATA_API_RESPONSE_MAX_BYTES, DATA_API_ROW_MAX_BYTES

# Documented limits and timings of the Data API (its size limits are the D1 binding's).
RESPONSE_LIMIT = DATA_API_RESPONSE_MAX_BYTES  # bytes of result data one call may return
ROW_LIMIT = DATA_API_ROW_MAX_BYTES  # bytes of one result row
FORMATTED_RECORDS_LIMIT = 10 * 1000 * 1000  # characters of formattedRecords
REQUEST_LIMIT = DATA_API_REQUEST_MAX_BYTES  # bytes of one HTTP request
STATEMENT_TIMEOUT = 45.0  # seconds before a call is cancelled
TRANSACTION_IDLE_TIMEOUT = 180.0  # seconds a transaction may go unused before it is rolled back
TRANSACTION_MAX_AGE = 24 * 3600.0  # seconds a transaction may live at all

_RESUMABLE = frozenset({"ExecuteStatement", "BatchExecuteStatement", "BeginTransaction"})
_T = TypeVar("_T")


class LocalDataApi(Service):
    """An ``rds-data`` endpoint on 127.0.0.1 for one cluster ARN and one secret ARN.

    ``databases`` maps a Data API ``database`` name to a libpq URI (or is a function giving the URI, or None for
    an unknown name). Choices where the documentation is silent or unclear:

    - SQL errors are ``DatabaseErrorException`` (``BadRequestException`` is deprecated for them): PostgreSQL's
      severity, message, Detail/Hint/Position/Where lines, then ``; SQLState: XXXXX``. An unknown database is the
      same error with SQLSTATE 3D000, as PostgreSQL reports it.
    - An error inside a transaction aborts it: the transaction is rolled back and its id is then unknown
      (``TransactionNotFoundException``), as the troubleshooting guide lists among the causes.
    - A batch without a transaction is atomic (one implicit transaction). Its ``updateResults`` carry empty
      ``generatedFields`` (not supported for PostgreSQL); rows a ``RETURNING`` gives are not returned.
    - Size limits are measured on the result data PostgreSQL sends (text format): over 1 MiB per call or 64 KB
      per row is an ``UnsupportedResultException``, never a truncated result. An autocommitted statement whose
      result is too large has still taken effect.
    - The statement timeout (45 s) cancels the statement (``StatementTimeoutException``). With
      ``continueAfterTimeout`` the caller gets the same error while the statement keeps running to completion
      (and its transaction stays busy until then).
    - Several statements in one call are refused as PostgreSQL refuses them in a prepared statement.
    - ``schema`` is refused (``BadRequestException``), as Serverless v2 and provisioned clusters do.
    - ``formatRecordsAs: JSON`` returns no ``columnMetadata`` even when asked; DECIMAL values are JSON strings
      unless ``decimalReturnType`` is DOUBLE_OR_LONG; JSON columns are strings; duplicate labels: the last wins.
    - ``:name`` written inside a dollar-quoted string, for a parameter that is passed, is refused: the service
      would substitute it there too. ``:1`` (an array slice ``a[1:2]``) is read as a parameter, as there.
    - Parameters are typed: a plain string is varchar, a long int8, a double float8, a blob bytea; typeHint JSON
      binds as json (so jsonb operators need ``:p::jsonb``), TIMESTAMP as timestamp (read as UTC), DECIMAL as
      numeric. Hinted DATE/TIME/TIMESTAMP strings must be in the documented formats.
    - Results: only the documented types (plus enums, ``void`` as an empty string); others, bytea arrays and
      multidimensional arrays are an ``UnsupportedResultException`` (cast to text in the SQL).
    """

    def __init__(
        self,
        databases: Mapping[str, str] | Callable[[str], str | None],
        *,
        cluster_arn: str,
        secret_arn: str,
        default_database: str | None = None,
        statement_timeout: float = STATEMENT_TIMEOUT,
        transaction_timeout: float = TRANSACTION_IDLE_TIMEOUT,
        transaction_max_age: float = TRANSACTION_MAX_AGE,
        response_limit: int = RESPONSE_LIMIT,
        row_limit: int = ROW_LIMIT,
        port: int = 0,
    ) -> None:
        self.cluster_arn = cluster_arn
        self.secret_arn = secret_arn
        self.default_database = default_database
        self.statement_timeout = statement_timeout
        self.response_limit = response_limit
        self.row_limit = row_limit
        self.requests: Counter[str] = Counter()  # requests received, by operation name
        self.transactions = Transactions(idle_timeout=transaction_timeout, max_age=transaction_max_age)
        self._databases = databases
        self._port = port
        self._server: HttpServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._pools: dict[str, Pool] = {}
        self._types: dict[tuple[str, int], PgType] = {}
        self._paused = 0
        self.endpoint_url = ""

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._server is not None:
            return
        self._stopping.clear()
        self._server = HttpServer(("127.0.0.1", self._port), self.handle)
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host!s}:{port}"
        serve = threading.Thread(
            target=functools.partial(self._server.serve_forever, poll_interval=0.1), name="local-data-api", daemon=True
        )
        reap = threading.Thread(target=self._reap, name="local-data-api-reaper", daemon=True)
        self._threads = [serve, reap]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None
        self.transactions.close()
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()

    def _reap(self) -> None:
        interval = max(0.05, min(1.0, self.transactions.idle_timeout / 4))
        while not self._stopping.wait(interval):
            self.transactions.reap()

    # ---------------------------------------------------------------- test hooks

    def pause(self, requests: int = 1) -> None:
        """Fail the next ``requests`` statement or begin calls with ``DatabaseResumingException`` (auto-pause)."""
        with self._lock:
            self._paused = requests

    @property
    def open_transactions(self) -> int:
        return len(self.transactions)

    # ---------------------------------------------------------------- requests

    def handle(self, method: str, path: str, body: bytes) -> Answer:
        """One HTTP request: (status, headers, body) as the service would answer it."""
        operation = ROUTES.get(path) if method == "POST" else None
        if operation is None:
            return error_response(DataApiError("UnknownOperationException", f"no operation at {method} {path}"))
        with self._lock:
            self.requests[operation] += 1
        try:
            result = self._dispatch(operation, body)
        except DataApiError as exc:
            return error_response(exc)
        except Exception as exc:  # noqa: BLE001 - anything unexpected is the service's internal error
            traceback.print_exc()
            return error_response(DataApiError("InternalServerErrorException", f"internal error: {exc}"))
        return json_response(result)

    def _dispatch(self, operation: str, body: bytes) -> dict[str, Any]:
        if len(body) > REQUEST_LIMIT:
            raise DataApiError("BadRequestException", f"the request is {len(body)} bytes; the limit is 4 MiB")
        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            raise DataApiError("BadRequestException", f"the request body is not JSON: {exc}") from exc
        problems = validate_request(operation, request)
        if problems:
            count = len(problems)
            raise DataApiError(
                "BadRequestException",
                f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(problems)}",
            )
        if request["resourceArn"] != self.cluster_arn:
            raise DataApiError(
                "HttpEndpointNotEnabledException", f"HttpEndpoint is not enabled for resource {request['resourceArn']}"
            )
        if request["secretArn"] != self.secret_arn:
            raise DataApiError("SecretsErrorException", f"The secret {request['secretArn']} was not found")
        if "schema" in request:
            raise DataApiError(
                "BadRequestException", "The schema parameter isn't supported; qualify names in the SQL instead"
            )
        if operation in _RESUMABLE:
            with self._lock:
                resuming = self._paused > 0
                self._paused -= resuming
            if resuming:
                raise DataApiError(
                    "DatabaseResumingException",
                    f"The database of {self.cluster_arn} is resuming after being auto-paused; retry in a few seconds",
                )
        handler: Callable[[dict[str, Any]], dict[str, Any]] = {
            "ExecuteStatement": self._execute_statement,
            "BatchExecuteStatement": self._batch_execute_statement,
            "BeginTransaction": self._begin_transaction,
            "CommitTransaction": self._commit_transaction,
            "RollbackTransaction": self._rollback_transaction,
        }[operation]
        return handler(request)

    # ---------------------------------------------------------------- operations

    def _execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        named = single_statement(request["sql"])
        values = bind_parameters(named, request.get("parameters") or [])
        options = ResultOptions.from_request(request)
        as_json = request.get("formatRecordsAs") == "JSON"
        with_metadata = bool(request.get("includeResultMetadata")) and not as_json
        keep_running = bool(request.get("continueAfterTimeout"))
        timeout_ms = 0 if keep_running else self._timeout_ms(self.statement_timeout)

        def work(conn: Connection, uri: str) -> dict[str, Any]:
            outcome = self._run(conn, named.text, values, timeout_ms)
            return self._statement_response(conn, uri, outcome, options, as_json=as_json, with_metadata=with_metadata)

        transaction_id = request.get("transactionId")
        if transaction_id:
            transaction = self.transactions.enter(transaction_id)
            return self._with_timeout(lambda: self.transactions.run(transaction, work), keep_running)
        pool = self._pool_for(request.get("database"))
        conn = pool.acquire()
        return self._with_timeout(lambda: self._on_pooled(pool, conn, work), keep_running)

    def _batch_execute_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        named = single_statement(request["sql"])
        parameter_sets = [bind_parameters(named, s) for s in request.get("parameterSets") or []]
        deadline = time.monotonic() + self.statement_timeout

        def work(conn: Connection, uri: str) -> dict[str, Any]:
            for values in parameter_sets:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DataApiError(
                        "StatementTimeoutException", "The batch timed out", dbConnectionId=conn.info.backend_pid
                    )
                self._run(conn, named.text, values, self._timeout_ms(remaining))
            return {"updateResults": [{"generatedFields": []} for _ in parameter_sets]}

        transaction_id = request.get("transactionId")
        if transaction_id:
            return self.transactions.run(self.transactions.enter(transaction_id), work)
        pool = self._pool_for(request.get("database"))
        conn = pool.acquire()

        def atomic(conn: Connection, uri: str) -> dict[str, Any]:
            try:
                conn.execute("BEGIN")
                try:
                    result = work(conn, uri)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                raise database_error(exc) from exc
            return result

        return self._on_pooled(pool, conn, atomic)

    def _begin_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        database = self._database_name(request.get("database"))
        transaction = self.transactions.begin(database, self._pool_for(database))
        return {"transactionId": transaction.id}

    def _commit_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        transaction = self.transactions.enter(request["transactionId"])
        try:
            transaction.conn.execute("COMMIT")
        except psycopg.Error as exc:
            self.transactions.end(transaction, "aborted")
            raise database_error(exc) from exc
        self.transactions.end(transaction, "ended")
        return {"transactionStatus": "Transaction Committed"}

    def _rollback_transaction(self, request: dict[str, Any]) -> dict[str, Any]:
        transaction = self.transactions.enter(request["transactionId"])
        self.transactions.end(transaction, "ended")
        return {"transactionStatus": "Rollback Complete"}

    # ---------------------------------------------------------------- running statements
    def _run(self, conn: Connection, sql: str, values: list[Typed | None], timeout_ms: int) -> Outcome:
        """One statement on ``conn``; psycopg errors become the Data API's errors."""
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(timeout_ms)}")
                cursor.execute(sql, values or None)
                result = cursor.pgresult
                assert result is not None
                status = cursor.statusmessage or ""
                updated = cursor.rowcount if status.split(" ")[0] in {"INSERT", "UPDATE", "DELETE", "MERGE"} else 0
                if result.status != pq.ExecStatus.TUPLES_OK:
                    return Outcome(None, [], max(updated, 0))
                columns = [
                    Column(
                        (result.fname(i) or b"").decode(),
                        result.ftype(i),
                        result.fmod(i),
                        result.ftable(i),
                        result.ftablecol(i),
                    )
                    for i in range(result.nfields)
                ]
                rows = read_rows(result, row_limit=self.row_limit, response_limit=self.response_limit)
                return Outcome(columns, rows, max(updated, 0))
        except psycopg.errors.QueryCanceled as exc:
            raise DataApiError(
                "StatementTimeoutException",
                f"The statement was cancelled after the {self.statement_timeout:g} s timeout",
                dbConnectionId=conn.info.backend_pid,
            ) from exc
        except psycopg.Error as exc:
            raise database_error(exc) from exc

    def _statement_response(
        self,
        conn: Connection,
        uri: str,
        outcome: Outcome,
        options: ResultOptions,
        *,
        as_json: bool,
        with_metadata: bool,
    ) -> dict[str, Any]:
        response: dict[str, Any] = {"numberOfRecordsUpdated": outcome.updated}
        if outcome.columns is None:
            response["generatedFields"] = []
            return response
        types = self._pg_types(conn, uri, [c.type_oid for c in outcome.columns])
        for column in outcome.columns:
            reason = unsupported_type(types[column.type_oid])
            if reason:
                raise DataApiError("UnsupportedResultException", f"{reason} (column {column.name!r})")
        records = [
            [encode_value(value, types[c.type_oid], options) for value, c in zip(row, outcome.columns, strict=True)]
            for row in outcome.rows
        ]
        if as_json:
            labels = [c.name for c in outcome.columns]
            objects = [dict(zip(labels, (field_as_json(f) for f in record), strict=True)) for record in records]
            formatted = json.dumps(objects, separators=(",", ":"))
            if len(formatted) > FORMATTED_RECORDS_LIMIT:
                raise DataApiError("UnsupportedResultException", "The JSON-formatted result is over its 10 MB limit")
            response["formattedRecords"] = formatted
            return response
        response["records"] = records
        if with_metadata:
            response["columnMetadata"] = column_metadata(conn, outcome.columns, types)
        return response

    def _pg_types(self, conn: Connection, uri: str, oids: Sequence[int]) -> dict[int, PgType]:
        """``pg_type`` facts for these OIDs (built-in types cached for all databases, others per database)."""

        def key(oid: int) -> tuple[str, int]:
            return ("" if oid < 16384 else uri, oid)

        with self._lock:
            known = {oid: self._types[key(oid)] for oid in oids if key(oid) in self._types}
        missing = sorted(set(oids) - known.keys())
        if missing:
            try:
                found = load_types(conn, missing)
            except psycopg.Error as exc:
                raise database_error(exc) from exc
            with self._lock:
                for oid, pg_type in found.items():
                    self._types[key(oid)] = pg_type
            known.update(found)
        return known

    # ---------------------------------------------------------------- connections and transactions

    def _database_name(self, requested: str | None) -> str:
        name = requested or self.default_database
        if not name:
            raise DataApiError(
                "DatabaseErrorException", "ERROR: no database was given and none is configured; SQLState: 3D000"
            )
        return name

    def _pool_for(self, requested: str | None) -> Pool:
        name = self._database_name(requested)
        uri = self._databases(name) if callable(self._databases) else self._databases.get(name)
        if uri is None:
            raise DataApiError("DatabaseErrorException", f'ERROR: database "{name}" does not exist; SQLState: 3D000')
        with self._lock:
            pool = self._pools.get(uri)
            if pool is None:
                pool = self._pools[uri] = Pool(uri)
        return pool

    def _on_pooled(self, pool: Pool, conn: Connection, work: Callable[[Connection, str], _T]) -> _T:
        try:
            return work(conn, pool.uri)
        finally:
            pool.release(conn)

    def _with_timeout(self, call: Callable[[], _T], keep_running: bool) -> _T:
        """``call()``; with ``continueAfterTimeout`` the caller gets the timeout error while the work goes on."""
        if not keep_running:
            return call()
        future: Future[_T] = Future()

        def run() -> None:
            try:
                future.set_result(call())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                future.set_exception(exc)

        threading.Thread(target=run, name="local-data-api-statement", daemon=True).start()
        try:
            return future.result(timeout=self.statement_timeout)
        except FutureTimeout:
            raise DataApiError(
                "StatementTimeoutException",
                f"The call timed out after {self.statement_timeout:g} s; the statement continues to run",
            ) from None

    @staticmethod
    def _timeout_ms(seconds: float) -> int:
        return max(1, int(seconds * 1000))
