"""A user's export file, written a part at a time: what goes in it, and each part from where the last one stopped.

A file is a list of sections, plain JSON so that a workflow can checkpoint them: literal text, the user's rows of a
table (CSV or JSON), their cache entries, their objects. A part is filled from a position (which section, where in
it, how many items it has written so far) until it holds PART_BYTES, always ending at a page boundary, and comes
back with the position after it. A workflow step writes one part (of a multipart upload, or the whole file in one
PutObject when the first part is also the last) and checkpoints that position and the upload id; the next step
carries on from there. Memory holds one part, never the file.

Rows cross the Data API as ``to_jsonb`` text, so numbers keep their exact digits in both formats. Each page is read
when its part is written: a long export is not one snapshot, but every row is in it once, as its page found it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from ttai.bindings.d1 import D1Database
from ttai.bindings.r2 import PART_MIN_BYTES, R2Bucket, R2UploadedPart
from ttai.services.storage import ExportFile, StorageService, content_type
from ttai.services.tables import Table, portable_key, row_pages
from ttai.tenant_keys import user_objects_prefix

if TYPE_CHECKING:
    from ttai.bindings.kv import KVNamespace

T = TypeVar("T")
PART_BYTES = PART_MIN_BYTES  # S3's smallest part but the last: a part ends at the first page boundary past it
Owner = Literal["user_id", "id"]
Encoding = Literal["csv", "json"]
_OWNED_BY = {"user_id": "user_id = ?1", "id": "id = ?1"}  # ?1 is the user id
_CACHE_PAGE = 1000  # KV keys listed a page (each read with one GetItem)

Section = dict[str, Any]
# Runs one named stage of the file (a part, the completion) and returns its result: at once here, or as a workflow
# step whose result is checkpointed. Its results are JSON.
Stage = Callable[[str, Callable[[], T]], T]


def text_section(text: str) -> Section:
    return {"text": text}


def rows_section(
    table: Table, owner: Owner, encoding: Encoding, *, columns: Sequence[str] = (), drop: Sequence[str] = ()
) -> Section:
    """The user's rows of ``table`` (``owner`` is the column holding their id), in primary-key order; CSV rows
    take ``columns`` in that order, JSON rows are the row's object without ``drop``."""
    return {
        "rows": table.name,
        "primary_key": list(table.primary_key),
        "key_types": list(table.key_types),
        "owner": owner,
        "encoding": encoding,
        "columns": list(columns),
        "drop": list(drop),
    }


def cache_section() -> Section:
    """The user's cache entries (key, value, expiration), as JSON objects."""
    return {"cache": True}


def objects_section() -> Section:
    """The user's objects (key, size, uploaded, etag), as JSON objects."""
    return {"objects": True}


class ExportPlan(NamedTuple):
    name: str  # the file's name in the user's exports
    sections: list[Section]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sections": self.sections}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportPlan:
        return cls(str(data["name"]), list(data["sections"]))


class FilePosition(NamedTuple):
    section: int = 0
    at: Any = None  # rows: the primary key last written; cache, objects: the listing's cursor
    items: int = 0  # items of the section written so far (JSON puts a comma before all but the first)


class FilePage(NamedTuple):
    data: bytes
    rows: int
    after: FilePosition  # where the next page starts


class ExportedFile(NamedTuple):
    file: ExportFile
    rows: int


