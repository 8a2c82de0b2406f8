"""An export of 100,000 journal rows end to end through the HTTP API: every request answered within 1 s, the whole
export's time, and the peak memory of the process that runs it (target: under 100 MB).

The rows are loaded server side (``INSERT ... SELECT FROM generate_series``) for one user of a local stack. The
functions run in a child process, as Lambda would run them: the api function behind the gateway and the export
workflow's durable function on the SDK's runner (the stack's local runner, hosted in the child). Only their memory
is measured there, not moto's copy of the file or the local Data API's, which live in this process. The child
``POST``s the export, polls ``GET /api/v1/workflows/{id}`` until the run completes, then downloads the file through
its link a chunk at a time; it reports the slowest request, the time to the complete status and to the last byte
downloaded, its Python allocation peak (tracemalloc) and how far its resident set grew (peak RSS less RSS before).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.measure import peak_rss_bytes, reset_peak_rss, rss_bytes, run_child
from benchmarks.report import Row
from local.stack import LocalStack

ROWS = 100_000
USER = "bench-exporter"
BUDGET_MB = 100
REQUEST_BUDGET_MS = 1000
POLL_SECONDS = 0.25
TOKEN_VARIABLE = "BENCH_EXPORT_TOKEN"  # noqa: S105 - the name of the variable carrying it


def _load(stack: LocalStack) -> None:
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
    """The functions of the stack whose variables are in the environment, in this process; one export through them."""
    from local.workflows import WallClock  # noqa: PLC0415
    from local.workflows.hosting import host_workflows  # noqa: PLC0415

    token = os.environ[TOKEN_VARIABLE]
    stack_environ = dict(os.environ)
    gateway, envs = _functions(stack_environ)
    latencies: list[float] = []

    def request(method: str, path: str, body: object = None) -> dict[str, object]:
        started = time.perf_counter()
        response = gateway.request(method, path, token=token, json=body)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {response.body}")
        answer: dict[str, object] = response.body
        return answer

    with tempfile.TemporaryDirectory() as root:
        workflows = host_workflows(Path(root), WallClock(), envs, stack_environ)
        try:
            request("GET", "/api/v1/exports")  # the functions' imports and clients, before measuring
            latencies.clear()
            before = rss_bytes()
            if not reset_peak_rss():
                print("the peak RSS could not be reset: the growth below may include a peak from before the export")
            tracemalloc.start()
            started = time.perf_counter()
            run_id = request("POST", "/api/v1/exports", {"dataset": "journal", "format": "csv"})["id"]
            while True:
                run = request("GET", f"/api/v1/workflows/{run_id}")
                if run["status"] != "running" and run["status"] != "waiting" and run["status"] != "queued":
                    break
                time.sleep(POLL_SECONDS)
            complete = time.perf_counter() - started
            if run["status"] != "complete":
                raise RuntimeError(f"the export ended {run['status']}: {run['error']}")
            output = run["output"]
            assert isinstance(output, dict)
            downloaded = _download(str(output["url"]))
            seconds = time.perf_counter() - started
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peak_rss = peak_rss_bytes()
        finally:
            workflows.close()
    print(
        json.dumps(
            {
                "rows": output["rows"],
                "bytes": output["size"],
                "downloaded": downloaded,
                "complete_seconds": complete,
                "seconds": seconds,
                "requests": len(latencies),
                "slowest_ms": max(latencies),
                "traced_peak": traced_peak,
                "rss_growth": max(0, peak_rss - before),
            }
        )
    )


def _functions(stack_environ: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    """The gateway in front of the api function, and each workflow function's Env, built from their specs."""
    from local.functions import LocalFunction  # noqa: PLC0415
    from local.gateway import LocalGateway  # noqa: PLC0415
    from local.variables import function_environ  # noqa: PLC0415
    from ttai.env import Env  # noqa: PLC0415
    from ttai.layout import function_specs  # noqa: PLC0415

    specs = function_specs()
    functions = {
        name: LocalFunction.from_spec(spec, function_environ(spec, stack_environ)) for name, spec in specs.items()
    }
    gateway = LocalGateway(authorizer=functions["authorizer"], api=functions["api"], auth=functions["auth"])
    envs = {spec.workflow: Env.from_environ(functions[name].environ) for name, spec in specs.items() if spec.workflow}
    return gateway, envs


def _download(url: str) -> int:
    """The file's bytes read a chunk at a time (never held whole); how many."""
    if not url.startswith("http://127.0.0.1:"):
        raise RuntimeError(f"not the local stack's link: {url}")
    size = 0
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - checked above
        while chunk := response.read(1024 * 1024):
            size += len(chunk)
    return size


def run() -> list[Row]:
    with LocalStack() as stack:
        token = stack.token_for(USER)
        _load(stack)
        result = run_child("benchmarks.exports", {**stack.environ, TOKEN_VARIABLE: token})
    if result["rows"] != ROWS or result["downloaded"] != result["bytes"]:
        raise RuntimeError(f"the export wrote {result['rows']} rows and {result['downloaded']} of {result['bytes']} B")
    mib = 1024 * 1024
    traced, growth = result["traced_peak"] / mib, result["rss_growth"] / mib
    what = f"export of {ROWS:,} journal rows (CSV) through the API"
    budget = f"< {BUDGET_MB}"
    slowest = result["slowest_ms"]
    return [
        Row("exports", f"{what}: Python peak", traced, "MiB", budget, traced < BUDGET_MB),
        Row("exports", f"{what}: RSS growth", growth, "MiB", budget, growth < BUDGET_MB),
        Row(
            "exports",
            f"{what}: slowest of {result['requests']} requests (202, status polls)",
            slowest,
            "ms",
            f"< {REQUEST_BUDGET_MS}",
            slowest < REQUEST_BUDGET_MS,
        ),
        Row("exports", f"{what}: file", result["bytes"] / mib, "MiB"),
        Row("exports", f"{what}: time to complete", result["complete_seconds"], "s"),
        Row("exports", f"{what}: time to the last byte downloaded", result["seconds"], "s"),
    ]


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        from benchmarks.report import print_table

        print_table(run())
