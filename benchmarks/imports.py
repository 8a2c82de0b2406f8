"""A D1 export of 1,000,000 rows (seed 000's schema, made at run time by ``tests.cloudflare_fixtures``) imported
through the D1 binding into a fresh database of a local stack: rows per second and peak memory (target: under
200 MB, streamed).

The import runs in a child process, as ``ttai import d1`` would: the stack (moto, PostgreSQL, the local Data API)
lives in this process, so the child's memory is the importer's alone. The child reports its peak resident set
(VmHWM) as a whole and its growth over what it held before the import started, and how long the import took with
its verification (both are part of every import).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import peak_rss_bytes, reset_peak_rss, rss_bytes, run_child
from benchmarks.report import Row
from local.stack import LocalStack

ROWS = 1_000_000
DATABASE = "bench_import"
DUMP_VARIABLE = "TTAI_BENCH_IMPORT_DUMP"  # how the child learns where the dump is
BUDGET_MB = 200


def _dump(directory: Path) -> tuple[Path, int, int]:
    """The dump, its rows, and how many of them are in tables with no home here (users' OAuth tokens, one a user,
    and wrangler's two migration rows): those are reported, not read."""
    from tests.cloudflare_fixtures import Scale, write_d1_export  # noqa: PLC0415

    path = directory / "d1_export.sql"
    scale = Scale.for_rows(ROWS)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        rows = write_d1_export(out, scale, work=directory / "seed.sqlite")
    return path, rows, scale.users + 2


def child(dump: str) -> None:
    """Import ``dump`` into the bench database (the stack's variables are in the environment); print the cost."""
    from local.importers.d1 import import_d1  # noqa: PLC0415
    from ttai.bindings.d1 import D1Database  # noqa: PLC0415
    from ttai.env import Env  # noqa: PLC0415

    env = Env.from_environ()
    settings = env.settings
    assert settings.db_cluster_arn
    assert settings.db_secret_arn
    db = D1Database(settings.db_cluster_arn, settings.db_secret_arn, DATABASE, client=env.client("rds-data"))
    db.prepare("SELECT 1").run()  # the client and its endpoint resolved before measuring
    before = rss_bytes()
    reset = reset_peak_rss()
    started = time.perf_counter()
    report = import_d1(db, Path(dump))
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "read": sum(c.read for c in report.comparisons),
                "arrived": sum(c.target.count for c in report.comparisons),
                "matched": all(c.matched for c in report.comparisons),
                "exit_code": report.exit_code,
                "seconds": seconds,
                "phases": report.phases,
                "peak_rss": peak_rss_bytes(),
                "rss_growth": max(0, peak_rss_bytes() - before) if reset else None,
            }
        )
    )


def run() -> list[Row]:
    from ttai.migrations import apply  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="ttai-bench-import-") as scratch:
        started = time.perf_counter()
        dump, rows, no_home = _dump(Path(scratch))
        made = time.perf_counter() - started
        size = dump.stat().st_size
        with LocalStack() as stack:
            apply(stack.create_database(DATABASE))
            result = run_child("benchmarks.imports", {**stack.environ, DUMP_VARIABLE: str(dump)}, timeout=3600)
    if result["read"] != rows - no_home or not result["matched"]:
        raise RuntimeError(f"the import read {result['read']} of {rows - no_home} rows; verified: {result['matched']}")
    mib = 1024 * 1024
    peak = result["peak_rss"] / mib
    what = f"D1 import of {rows:,} rows ({size / mib:,.0f} MiB dump)"
    measured = [
        Row("imports", f"{what}: rows per second", rows / result["seconds"], "rows/s"),
        Row("imports", f"{what}: time, verification included", result["seconds"], "s"),
        Row("imports", f"{what}: peak RSS of the importer", peak, "MiB", f"< {BUDGET_MB}", peak < BUDGET_MB),
    ]
    for phase, spent in result["phases"].items():
        measured.append(Row("imports", f"{what}: of which {phase}", spent, "s"))
    if result["rss_growth"] is not None:
        measured.append(Row("imports", f"{what}: RSS growth during the import", result["rss_growth"] / mib, "MiB"))
    measured.append(Row("imports", f"{what}: making the dump (not the import)", made, "s"))
    return measured


if __name__ == "__main__":
    if "--child" in sys.argv:
        child(os.environ[DUMP_VARIABLE])
    else:
        from benchmarks.report import print_table

        print_table(run())