class FileReader:
    """Encodes a plan's sections page by page for one user (their rows, cache entries and objects)."""

    def __init__(self, db: D1Database, user_id: str, *, kv: KVNamespace | None = None, bucket: R2Bucket | None = None):
        self.db = db
        self.user_id = user_id
        self.kv = kv
        self.bucket = bucket

    def fill(
        self, plan: ExportPlan, position: FilePosition, target: int = PART_BYTES
    ) -> tuple[bytes, int, FilePosition | None]:
        """The pages from ``position`` until they hold ``target`` bytes: their bytes, rows, and the position after
        them (None when the file ends with them)."""
        buffer = bytearray()
        rows = 0
        after: FilePosition | None = position
        for page in self.pages(plan.sections, position):
            buffer += page.data
            rows += page.rows
            after = page.after
            if len(buffer) >= target:
                break
        else:
            after = None
        if after is not None and after.section >= len(plan.sections):
            after = None
        return bytes(buffer), rows, after

    def pages(self, sections: Sequence[Section], position: FilePosition) -> Iterator[FilePage]:
        for index in range(position.section, len(sections)):
            start = position if index == position.section else FilePosition(index)
            section = sections[index]
            if "text" in section:
                yield FilePage(str(section["text"]).encode("utf-8"), 0, FilePosition(index + 1))
                continue
            if "rows" in section:
                yield from self._rows(section, start)
            elif "cache" in section:
                yield from self._cache(start)
            elif "objects" in section:
                yield from self._objects(start)
            else:
                raise ValueError(f"unknown export section {sorted(section)}")
            yield FilePage(b"", 0, FilePosition(index + 1))

    def _rows(self, section: Section, start: FilePosition) -> Iterator[FilePage]:
        table = Table(
            name=section["rows"],
            primary_key=tuple(section["primary_key"]),
            key_types=tuple(section["key_types"]),
            identity_columns=(),
            references=(),
            has_user_id=True,
        )
        count = start.items
        for page in row_pages(
            self.db,
            table,
            where=_OWNED_BY[section["owner"]],
            params=(self.user_id,),
            drop_fields=section["drop"],
            after=start.at,
        ):
            if section["encoding"] == "csv":
                data = _csv_rows([text for _, text in page], section["columns"])
            else:
                data = _json_items((text for _, text in page), count)
            count += len(page)
            yield FilePage(data, len(page), FilePosition(start.section, portable_key(page[-1][0]), count))

    def _cache(self, start: FilePosition) -> Iterator[FilePage]:
        from ttai.services.cache import CacheKeys  # noqa: PLC0415 - only the account archive reads the cache

        if self.kv is None:
            raise ValueError("an export of cache entries needs the KV binding")
        cursor, count = start.at, start.items
        while True:
            listed = self.kv.list(prefix=CacheKeys.user_prefix(self.user_id), cursor=cursor, limit=_CACHE_PAGE)
            entries = []
            for key in listed.keys:
                value = self.kv.get(key.name, "text")
                if value is not None:  # expired since it was listed
                    entry = {"key": key.name, "value": _json_or_text(value), "expiration": key.expiration}
                    entries.append(json.dumps(entry, ensure_ascii=False))
            data = _json_items(entries, count)
            count += len(entries)
            yield FilePage(data, len(entries), FilePosition(start.section, listed.cursor, count))
            if listed.list_complete or not listed.cursor:
                return
            cursor = listed.cursor

    def _objects(self, start: FilePosition) -> Iterator[FilePage]:
        if self.bucket is None:
            raise ValueError("an export of objects needs the R2 binding")
        cursor, count = start.at, start.items
        while True:
            listed = self.bucket.list(prefix=user_objects_prefix(self.user_id), cursor=cursor)
            entries = [
                json.dumps({"key": o.key, "size": o.size, "uploaded": o.uploaded.isoformat(), "etag": o.etag})
                for o in listed.objects
            ]
            data = _json_items(entries, count)
            count += len(entries)
            yield FilePage(data, len(entries), FilePosition(start.section, listed.cursor, count))
            if not listed.truncated or not listed.cursor:
                return
            cursor = listed.cursor


