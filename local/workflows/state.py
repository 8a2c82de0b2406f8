"""What the local workflows keep beside the runner's own store: the instance registry, the event mailbox (one
SQLite file, the same records the DynamoDB table holds on AWS), and a directory standing in for the bucket.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ttai.bindings.workflows.backend import Delivery, InstanceRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    workflow TEXT NOT NULL, instance_id TEXT NOT NULL, execution_name TEXT NOT NULL, generation INTEGER NOT NULL,
    execution_arn TEXT, created_ms INTEGER NOT NULL, PRIMARY KEY (workflow, instance_id));
CREATE TABLE IF NOT EXISTS waiters (
    scope TEXT NOT NULL, event_type TEXT NOT NULL, callback_id TEXT NOT NULL, deadline_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, event_type));
CREATE TABLE IF NOT EXISTS inbox (
    scope TEXT NOT NULL, event_type TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT, envelope TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_by_type ON inbox (scope, event_type, seq);
"""


class SqliteInstanceStore:
    """The registry and mailbox in one SQLite file; a claim is one transaction, as on DynamoDB."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add_instance(self, record: InstanceRecord) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO instances VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.workflow,
                    record.instance_id,
                    record.execution_name,
                    record.generation,
                    record.execution_arn,
                    record.created_ms,
                ),
            )
            return cursor.rowcount == 1

    def get_instance(self, workflow: str, instance_id: str) -> InstanceRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT workflow, instance_id, execution_name, generation, execution_arn, created_ms FROM instances"
                " WHERE workflow = ? AND instance_id = ?",
                (workflow, instance_id),
            ).fetchone()
        return InstanceRecord(*row) if row else None

    def replace_instance(self, record: InstanceRecord, expected_generation: int) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE instances SET execution_name = ?, generation = ?, execution_arn = ?, created_ms = ?"
                " WHERE workflow = ? AND instance_id = ? AND generation = ?",
                (
                    record.execution_name,
                    record.generation,
                    record.execution_arn,
                    record.created_ms,
                    record.workflow,
                    record.instance_id,
                    expected_generation,
                ),
            )
            return cursor.rowcount == 1

    def remove_instance(self, record: InstanceRecord) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM instances WHERE workflow = ? AND instance_id = ? AND generation = ?",
                (record.workflow, record.instance_id, record.generation),
            )

    def records(self) -> list[InstanceRecord]:
        """Every instance of every workflow, newest first (``ttai workflows list``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT workflow, instance_id, execution_name, generation, execution_arn, created_ms FROM instances"
                " ORDER BY created_ms DESC, workflow, instance_id"
            ).fetchall()
        return [InstanceRecord(*row) for row in rows]

    def buffer_event(self, scope: str, event_type: str, envelope: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO inbox (scope, event_type, envelope) VALUES (?, ?, ?)", (scope, event_type, envelope)
            )

    def set_waiter(self, scope: str, event_type: str, callback_id: str, deadline_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO waiters VALUES (?, ?, ?, ?)", (scope, event_type, callback_id, deadline_ms)
            )

    def claim(self, scope: str, event_type: str, callback_id: str | None = None) -> Delivery | None:
        with self._lock, self._transaction():
            waiter = self._db.execute(
                "SELECT callback_id FROM waiters WHERE scope = ? AND event_type = ?", (scope, event_type)
            ).fetchone()
            event = self._db.execute(
                "SELECT seq, envelope FROM inbox WHERE scope = ? AND event_type = ? ORDER BY seq LIMIT 1",
                (scope, event_type),
            ).fetchone()
            if waiter is None or event is None or (callback_id is not None and waiter[0] != callback_id):
                return None
            self._db.execute("DELETE FROM waiters WHERE scope = ? AND event_type = ?", (scope, event_type))
            self._db.execute("DELETE FROM inbox WHERE seq = ?", (event[0],))
            return Delivery(waiter[0], event[1])

    def expired_waiters(self, now_ms: int) -> list[tuple[str, str, str]]:
        with self._lock:
            return self._db.execute(
                "SELECT scope, event_type, callback_id FROM waiters WHERE deadline_ms <= ?", (now_ms,)
            ).fetchall()

    def take_waiter(self, scope: str, event_type: str, callback_id: str) -> bool:
        """Remove a waiter whose wait timed out, unless an event was delivered to it meanwhile."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM waiters WHERE scope = ? AND event_type = ? AND callback_id = ?",
                (scope, event_type, callback_id),
            )
            return cursor.rowcount == 1

    def _transaction(self) -> Any:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


class DirectoryBucket:
    """Blobs as files under a directory: the local stand-in for the bucket big step results go to."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def put(self, key: str, value: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{time.monotonic_ns()}.partial")
        partial.write_bytes(value)
        partial.replace(path)

    def get(self, key: str) -> _Blob | None:
        path = self._path(key)
        return _Blob(path.read_bytes()) if path.is_file() else None

    def _path(self, key: str) -> Path:
        parts = [part for part in key.split("/") if part not in ("", ".", "..")]
        return self._root.joinpath(*parts)


class _Blob:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def bytes(self) -> bytes:
        return self._data
