"""``ttai import d1``: a ``wrangler d1 export`` into our PostgreSQL schema, through the D1 binding (the Data API).

The dump is read into a SQLite working database on disk (``d1_dump``), then each mapped table (``d1_mapping``),
parents before children, is mapped row by row and written in pages of at most 512 KB by one statement a page
(``d1_target``): every constraint of ours is evaluated for every row, refused rows are reported with the constraint
they break, the others are upserted by id (a row already there and equal is left alone). Memory holds one page.

Each table is one transaction: its rows, its identity sequence moved past the highest id, and an ``audit_events``
row (``import.table``) naming the dump's SHA-256. A run that stops is resumed by running it again: tables already
committed from the same dump are not written again (``--no-resume`` writes them anyway). A database whose tables
hold rows no import wrote is refused unless ``onto_existing`` is set, so an import never overwrites rows by id.
``dry_run`` runs the whole import in one transaction and rolls it back: the counts are exact, nothing is kept.

``updated_at`` is D1's: the triggers that stamp it on UPDATE are disabled inside each table's transaction (ALTER
TABLE is transactional, so they are back on at commit or rollback).

The verification (``verify``) then compares, per table, the rows the dump says the target should hold with the rows
it holds, by count and checksum; rows missing from the target are probed again, so a row our constraints refuse is
reported as refused, with its reason, on a resumed run too.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from local.importers.d1_dump import SourceTable, WorkingDatabase, load
from local.importers.d1_mapping import BY_SOURCE, NO_HOME, SourceRow, TableMap
from local.importers.d1_target import (
    TargetError,
    TargetTable,
    delete_statement,
    describe,
    digest_page_statement,
    explain,
    key_page_statement,
    move_sequence_statement,
    page_statement,
)
from local.importers.d1_values import Refused, fit, row_digest
from local.importers.progress import Progress
from local.importers.verify import Comparison, Refusal, Report, bucket_of
from ttai.bindings.d1 import DATA_API_REQUEST_MAX_BYTES, D1Database, D1Result, D1Transaction
from ttai.services.tables import Table, discover

PAGE_BYTES = DATA_API_REQUEST_MAX_BYTES // 8  # JSON per statement: well under the Data API's request limit
PAGE_ROWS = 2000
KEY_PAGE = 2500  # target keys (with their digests: under 1 MiB) read at a time
DIFF_LIMIT = 200_000  # rows per side held while naming the differences of a mismatched table
MARKER_ACTION = "import.table"
MARKER_ACTOR = "service:import"
_MARKER = """
INSERT INTO audit_events (actor, action, entity, entity_id, details)
VALUES (?3, ?4, 'table', ?1, ?2::jsonb)
"""


class ImportRefused(Exception):
    """The import cannot run against this target as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class D1Options:
    dry_run: bool = False
    resume: bool = True
    onto_existing: bool = False
    prune: bool = False
    page_bytes: int = PAGE_BYTES
    page_rows: int = PAGE_ROWS


@dataclass(frozen=True, slots=True)
class Mapped:
    key: str
    fragment: str  # the row as a JSON object, columns in the target's order
    digest: int


@dataclass
class _Table:
    """One table's import: how its D1 rows map, where they go, and what the run has learnt about them."""

    map: TableMap
    source: SourceTable
    target: TargetTable
    listing: Table
    comparison: Comparison
    refused_keys: set[str] = field(default_factory=set)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.target.columns)


