"""A user's data as a file in their exports: rows read from SQL a page at a time, written to S3 as they come.

Nothing holds the whole file: each keyset page of rows is encoded and handed to the binding's streamed put, which
sends 8 MiB parts of a multipart upload (or one PutObject for a short file). Rows cross the Data API as
``to_jsonb`` text, so numbers keep their exact digits in both formats.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ttai.bindings.d1 import D1Database
from ttai.observability import logger
from ttai.services.storage import ExportFile, StorageService
from ttai.services.tables import Table, discover, row_texts

Dataset = Literal["analyses", "journal", "positions"]
Format = Literal["csv", "json"]
TABLES: dict[str, str] = {"analyses": "analyses", "journal": "trade_journal", "positions": "positions"}

_CHUNK_BYTES = 256 * 1024  # encoded rows gathered before they go to the upload


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    dataset: Dataset
    format: Format = "csv"


class ExportCreated(ExportFile):
    rows: int


class _Counter:
    rows = 0


def export_name(dataset: str, format: str) -> str:
    stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{dataset}-{stamp}-{secrets.token_hex(3)}.{format}"


class ExportService:
    def __init__(self, db: D1Database, storage: StorageService) -> None:
        if not storage.user_id:
            raise ValueError("exports are made for a user")
        self.db = db
        self.storage = storage
        self.user_id = storage.user_id

    def create(self, request: ExportRequest) -> ExportCreated:
        table = self._table(TABLES[request.dataset])
        columns = [c for c in self._columns(table.name) if c != "user_id"]
        counter = _Counter()
        rows = row_texts(self.db, table, where="user_id = ?1", params=(self.user_id,), drop_fields=("user_id",))
        encoded = _csv(rows, columns, counter) if request.format == "csv" else _json_array(rows, counter)
        name = export_name(request.dataset, request.format)
        saved = self.storage.save_export(name, _gathered(encoded))
        logger.info(
            "export written",
            extra={"dataset": request.dataset, "format": request.format, "rows": counter.rows, "bytes": saved.size},
        )
        return ExportCreated(**saved.model_dump(), rows=counter.rows)

    def _table(self, name: str) -> Table:
        for table in discover(self.db):
            if table.name == name:
                return table
        raise LookupError(f"table {name} does not exist")  # pragma: no cover - the migrations create it

    def _columns(self, table: str) -> list[str]:
        rows = (
            self.db.prepare(
                "SELECT column_name AS name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = ?1 ORDER BY ordinal_position"
            )
            .bind(table)
            .all()
            .results
        )
        return [str(r["name"]) for r in rows]


def _json_array(rows: Iterator[str], counter: _Counter) -> Iterator[str]:
    yield "["
    for text in rows:
        yield ("\n" if counter.rows == 0 else ",\n") + text
        counter.rows += 1
    yield "\n]\n"


def _csv(rows: Iterator[str], columns: list[str], counter: _Counter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for text in rows:
        row = json.loads(text, parse_float=Decimal)
        writer.writerow([_cell(row.get(column)) for column in columns])
        counter.rows += 1
        if buffer.tell() >= _CHUNK_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(value)


def _gathered(parts: Iterator[str]) -> Iterator[bytes]:
    """Small encoded pieces joined into chunks of about 256 KB, as bytes."""
    pending: list[str] = []
    size = 0
    for part in parts:
        pending.append(part)
        size += len(part)
        if size >= _CHUNK_BYTES:
            yield "".join(pending).encode("utf-8")
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode("utf-8")
