"""Peak memory of an export of 100,000 journal rows (target: under 100 MB), and how long it takes.

The rows are loaded server side (``INSERT ... SELECT FROM generate_series``) for one user of a local stack. The
export itself runs in a child process, as a Lambda would run it: only the export's own memory is measured there,
not moto's copy of the file or the local Data API's, which live in this process. The child reports its Python
allocation peak during the export (tracemalloc) and how far its resident set grew (peak RSS less RSS before).
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc

from benchmarks.measure import peak_rss_bytes, reset_peak_rss, rss_bytes, run_child
from benchmarks.report import Row
from local.stack import LocalStack

ROWS = 100_000
USER = "bench-exporter"
BUDGET_MB = 100


def _load(stack: LocalStack) -> None:
    stack.token_for(USER)
    stack.env.DB.prepare(
        "INSERT INTO trade_journal (user_id, symbol, strategy, legs, quantity, entry_date, entry_price, exit_date,"
        " exit_price, pnl, pnl_percent, notes)"
        " SELECT ?1, (ARRAY['AAPL','MSFT','NVDA','SPY','QQQ'])[1 + g % 5], 'put_credit_spread',"
        " jsonb_build_array(jsonb_build_object('type', 'put', 'side', 'sell', 'strike', 400 + g % 50,"
        " 'expiration', '2026-12-18'), jsonb_build_object('type', 'put', 'side', 'buy', 'strike', 395 + g % 50,"
        " 'expiration', '2026-12-18')), 1 + g % 10, DATE '2025-01-01' + (g % 600), 1.25 + (g % 100) / 100.0,"
        " DATE '2025-01-01' + (g % 600) + 7, 0.5, 75.0 * (1 + g % 10), 60.0,"
        " 'rolled once; closed at half of max profit, entry ' || g"
        " FROM generate_series(1, ?2::int) AS g"
    ).bind(USER, ROWS).run()


def child() -> None:
    """Run one export in this process (the stack's variables are in the environment) and print what it cost."""
    from ttai.env import Env  # noqa: PLC0415
    from ttai.services.exports import ExportRequest, ExportService  # noqa: PLC0415
    from ttai.services.storage import StorageService  # noqa: PLC0415

    env = Env.from_environ()
    service = ExportService(env.DB, StorageService(env.R2, USER))
    request = ExportRequest(dataset="journal", format="csv")
    env.R2.head("warm-up")  # clients and their endpoints resolved before measuring
    before = rss_bytes()
    if not reset_peak_rss():
        print("the peak RSS could not be reset: the growth below may include a peak from before the export")
    tracemalloc.start()
    started = time.perf_counter()
    created = service.create(request)
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = peak_rss_bytes()
    print(
        json.dumps(
            {
                "rows": created.rows,
                "bytes": created.size,
                "seconds": seconds,
                "traced_peak": traced_peak,
                "rss_growth": max(0, peak_rss - before),
            }
        )
    )


def run() -> list[Row]:
    with LocalStack() as stack:
        _load(stack)
        result = run_child("benchmarks.exports", stack.environ)
    if result["rows"] != ROWS:
        raise RuntimeError(f"the export wrote {result['rows']} rows, not {ROWS}")
    mib = 1024 * 1024
    traced, growth = result["traced_peak"] / mib, result["rss_growth"] / mib
    what = f"export of {ROWS:,} journal rows (CSV)"
    budget = f"< {BUDGET_MB}"
    return [
        Row("exports", f"{what}: Python peak", traced, "MiB", budget, traced < BUDGET_MB),
        Row("exports", f"{what}: RSS growth", growth, "MiB", budget, growth < BUDGET_MB),
        Row("exports", f"{what}: file", result["bytes"] / mib, "MiB"),
        Row("exports", f"{what}: time", result["seconds"], "s"),
    ]


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        from benchmarks.report import print_table

        print_table(run())