def import_d1(db: D1Database, dump: Path, options: D1Options = D1Options(), *, work_dir: Path | None = None) -> Report:
    """Import ``dump`` into ``db``, verify, and return the report (nothing is written when ``options.dry_run``)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ttai-d1-", dir=work_dir) as scratch:
        work = load(dump, Path(scratch))
        try:
            report = Report(
                title=f"D1 import of {dump.name}",
                source=f"{dump} (sha256 {work.sha256[:16]}..., {work.statements:,} statements)",
                target=f"database {db.database}",
                dry_run=options.dry_run,
            )
            report.phases["reading the dump"] = time.monotonic() - started
            phase = time.monotonic()
            tables = _plan(db, work, report)
            _guard(db, tables, options)
            done = _already_imported(db, work.sha256) if options.resume and not options.dry_run else set()
            if options.dry_run:
                _dry_run(db, work, tables, options, dump)
            else:
                for table in tables:
                    if table.target.name in done:
                        table.comparison.notes.append("already imported from this dump: not written again")
                        _tally_source(work, table)
                    else:
                        with db.transaction() as tx:
                            _import_table(db, tx, work, table, options, dump)
                report.phases["writing"] = time.monotonic() - phase
                phase = time.monotonic()
                for table in tables:
                    verify_table(db, work, table, options)
                report.phases["verifying"] = time.monotonic() - phase
            report.comparisons = [t.comparison for t in tables]
        finally:
            work.close()
    report.seconds = time.monotonic() - started
    return report


def _plan(db: D1Database, work: WorkingDatabase, report: Report) -> list[_Table]:
    """The dump's tables we import, in our foreign-key order; the others go in the report with why."""
    sources = work.tables()
    listings = {t.name: t for t in discover(db)}
    order = list(listings)
    plan: list[_Table] = []
    for name, source in sources.items():
        if name in NO_HOME:
            report.not_imported[name] = f"{source.rows:,} rows, no home by design: {NO_HOME[name]}"
        elif name not in BY_SOURCE:
            report.unmapped[name] = f"{source.rows:,} rows left behind: no table of ours is mapped to it"
    for name in sorted((n for n in sources if n in BY_SOURCE), key=lambda n: order.index(BY_SOURCE[n].target)):
        mapping, source = BY_SOURCE[name], sources[name]
        target = describe(db, mapping.target)
        _check_mapping(mapping, target)
        comparison = Comparison("table", target.name, source.name)
        left_behind = sorted(set(source.columns) - mapping.reads() - {mapping.key})
        if left_behind:
            report.unmapped[f"{name}.{{{', '.join(left_behind)}}}"] = "columns not in the seeds' schema: left behind"
        absent = sorted(mapping.reads() - set(source.columns))
        if absent:
            comparison.notes.append(f"the dump has no column {', '.join(absent)}: read as NULL")
        plan.append(_Table(mapping, source, target, listings[mapping.target], comparison))
    return plan


def _check_mapping(mapping: TableMap, target: TargetTable) -> None:
    mapped = [c.target for c in mapping.columns]
    ours = [c.name for c in target.columns]
    if sorted(mapped) != sorted(ours) or len(set(mapped)) != len(mapped):
        raise TargetError(
            f"the mapping of {mapping.source} does not cover {target.name} exactly: unmapped "
            f"{sorted(set(ours) - set(mapped))}, unknown {sorted(set(mapped) - set(ours))} "
            "(a migration changed the table: update local/importers/d1_mapping.py)"
        )
    key = next(c for c in mapping.columns if c.target == target.primary_key)
    if key.reads != (mapping.key,):
        raise TargetError(f"{target.name}.{target.primary_key} must come from {mapping.source}.{mapping.key} alone")


def _guard(db: D1Database, tables: list[_Table], options: D1Options) -> None:
    if options.onto_existing:
        return
    imported = {
        str(r["entity_id"])
        for r in db.prepare("SELECT DISTINCT entity_id FROM audit_events WHERE action = ?1 AND entity = 'table'")
        .bind(MARKER_ACTION)
        .all()
        .results
    }
    used = [
        t.target.name
        for t in tables
        if t.target.name not in imported
        and db.prepare(f'SELECT EXISTS (SELECT 1 FROM "{t.target.name}") AS used').first("used")  # noqa: S608
    ]
    if used:
        raise ImportRefused(
            f"{', '.join(used)} already hold rows no import wrote, and rows are written by their D1 ids: import into "
            "an empty database (ttai import d1 ... --database NAME), or pass --onto-existing to upsert over them"
        )


def _already_imported(db: D1Database, sha256: str) -> set[str]:
    rows = db.prepare(
        "SELECT DISTINCT entity_id FROM audit_events WHERE action = ?1 AND entity = 'table'"
        " AND details->>'dump_sha256' = ?2"
    ).bind(MARKER_ACTION, sha256)
    return {str(r["entity_id"]) for r in rows.all().results}


class _RollBack(Exception):
    pass


def _dry_run(db: D1Database, work: WorkingDatabase, tables: list[_Table], options: D1Options, dump: Path) -> None:
    """Every table in one transaction, rolled back: children see their parents, and nothing is kept."""
    try:
        with db.transaction() as tx:
            for table in tables:
                _import_table(db, tx, work, table, options, dump)
            raise _RollBack
    except _RollBack:
        return


# ------------------------------------------------------------------------------------------ writing


