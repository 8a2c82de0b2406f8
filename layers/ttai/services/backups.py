"""Backups of the whole database to the bucket's backups/ prefix, and restores of one into an empty database.

A backup is a folder ``backups/<scheduled time>/``: one gzip'd JSON-lines file per table (a line per row, the
row's ``to_jsonb``), then ``manifest.json`` last, so a folder without a manifest is an unfinished backup. A file is
written in parts of about 5 MiB compressed, each its own gzip member (concatenated, they are one gzip stream), each
a stage that a workflow runs as a step: no Lambda invocation has to read a whole table, so the database's size
never meets a timeout. The manifest records the migrations applied (version, name, checksum), and per table its
file, row count and each part's rows and SHA-256 of its uncompressed lines, in foreign-key order.
Every table is read in one REPEATABLE READ, READ ONLY transaction, kept open across stages by its id (the Data API
keeps a transaction 24 hours, and 3 minutes unused): one snapshot, so a child row written during the backup can
never point at a parent the backup missed. A snapshot that ends early starts the tables again in a new one.

A restore applies the migrations the backup was taken at, loads every table in that order inside one
transaction (identity values kept with OVERRIDING SYSTEM VALUE, sequences moved past them; audit_events only
takes INSERTs, which is all a restore does), then applies any newer migrations, as a deploy would.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ttai.bindings.d1 import DATA_API_REQUEST_MAX_BYTES, D1Database, D1Transaction, D1TransactionGone
from ttai.bindings.r2 import PART_MIN_BYTES, R2Bucket, R2HTTPMetadata, R2ObjectBody, R2UploadedPart
from ttai.errors import TtaiError
from ttai.layout import storage_layout
from ttai.migrations import apply
from ttai.migrations import discover as discover_migrations
from ttai.observability import logger
from ttai.services.tables import Table, discover, portable_key, row_pages

if TYPE_CHECKING:
    from ttai.env import Env

FORMAT = "ttai-backup/2"
# /1 kept one SHA-256 per file; /2 keeps one per part, as each part is written by a step of its own.
READABLE_FORMATS = ("ttai-backup/1", FORMAT)
MANIFEST = "manifest.json"
BOOKKEEPING_TABLE = "schema_migrations"  # the restore's own migrations fill it
LOAD_BATCH_BYTES = DATA_API_REQUEST_MAX_BYTES // 8  # JSON per INSERT: well under the Data API's request limit
PART_BYTES = PART_MIN_BYTES  # compressed bytes a part holds (S3's smallest part but the last) before it ends
SNAPSHOT_ATTEMPTS = 3  # snapshots a backup may lose (expired or aborted transaction) before it gives up
# Runs one named stage of a backup and returns its (JSON) result: at once, or as a workflow step.
Stage = Callable[[str, Callable[[], Any]], Any]


class BackupError(TtaiError):
    """A backup that cannot be restored here: unfinished, damaged, newer than this code, or a non-empty target."""


class SnapshotLost(BackupError):
    """The transaction holding the backup's snapshot has ended; the backup starts again in a new one."""


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


def write_backup(
    db: D1Database,
    bucket: R2Bucket,
    scheduled_time: datetime,
    stage: Stage = lambda _name, work: work(),
    *,
    failures: tuple[type[Exception], ...] = (Exception,),
    lost: Callable[[Exception], bool] = lambda exc: isinstance(exc, SnapshotLost),
) -> dict[str, Any]:
    """Every table in one snapshot, a stage per part of a table's file, then the manifest (see the module
    docstring). A snapshot lost part-way (``lost``) starts the tables again in a new one, at most SNAPSHOT_ATTEMPTS
    times; another failure in ``failures`` ends the snapshot and is raised again."""
    plan = stage("plan", lambda: plan_backup(db, scheduled_time))
    backups = BackupWriter(db, bucket)
    for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
        snapshot: str = stage("snapshot", backups.open_snapshot)
        try:
            result = _in_snapshot(backups, stage, plan, snapshot)
        except failures as exc:
            if not lost(exc) or attempt == SNAPSHOT_ATTEMPTS:
                _release(backups, stage, snapshot)
                raise
            logger.warning("backup snapshot lost: starting again", extra={"attempt": attempt})
            continue
        logger.info("backup written", extra=result)
        return result
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def _in_snapshot(backups: BackupWriter, stage: Stage, plan: dict[str, Any], snapshot: str) -> dict[str, Any]:
    entries = [_write_table(backups, stage, plan, snapshot, table) for table in plan["tables"]]
    result: dict[str, Any] = stage("manifest", lambda: backups.finish(plan, entries, snapshot))
    return result


