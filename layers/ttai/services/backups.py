"""Backups of the whole database to the bucket's backups/ prefix, and restores of one into an empty database.

A backup is a folder ``backups/<scheduled time>/``: one gzip'd JSON-lines file per table (a line per row, the
row's ``to_jsonb``), written as it is read (multipart, never whole in memory), then ``manifest.json`` last, so a
folder without a manifest is an unfinished backup. The manifest records the migrations applied (version, name,
checksum), and per table its file, row count and the SHA-256 of its uncompressed lines, in foreign-key order.
Every table is read in one REPEATABLE READ, READ ONLY transaction: one snapshot, so a child row written during
the backup can never point at a parent the backup missed.

A restore applies the migrations the backup was taken at, loads every table in that order inside one
transaction (identity values kept with OVERRIDING SYSTEM VALUE, sequences moved past them; audit_events only
takes INSERTs, which is all a restore does), then applies any newer migrations, as a deploy would.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ttai.bindings.d1 import D1Database, D1Transaction
from ttai.bindings.r2 import R2Bucket, R2HTTPMetadata, R2ObjectBody
from ttai.errors import TtaiError
from ttai.layout import storage_layout
from ttai.migrations import apply
from ttai.migrations import discover as discover_migrations
from ttai.observability import logger
from ttai.services.tables import Table, discover, row_texts

if TYPE_CHECKING:
    from ttai.env import Env

FORMAT = "ttai-backup/1"
MANIFEST = "manifest.json"
BOOKKEEPING_TABLE = "schema_migrations"  # the restore's own migrations fill it
LOAD_BATCH_BYTES = 512 * 1024  # JSON per INSERT: well under the Data API's 4 MiB request


class BackupError(TtaiError):
    """A backup that cannot be restored here: unfinished, damaged, newer than this code, or a non-empty target."""


@dataclass(frozen=True, slots=True)
class RestoreReport:
    prefix: str
    tables: int
    rows: int
    schema_version: int | None


def backup_prefix(scheduled_time: datetime) -> str:
    """``backups/<UTC time>/``, one folder per scheduled run (a re-run of the same one overwrites it)."""
    if scheduled_time.utcoffset() is None:
        raise BackupError("the scheduled time needs a time zone")
    stamp = scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    return f"{storage_layout().bucket_prefixes['backups']}{stamp}/"


def run_backup(env: Env, scheduled_time: datetime) -> dict[str, Any]:
    """Write every table to ``backups/<scheduled_time>/``; returns counts for the job's metadata."""
    return write_backup(env.DB, env.R2, scheduled_time)