class ExportWriter:
    """Writes a plan into the user's exports one part at a time (see the module docstring)."""

    def __init__(self, storage: StorageService, reader: FileReader) -> None:
        self.storage = storage
        self.reader = reader

    def write_part(
        self, plan: ExportPlan, number: int, position: FilePosition, upload_id: str | None
    ) -> dict[str, Any]:
        """Part ``number`` from ``position``: ``{"number", "etag", "bytes", "rows", "next", "upload_id"}``, plus
        ``"uploaded"`` when the first part was the whole file (one PutObject, nothing to complete)."""
        data, rows, after = self.reader.fill(plan, position)
        written: dict[str, Any] = {"number": number, "bytes": len(data), "rows": rows, "upload_id": upload_id}
        written["next"] = list(after) if after is not None else None
        if number == 1 and after is None:
            saved = self.storage.save_export(plan.name, data)
            return {**written, "etag": None, "bytes": saved.size, "uploaded": saved.uploaded.isoformat()}
        if not data:  # the last part was full and the file ended right after it
            return {**written, "number": None, "etag": None}
        if upload_id is None:
            upload = self.storage.start_export_upload(plan.name)
        else:
            upload = self.storage.export_upload(plan.name, upload_id)
        part = upload.upload_part(number, data)
        return {**written, "etag": part.etag, "upload_id": upload.upload_id}

    def complete(self, plan: ExportPlan, upload_id: str, parts: Sequence[tuple[int, str]]) -> dict[str, Any]:
        upload = self.storage.export_upload(plan.name, upload_id)
        done = upload.complete([R2UploadedPart(part_number=n, etag=etag) for n, etag in parts])
        if done is None:  # pragma: no cover - an unconditional completion always writes
            raise LookupError(f"export {plan.name} was not completed")
        return {"bytes": done.size, "uploaded": done.uploaded.isoformat()}

    def abort(self, plan: ExportPlan, upload_id: str) -> None:
        self.storage.export_upload(plan.name, upload_id).abort()


def run_now(name: str, stage: Callable[[], T]) -> T:
    """The ``Stage`` of an export written in one go (no workflow)."""
    return stage()


def write_export(
    plan: ExportPlan,
    writer: ExportWriter,
    stage: Stage[Any] = run_now,
    *,
    failures: tuple[type[Exception], ...] = (Exception,),
) -> ExportedFile:
    """Write the whole file, a stage per part and one to complete it; on a failure in ``failures`` an unfinished
    upload is aborted (as a stage of its own) and the failure raised again."""
    position = FilePosition()
    parts: list[tuple[int, str]] = []
    upload_id: str | None = None
    rows = 0
    try:
        while True:

            def part(number: int = len(parts) + 1, at: FilePosition = position, upload: str | None = upload_id) -> Any:
                return writer.write_part(plan, number, at, upload)

            written = stage("part", part)
            rows += int(written["rows"])
            upload_id = written["upload_id"]
            if written["number"] is not None and written["etag"] is not None:
                parts.append((int(written["number"]), str(written["etag"])))
            if "uploaded" in written:  # the whole file in one PutObject
                return _exported(plan, written, rows)
            if written["next"] is None:
                break
            position = FilePosition(*written["next"])
        assert upload_id is not None  # more than one part: an upload was started
        finished: str = upload_id
        completed = stage("complete", lambda: writer.complete(plan, finished, parts))
    except failures:
        if upload_id is not None:
            unfinished: str = upload_id
            stage("abort", lambda: writer.abort(plan, unfinished))
        raise
    return _exported(plan, completed, rows)


def _exported(plan: ExportPlan, written: dict[str, Any], rows: int) -> ExportedFile:
    file = ExportFile(
        name=plan.name,
        size=int(written["bytes"]),
        uploaded=datetime.fromisoformat(written["uploaded"]),
        content_type=content_type(plan.name),
    )
    return ExportedFile(file, rows)


def _json_items(items: Iterator[str] | Sequence[str], count: int) -> bytes:
    """JSON values as the members of an array that already has ``count``: a comma and a line break between."""
    out = io.StringIO()
    for text in items:
        out.write(",\n" if count else "\n")
        out.write(text)
        count += 1
    return out.getvalue().encode("utf-8")


def _csv_rows(texts: Sequence[str], columns: Sequence[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for text in texts:
        row = json.loads(text, parse_float=Decimal)
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue().encode("utf-8")


def csv_header(columns: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(columns)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(value)


def _json_or_text(value: str) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return value