def _release(backups: BackupWriter, stage: Stage, snapshot: str) -> None:
    stage("release", lambda: backups.release(snapshot))


def _write_table(
    backups: BackupWriter, stage: Stage, plan: dict[str, Any], snapshot: str, table: dict[str, Any]
) -> dict[str, Any]:
    """One table's file, a stage per part; its manifest entry."""
    parts: list[dict[str, Any]] = []
    after: list[object] | None = None
    upload_id: str | None = None
    while True:

        def part(at: list[object] | None = after, upload: str | None = upload_id) -> Any:
            return backups.write_part(plan["prefix"], table, snapshot, at, upload, parts)

        written = stage(f"table {table['table']}", part)
        parts.append(written)
        upload_id = written["upload_id"]
        if written["next"] is None:
            return {
                "table": table["table"],
                "file": table["file"],
                "rows": sum(p["rows"] for p in parts),
                "parts": [{"rows": p["rows"], "sha256": p["sha256"]} for p in parts],
                "bytes": written["file_bytes"],
                "primary_key": table["primary_key"],
                "identity_columns": table["identity_columns"],
            }
        after = written["next"]


def plan_backup(db: D1Database, scheduled_time: datetime) -> dict[str, Any]:
    """Where the backup goes, its tables in foreign-key order with their files, the migrations applied."""
    tables = discover(db)
    migrations = [
        {"version": r["version"], "name": r["name"], "checksum": r["checksum"]}
        for r in db.prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version").all().results
    ]
    return {
        "prefix": backup_prefix(scheduled_time),
        "scheduled_time": scheduled_time.astimezone(UTC).isoformat(),
        "migrations": migrations,
        "tables": [
            {
                "table": table.name,
                "file": f"{position:02d}_{table.name}.jsonl.gz",
                "primary_key": list(table.primary_key),
                "key_types": list(table.key_types),
                "identity_columns": list(table.identity_columns),
            }
            for position, table in enumerate(tables, start=1)
        ],
    }