def write_backup(db: D1Database, bucket: R2Bucket, scheduled_time: datetime) -> dict[str, Any]:
    started = time.perf_counter()
    prefix = backup_prefix(scheduled_time)
    tables = discover(db)
    migrations = [
        {"version": r["version"], "name": r["name"], "checksum": r["checksum"]}
        for r in db.prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version").all().results
    ]
    entries = []
    total_rows = 0
    total_bytes = 0
    # One snapshot for every table: a child row written mid-backup cannot point at a parent the backup missed.
    with db.transaction() as tx:
        tx.run(db.prepare("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        for position, table in enumerate(tables, start=1):
            entry = _write_table(db, tx, bucket, prefix, position, table)
            entries.append(entry)
            total_rows += entry["rows"]
            total_bytes += entry["bytes"]

    manifest = {
        "format": FORMAT,
        "scheduled_time": scheduled_time.astimezone(UTC).isoformat(),
        "created_at": datetime.now(UTC).isoformat(),
        "schema_version": migrations[-1]["version"] if migrations else None,
        "migrations": migrations,
        "tables": entries,
    }
    bucket.put(
        f"{prefix}{MANIFEST}",
        json.dumps(manifest, indent=2),
        http_metadata=R2HTTPMetadata(content_type="application/json"),
    )
    result = {
        "prefix": prefix,
        "tables": len(entries),
        "rows": total_rows,
        "bytes": total_bytes,
        "schema_version": manifest["schema_version"],
        "duration_ms": int((time.perf_counter() - started) * 1000),
    }
    logger.info("backup written", extra=result)
    return result


def _write_table(
    db: D1Database, tx: D1Transaction, bucket: R2Bucket, prefix: str, position: int, table: Table
) -> dict[str, Any]:
    file_name = f"{position:02d}_{table.name}.jsonl.gz"
    tally = _Tally()
    written = bucket.put(
        f"{prefix}{file_name}",
        _gzipped(row_texts(db, table, tx=tx), tally),
        http_metadata=R2HTTPMetadata(content_type="application/x-ndjson", content_encoding="gzip"),
    )
    if written is None:  # pragma: no cover - an unconditional put always writes
        raise BackupError(f"{prefix}{file_name} was not written")
    return {
        "table": table.name,
        "file": file_name,
        "rows": tally.rows,
        "sha256": tally.digest.hexdigest(),
        "bytes": written.size,
        "primary_key": list(table.primary_key),
        "identity_columns": list(table.identity_columns),
    }


@dataclass
class _Tally:
    rows: int = 0
    digest: Any = None

    def __post_init__(self) -> None:
        self.digest = hashlib.sha256()


def _gzipped(lines: Iterator[str], tally: _Tally) -> Iterator[bytes]:
    """The lines as one gzip stream, compressed as they come (a chunk per few hundred KB)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
    pending: list[bytes] = []
    pending_size = 0
    for line in lines:
        raw = line.encode("utf-8") + b"\n"
        tally.rows += 1
        tally.digest.update(raw)
        pending.append(raw)
        pending_size += len(raw)
        if pending_size >= 256 * 1024:
            yield compressor.compress(b"".join(pending))
            pending, pending_size = [], 0
    yield compressor.compress(b"".join(pending)) + compressor.flush()


# ------------------------------------------------------------------ restore


def read_manifest(bucket: R2Bucket, prefix: str) -> dict[str, Any]:
    prefix = prefix if prefix.endswith("/") else f"{prefix}/"
    found = bucket.get(f"{prefix}{MANIFEST}")
    if not isinstance(found, R2ObjectBody):
        raise BackupError(f"{prefix} holds no {MANIFEST}: not a backup, or one that did not finish")
    manifest: dict[str, Any] = found.json()
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{prefix}{MANIFEST} is in format {manifest.get('format')!r}, not {FORMAT}")
    return manifest


def restore(db: D1Database, bucket: R2Bucket, prefix: str) -> RestoreReport:
    """Load the backup under ``prefix`` into ``db``, which must hold no rows (it may hold no tables at all)."""
    prefix = prefix if prefix.endswith("/") else f"{prefix}/"
    manifest = read_manifest(bucket, prefix)
    known = {m.version: m for m in discover_migrations()}
    wanted = manifest["migrations"]
    for recorded in wanted:
        local = known.get(recorded["version"])
        if local is None or local.checksum != recorded["checksum"]:
            raise BackupError(
                f"the backup was taken at migration {recorded['version']:04d}_{recorded['name']}, which this code "
                "does not have (or has changed): restore it with the code it was taken with"
            )
    for entry in manifest["tables"]:
        _verify(bucket, prefix, entry)  # a damaged backup is refused before anything is written
    version = manifest["schema_version"]
    _refuse_target(db, version)
    apply(db, [m for v, m in sorted(known.items()) if version is not None and v <= version])
    tables = {t.name: t for t in discover(db)}
    rows = 0
    with db.transaction() as tx:
        for entry in manifest["tables"]:
            if entry["table"] == BOOKKEEPING_TABLE:
                continue
            table = tables.get(entry["table"])
            if table is None:
                raise BackupError(f"table {entry['table']} of the backup does not exist after the migrations")
            rows += _load(db, tx, bucket, prefix, entry, table)
    report = apply(db)  # anything newer than the backup, as a deploy would apply it
    result = RestoreReport(prefix=prefix, tables=len(manifest["tables"]), rows=rows, schema_version=report.current)
    logger.info("backup restored", extra={"prefix": prefix, "rows": rows, "schema_version": report.current})
    return result


def _refuse_target(db: D1Database, version: int | None) -> None:
    """A target with any row, or migrated past the backup, is refused before anything is written."""
    for table in discover(db):
        if table.name == BOOKKEEPING_TABLE:
            current = db.prepare("SELECT max(version) AS v FROM schema_migrations").first("v")
            if current is not None and (version is None or current > version):
                raise BackupError(
                    f"the target database is at migration {current}, past the backup's {version}: "
                    "restore into an empty database"
                )
            continue
        if db.prepare(f"SELECT EXISTS (SELECT 1 FROM {table.name}) AS used").first("used"):  # noqa: S608 - catalog name
            raise BackupError(f"the target database is not empty ({table.name} has rows): restore into an empty one")


def _lines(bucket: R2Bucket, prefix: str, entry: dict[str, Any]) -> Iterator[bytes]:
    found = bucket.get(f"{prefix}{entry['file']}")
    if not isinstance(found, R2ObjectBody):
        raise BackupError(f"{prefix}{entry['file']} is missing: the backup is incomplete")
    try:
        with gzip.GzipFile(fileobj=io.BufferedReader(_ChunkReader(found.iter()))) as lines:
            yield from lines
    except (OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"{prefix}{entry['file']} is not a readable gzip file: the backup is damaged") from exc


def _verify(bucket: R2Bucket, prefix: str, entry: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    rows = 0
    for raw in _lines(bucket, prefix, entry):
        digest.update(raw)
        rows += 1
    if rows != entry["rows"] or digest.hexdigest() != entry["sha256"]:
        raise BackupError(f"{prefix}{entry['file']} does not match its manifest entry: the backup is damaged")


def _load(db: D1Database, tx: D1Transaction, bucket: R2Bucket, prefix: str, entry: dict[str, Any], table: Table) -> int:
    insert = db.prepare(
        f"INSERT INTO {table.name} OVERRIDING SYSTEM VALUE "  # noqa: S608 - a catalog name
        f"SELECT * FROM jsonb_populate_recordset(NULL::{table.name}, ?1::jsonb)"
    )
    rows = 0
    batch: list[str] = []
    batch_size = 0
    for raw in _lines(bucket, prefix, entry):
        batch.append(raw.decode("utf-8").rstrip("\n"))
        batch_size += len(raw)
        rows += 1
        if batch_size >= LOAD_BATCH_BYTES:
            tx.run(insert.bind(_as_array(batch)))
            batch, batch_size = [], 0
    if batch:
        tx.run(insert.bind(_as_array(batch)))
    for column in table.identity_columns:
        tx.run(
            db.prepare(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "  # noqa: S608 - catalog names
                f"coalesce((SELECT max({column}) FROM {table.name}), 0) + 1, false)"
            )
        )
    return rows


def _as_array(rows: list[str]) -> str:
    """Row texts joined as one JSON array, bound as text (a list would be encoded again)."""
    return "[" + ",".join(rows) + "]"


class _ChunkReader(io.RawIOBase):
    """A file over an iterator of byte chunks, so gzip can read an object as it streams in."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
