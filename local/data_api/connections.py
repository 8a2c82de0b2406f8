"""Connections to PostgreSQL: a pool of idle autocommit connections per database, and the transactions the Data API
holds open between calls (by id, until committed, rolled back, aborted by an error or expired)."""

from __future__ import annotations

import secrets
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import pq

from local.data_api.errors import DataApiError, database_error
from local.data_api.parameters import adapters

SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres"
Connection = psycopg.Connection[Any]
_MAX_REMEMBERED_ENDINGS = 10_000
_T = TypeVar("_T")


@dataclass(eq=False)
class Transaction:
    id: str
    database: str
    pool: Pool
    conn: Connection
    started: float
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class Pool:
    """Idle autocommit connections to one database; each goes back reset (``DISCARD ALL``), as in a real pool."""

    def __init__(self, uri: str, *, max_idle: int = 8) -> None:
        self.uri = uri
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._max_idle = max_idle

    def acquire(self) -> Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if _alive(conn):
                    return conn
                conn.close()
        try:
            return psycopg.Connection.connect(
                self.uri,
                autocommit=True,
                prepare_threshold=None,
                context=adapters(),
                cursor_factory=psycopg.RawCursor,
                options=SESSION_OPTIONS,
                application_name="ttai-local-data-api",
                connect_timeout=10,
            )
        except psycopg.OperationalError as exc:
            raise DataApiError("DatabaseUnavailableException", f"the database cannot be reached: {exc}") from exc

    def release(self, conn: Connection) -> None:
        if conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
            conn.close()
            return
        try:
            # Session state never outlives a call: the service runs calls on pooled connections too.
            conn.execute("DISCARD ALL")
        except psycopg.Error:
            conn.close()
            return
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _alive(conn: Connection) -> bool:
    """Whether an idle pooled connection still has its server: an idle one has nothing to read, so anything there
    is the server's goodbye (a FATAL notice as it shut down, or the socket's end), as after PostgreSQL restarted."""
    if conn.closed:
        return False
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return not readable


class Transactions:
    """The transactions open between calls, by id, and why each recently ended one ended (to say so to a late call).

    A transaction is busy while a call runs in it (its lock held); an error in a call aborts it, as the service does.
    One left unused longer than ``idle_timeout``, or older than ``max_age``, is rolled back.
    """

    def __init__(self, *, idle_timeout: float, max_age: float) -> None:
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self._open: dict[str, Transaction] = {}
        self._ended: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.RLock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def begin(self, database: str, pool: Pool) -> Transaction:
        conn = pool.acquire()
        try:
            conn.execute("BEGIN")
        except psycopg.Error as exc:
            pool.release(conn)
            raise database_error(exc) from exc
        now = time.monotonic()
        transaction = Transaction(secrets.token_urlsafe(48), database, pool, conn, now, now)
        with self._lock:
            self._open[transaction.id] = transaction
        return transaction

    def enter(self, transaction_id: str) -> Transaction:
        """The transaction, now busy with this call; unknown, ended or expired ids raise the documented errors."""
        now = time.monotonic()
        with self._lock:
            transaction = self._open.get(transaction_id)
            if transaction is None:
                raise self._not_found(transaction_id)
            if not transaction.lock.acquire(blocking=False):
                raise DataApiError("DatabaseErrorException", "Transaction is still running a query")
            expired = self._expired(transaction, now)
        if expired:
            self.end(transaction, "expired")
            raise self._not_found(transaction_id)
        return transaction

    def run(self, transaction: Transaction, work: Callable[[Connection, str], _T]) -> _T:
        """Run ``work`` in the (entered) transaction; an error aborts it, as the service does."""
        try:
            result = work(transaction.conn, transaction.pool.uri)
        except BaseException:
            self.end(transaction, "aborted")
            raise
        transaction.last_used = time.monotonic()
        transaction.lock.release()
        return result

    def end(self, transaction: Transaction, reason: str) -> None:
        """Forget the (entered) transaction: commit already done for "ended" commits, else roll back."""
        with self._lock:
            self._open.pop(transaction.id, None)
            self._ended[transaction.id] = reason
            while len(self._ended) > _MAX_REMEMBERED_ENDINGS:
                self._ended.popitem(last=False)
        conn = transaction.conn
        try:
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            conn.close()
        transaction.pool.release(conn)
        transaction.lock.release()

    def reap(self) -> None:
        """Roll back the transactions left idle past the timeout (also checked whenever a call names one)."""
        now = time.monotonic()
        with self._lock:
            idle = [t for t in self._open.values() if self._expired(t, now)]
            expired = [t for t in idle if t.lock.acquire(blocking=False)]
        for transaction in expired:
            self.end(transaction, "expired")

    def close(self) -> None:
        """Drop every open transaction's connection (the endpoint is stopping)."""
        with self._lock:
            open_transactions = list(self._open.values())
            self._open.clear()
        for transaction in open_transactions:
            transaction.conn.close()

    def _not_found(self, transaction_id: str) -> DataApiError:
        with self._lock:
            reason = self._ended.get(transaction_id, "expired")
        cause = {
            "expired": "it may have expired (unused for more than three minutes), or was never started",
            "ended": "a previous call already committed or rolled it back",
            "aborted": "it was rolled back after an error in a previous call",
        }[reason]
        return DataApiError("TransactionNotFoundException", f"Transaction {transaction_id} is not found: {cause}")

    def _expired(self, transaction: Transaction, now: float) -> bool:
        return now - transaction.last_used > self.idle_timeout or now - transaction.started > self.max_age