class BackupWriter:
    """The stages of a backup: a snapshot, a table's file a part at a time, the manifest."""

    def __init__(self, db: D1Database, bucket: R2Bucket) -> None:
        self.db = db
        self.bucket = bucket

    def open_snapshot(self) -> str:
        """A REPEATABLE READ, READ ONLY transaction (one snapshot for every table: a child row written mid-backup
        cannot point at a parent the backup missed); its id, for the stages that read in it."""
        transaction = self.db.transaction().begin()
        transaction.run(self.db.prepare("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        assert transaction.transaction_id is not None
        return transaction.transaction_id

    def release(self, snapshot: str) -> None:
        self.db.resume_transaction(snapshot).rollback()

    def write_part(
        self,
        prefix: str,
        table: dict[str, Any],
        snapshot: str,
        after: list[object] | None,
        upload_id: str | None,
        earlier: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The table's rows after ``after`` as one gzip member of about PART_BYTES (the file's parts concatenate
        into one gzip stream): the whole file in one PutObject when it is also the first, else a part of a
        multipart upload, completed with the ``earlier`` parts once the table ends."""
        key = f"{prefix}{table['file']}"
        found = Table(
            name=table["table"],
            primary_key=tuple(table["primary_key"]),
            key_types=tuple(table["key_types"]),
            identity_columns=tuple(table["identity_columns"]),
            references=(),
            has_user_id=False,
        )
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer
        digest = hashlib.sha256()
        data = bytearray()
        rows = 0
        position: list[object] | None = after
        ended = True
        try:
            pages = row_pages(self.db, found, tx=self.db.resume_transaction(snapshot), after=after)
            for page in pages:
                lines = b"".join(text.encode("utf-8") + b"\n" for _, text in page)
                digest.update(lines)
                data += compressor.compress(lines)
                rows += len(page)
                position = portable_key(page[-1][0])
                if len(data) >= PART_BYTES:
                    ended = False
                    break
        except D1TransactionGone as exc:
            raise SnapshotLost(f"the backup's snapshot ended while {table['table']} was read") from exc
        data += compressor.flush()
        number = len(earlier) + 1
        written: dict[str, Any] = {
            "number": number,
            "rows": rows,
            "sha256": digest.hexdigest(),
            "next": None if ended else position,
            "upload_id": upload_id,
        }
        content = R2HTTPMetadata(content_type="application/x-ndjson", content_encoding="gzip")
        if number == 1 and ended:
            stored = self.bucket.put(key, bytes(data), http_metadata=content)
            if stored is None:  # pragma: no cover - an unconditional put always writes
                raise BackupError(f"{key} was not written")
            return {**written, "etag": None, "file_bytes": stored.size}
        if upload_id is None:
            upload = self.bucket.create_multipart_upload(key, http_metadata=content)
        else:
            upload = self.bucket.resume_multipart_upload(key, upload_id)
        part = upload.upload_part(number, bytes(data))
        written.update(etag=part.etag, upload_id=upload.upload_id)
        if not ended:
            return written
        uploaded = [R2UploadedPart(p["number"], p["etag"]) for p in earlier] + [R2UploadedPart(number, part.etag)]
        done = upload.complete(uploaded)
        if done is None:  # pragma: no cover - an unconditional completion always writes
            raise BackupError(f"{key} was not completed")
        return {**written, "file_bytes": done.size}

    def finish(self, plan: dict[str, Any], entries: list[dict[str, Any]], snapshot: str) -> dict[str, Any]:
        """End the snapshot and write the manifest last: a folder without one is an unfinished backup."""
        self.db.resume_transaction(snapshot).rollback()  # read only: nothing to commit
        migrations = plan["migrations"]
        manifest = {
            "format": FORMAT,
            "scheduled_time": plan["scheduled_time"],
            "created_at": datetime.now(UTC).isoformat(),
            "schema_version": migrations[-1]["version"] if migrations else None,
            "migrations": migrations,
            "tables": entries,
        }
        self.bucket.put(
            f"{plan['prefix']}{MANIFEST}",
            json.dumps(manifest, indent=2),
            http_metadata=R2HTTPMetadata(content_type="application/json"),
        )
        return {
            "prefix": plan["prefix"],
            "tables": len(entries),
            "rows": sum(e["rows"] for e in entries),
            "bytes": sum(e["bytes"] for e in entries),
            "parts": sum(len(e["parts"]) for e in entries),
            "schema_version": manifest["schema_version"],
        }


# ------------------------------------------------------------------ restore


def read_manifest(bucket: R2Bucket, prefix: str) -> dict[str, Any]:
    prefix = prefix if prefix.endswith("/") else f"{prefix}/"
    found = bucket.get(f"{prefix}{MANIFEST}")
    if not isinstance(found, R2ObjectBody):
        raise BackupError(f"{prefix} holds no {MANIFEST}: not a backup, or one that did not finish")
    manifest: dict[str, Any] = found.json()
    if manifest.get("format") not in READABLE_FORMATS:
        raise BackupError(
            f"{prefix}{MANIFEST} is in format {manifest.get('format')!r}, not one of {', '.join(READABLE_FORMATS)}"
        )
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
    """The file's lines against its manifest entry: per part (rows and SHA-256 of each), or as a whole (format /1)."""
    expected = entry["parts"] if "parts" in entry else [{"rows": entry["rows"], "sha256": entry["sha256"]}]
    found: list[dict[str, Any]] = []
    digest, rows = hashlib.sha256(), 0
    for raw in _lines(bucket, prefix, entry):
        # Parts are known only by their row counts: a part with none has no line to start it.
        while len(found) < len(expected) - 1 and rows == expected[len(found)]["rows"]:
            found.append({"rows": rows, "sha256": digest.hexdigest()})
            digest, rows = hashlib.sha256(), 0
        digest.update(raw)
        rows += 1
    found.append({"rows": rows, "sha256": digest.hexdigest()})
    while len(found) < len(expected):
        found.append({"rows": 0, "sha256": hashlib.sha256().hexdigest()})
    if found != [{"rows": p["rows"], "sha256": p["sha256"]} for p in expected]:
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