def _import_table(
    db: D1Database, tx: D1Transaction, work: WorkingDatabase, table: _Table, options: D1Options, dump: Path
) -> None:
    target = table.target
    for trigger in target.stamping_triggers:
        tx.run(db.prepare(f'ALTER TABLE "{target.name}" DISABLE TRIGGER "{trigger}"'))
    _write_table(db, tx, work, table, options)
    if options.prune:
        _prune(db, tx, work, table)
    sequence = move_sequence_statement(target)
    if sequence is not None:
        tx.run(db.prepare(sequence).bind(work.high_water(table.source.name)))
    for trigger in target.stamping_triggers:
        tx.run(db.prepare(f'ALTER TABLE "{target.name}" ENABLE TRIGGER "{trigger}"'))
    c = table.comparison
    details = {
        "source": "cloudflare-d1",
        "dump": dump.name,
        "dump_sha256": work.sha256,
        "source_table": table.source.name,
        "rows": c.read,
        "merged": c.merged.count,
        "refused": c.refused.count,
        **c.written,
    }
    tx.run(db.prepare(_MARKER).bind(target.name, json.dumps(details), MARKER_ACTOR, MARKER_ACTION))


def _write_table(db: D1Database, tx: D1Transaction, work: WorkingDatabase, table: _Table, options: D1Options) -> None:
    """Write the table's pages, each sent while the next one is mapped (one call in flight: one transaction)."""
    statement = db.prepare(page_statement(table.target, table.columns, write=True))
    for what in ("inserted", "updated", "unchanged"):
        table.comparison.written.setdefault(what, 0)
    in_flight: tuple[Future[D1Result], dict[str, Mapped]] | None = None
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="d1-import") as sender,
        Progress(f"{table.source.name} -> {table.target.name}", total=table.source.rows) as bar,
    ):
        try:
            for page in _pages(_accounted(work, table, bar), options):
                sent = sender.submit(tx.all, statement.bind(_page_json(page)))
                if in_flight is not None:
                    _settle(table, in_flight[1], in_flight[0].result())
                in_flight = (sent, page)
            if in_flight is not None:
                _settle(table, in_flight[1], in_flight[0].result())
        except BaseException:
            if in_flight is not None:
                in_flight[0].cancel()
            raise


def _settle(table: _Table, page: dict[str, Mapped], outcome: D1Result) -> None:
    """Count what one page statement did, and report the rows it refused."""
    accepted = len(page)
    for row in outcome.results:
        kind, key = row["ttai_kind"], str(row["ttai_key"])
        if kind == "refused":
            _refuse(table, key, page[key], str(row["ttai_detail"]))
            accepted -= 1
        else:
            table.comparison.count_written(kind, int(key))
            accepted -= int(key)
    table.comparison.count_written("unchanged", accepted)


def _prune(db: D1Database, tx: D1Transaction, work: WorkingDatabase, table: _Table) -> None:
    """Delete the rows this table holds whose id the dump no longer has (deleted in D1 since an earlier import, or
    merged away), so a delta run leaves the table equal to D1's. Rows the dump has but our constraints refuse stay."""
    key_type = table.listing.key_types[0]
    first = db.prepare(key_page_statement(table.target, key_type, "", after=False, limit=KEY_PAGE))
    after = db.prepare(key_page_statement(table.target, key_type, "", after=True, limit=KEY_PAGE))
    delete = db.prepare(delete_statement(table.target, key_type))
    gone: list[str] = []
    last: str | None = None
    while True:
        keys = [str(r["ttai_key"]) for r in tx.all(first if last is None else after.bind(last)).results]
        if not keys:
            break
        kept = work.present(table.source.name, table.map.key, keys, merged_away=table.map.merge is not None)
        gone += [k for k in keys if k not in kept]
        last = keys[-1]
    for start in range(0, len(gone), KEY_PAGE):
        tx.run(delete.bind(json.dumps(gone[start : start + KEY_PAGE])))
    for key in gone:
        table.comparison.deleted.add(key)


def _accounted(work: WorkingDatabase, table: _Table, bar: Progress | None = None) -> Iterator[Mapped]:
    """The table's mapped rows, each counted in the comparison (read, merged, repaired, refused by the mapping,
    expected in the target)."""
    comparison = table.comparison
    merge = table.map.merge
    for item in mapped_rows(work, table):
        if bar is not None:
            bar.advance()
        if isinstance(item, Refusal):
            comparison.read += 1
            comparison.refused.add(item)
            table.refused_keys.add(item.key)
            continue
        mapped, repairs = item
        comparison.read += 1
        for what in repairs:
            comparison.repair(what, mapped.key)
        comparison.source.add(mapped.key, mapped.digest)
        yield mapped
    if merge is not None:
        merged = merge.merged_away(work)
        comparison.read += merged
        if bar is not None:
            bar.advance(merged)
        for kept, ids in merge.groups(work):
            comparison.merged.add((kept, ids))
        comparison.merged.count = merged


def _tally_source(work: WorkingDatabase, table: _Table) -> None:
    for _ in _accounted(work, table):
        pass


