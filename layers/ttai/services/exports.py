"""A user's data as a file in their exports: rows read from SQL a page at a time, written to S3 a part at a time.

Nothing holds the whole file: ``ttai.services.export_file`` fills a part of about 5 MiB from keyset pages of rows
and uploads it (a multipart upload, or one PutObject for a short file). The export workflow writes each part in a
step of its own; ``ExportService.create`` writes them all now. Rows cross the Data API as ``to_jsonb`` text, so
numbers keep their exact digits in both formats.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ttai.bindings.d1 import D1Database
from ttai.observability import logger
from ttai.services.export_file import (
    ExportPlan,
    ExportWriter,
    FileReader,
    csv_header,
    rows_section,
    text_section,
    write_export,
)
from ttai.services.storage import ExportFile, StorageService
from ttai.services.tables import Table, discover

Dataset = Literal["analyses", "journal", "positions"]
Format = Literal["csv", "json"]
TABLES: dict[str, str] = {"analyses": "analyses", "journal": "trade_journal", "positions": "positions"}


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    dataset: Dataset
    format: Format = "csv"


class ExportCreated(ExportFile):
    rows: int


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

    def plan(self, request: ExportRequest) -> ExportPlan:
        """What the file holds, named: the header (CSV) or brackets (JSON) around the user's rows of the dataset."""
        table = self._table(TABLES[request.dataset])
        name = export_name(request.dataset, request.format)
        if request.format == "csv":
            columns = [c for c in self._columns(table.name) if c != "user_id"]
            rows = rows_section(table, "user_id", "csv", columns=columns, drop=("user_id",))
            return ExportPlan(name, [text_section(csv_header(columns)), rows])
        rows = rows_section(table, "user_id", "json", drop=("user_id",))
        return ExportPlan(name, [text_section("["), rows, text_section("\n]\n")])

    def writer(self) -> ExportWriter:
        return ExportWriter(self.storage, FileReader(self.db, self.user_id))

    def create(self, request: ExportRequest) -> ExportCreated:
        """The whole export written now, a part at a time (a short file is one PutObject)."""
        exported = write_export(self.plan(request), self.writer())
        logger.info(
            "export written",
            extra={
                "dataset": request.dataset,
                "format": request.format,
                "rows": exported.rows,
                "bytes": exported.file.size,
            },
        )
        return ExportCreated(**exported.file.model_dump(), rows=exported.rows)

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