def _refuse(table: _Table, key: str, mapped: Mapped, codes: str) -> None:
    reason = "; ".join(explain(table.target, code) for code in codes.split("|"))
    table.comparison.source.remove(key, mapped.digest)
    table.comparison.refused.add(Refusal(key, reason))
    table.refused_keys.add(key)


def _pages(rows: Iterator[Mapped], options: D1Options) -> Iterator[dict[str, Mapped]]:
    page: dict[str, Mapped] = {}
    size = 0
    for row in rows:
        page[row.key] = row
        size += len(row.fragment) + 1
        if size >= options.page_bytes or len(page) >= options.page_rows:
            yield page
            page, size = {}, 0
    if page:
        yield page


def _page_json(page: dict[str, Mapped]) -> str:
    return "[" + ",".join(row.fragment for row in page.values()) + "]"


# ------------------------------------------------------------------------------------------ mapping rows


def mapped_rows(work: WorkingDatabase, table: _Table) -> Iterator[Refusal | tuple[Mapped, list[str]]]:
    """Each D1 row as the row of ours it becomes (with what was repaired in it), or the reason it cannot be."""
    converters = {c.target: c.convert for c in table.map.columns}
    kinds = [(column.name, column.kind) for column in table.target.columns]
    pk = table.target.primary_key
    for values in table.map.rows(work, table.source.columns):
        row = SourceRow(values)
        fragments: list[str] = []
        canonical: list[str | None] = []
        key = str(values.get(table.map.key))
        try:
            for name, kind in kinds:
                fragment, text = fit(kind, name, converters[name](row))
                if name == pk:
                    if text is None:
                        raise Refused(f"{name} is NULL: a row without an id cannot be imported")
                    key = text
                fragments.append(f'"{name}":{fragment}')
                canonical.append(text)
        except Refused as exc:
            yield Refusal(key, str(exc))
            continue
        yield Mapped(key, "{" + ",".join(fragments) + "}", row_digest(canonical)), row.repairs


# ------------------------------------------------------------------------------------------ verifying


def _target_rows(db: D1Database, table: _Table) -> Iterator[tuple[str, int]]:
    """Each row the target holds as (key, digest), the digest computed in PostgreSQL exactly as ``mapped_rows``
    computes it for a D1 row: only keys and digests cross the Data API."""
    key_type = table.listing.key_types[0]
    first = db.prepare(digest_page_statement(table.target, key_type, after=False, limit=KEY_PAGE))
    after = db.prepare(digest_page_statement(table.target, key_type, after=True, limit=KEY_PAGE))
    last: str | None = None
    while True:
        rows = (first if last is None else after.bind(last)).raw()
        for key, digest in rows:
            yield str(key), int(str(digest), 16)
        if len(rows) < KEY_PAGE:
            return
        last = str(rows[-1][0])


def verify_table(db: D1Database, work: WorkingDatabase, table: _Table, options: D1Options) -> None:
    """Tally the target, and when it differs from the source, name the rows that differ (probing the missing)."""
    comparison = table.comparison
    with Progress(f"verifying {table.target.name}", total=comparison.source.count) as bar:
        for key, digest in _target_rows(db, table):
            comparison.target.add(key, digest)
            bar.advance()
    if comparison.source.matches(comparison.target):
        return
    buckets = comparison.source.differing_buckets(comparison.target)
    held: dict[str, int] = {}
    for key, digest in _target_rows(db, table):
        if bucket_of(key) in buckets and len(held) < DIFF_LIMIT:
            held[key] = digest
    missing: dict[str, Mapped] = {}
    for item in mapped_rows(work, table):
        if isinstance(item, Refusal):
            continue
        mapped, _ = item
        if mapped.key in table.refused_keys or bucket_of(mapped.key) not in buckets:
            continue
        found = held.pop(mapped.key, None)
        if found is None and len(missing) < DIFF_LIMIT:
            missing[mapped.key] = mapped
        elif found is not None and found != mapped.digest:
            comparison.different.add(mapped.key)
    for key in held:
        comparison.extra.add(key)
    _classify_missing(db, table, missing, options)


def _classify_missing(db: D1Database, table: _Table, missing: dict[str, Mapped], options: D1Options) -> None:
    """Rows the target lacks: those our constraints refuse now are refusals (a resumed run, say), the rest missing."""
    probe = db.prepare(page_statement(table.target, table.columns, write=False))
    refused: set[str] = set()
    for page in _pages(iter(missing.values()), options):
        for row in probe.bind(_page_json(page)).all().results:
            key = str(row["ttai_key"])
            _refuse(table, key, page[key], str(row["ttai_detail"]))
            refused.add(key)
    for key in missing:
        if key not in refused:
            table.comparison.missing.add(key)
