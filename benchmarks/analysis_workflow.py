"""The analysis workflow for 500 symbols: how long one run takes on the local runner against a local stack, and the
durable operations and invocations it costs (Lambda allows 3,000 operations per execution).

Each symbol has 60 daily bars; the run reads them, computes the indicators, stores and caches one analysis per
symbol (a step each for the read and the store) and announces the run once. The runner's clock is virtual, so no
retry waits; the time is the steps' own work and their checkpoints. The checkpoint requests the handler sends are
the CheckpointDurableExecution calls Lambda would receive (a step whose body takes under a second is one).

Locally the time grows faster than the symbols: the SDK's testing runner writes the whole execution to its file
store at every checkpoint (and a status read parses all of it), so a run of a thousand steps spends much of its time
there; on Lambda the service keeps the checkpoints. 60 symbols take about 65 ms each, 500 about 200 ms each.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.report import Row
from local.stack import LocalStack
from local.workflows import LocalWorkflows, VirtualClock
from ttai.bindings.workflows.step import MAX_OPERATIONS
from ttai.workflows.analysis import AnalysisWorkflow

SYMBOLS = 500
BARS = 60
USER = "bench-analyst"
_BARS = """
INSERT INTO bars (symbol, date, open, high, low, close, volume, source)
SELECT 'S' || lpad(s::text, 4, '0'), d::date, c, c * 1.01, c * 0.99, c, 1000, 'bench'
FROM generate_series(1, ?1::int) AS s
CROSS JOIN LATERAL (
    SELECT d, row_number() OVER (ORDER BY d) AS n
    FROM generate_series(?2::date - 120, ?2::date, interval '1 day') AS d
    WHERE extract(isodow FROM d) < 6
    ORDER BY d DESC LIMIT ?3
) days
CROSS JOIN LATERAL (SELECT round((50 + s % 50 + 5 * sin(n / 3.0 + s))::numeric, 4) AS c) price
"""


def run() -> list[Row]:
    clock = VirtualClock(skip=True)
    symbols = [f"S{n:04d}" for n in range(1, SYMBOLS + 1)]
    with LocalStack() as stack, tempfile.TemporaryDirectory() as root:
        stack.token_for(USER)
        stack.env.DB.prepare(_BARS).bind(SYMBOLS, clock.now().date(), BARS).run()
        with LocalWorkflows(Path(root), clock=clock, env=stack.env) as local:
            binding = local.register("analysis", AnalysisWorkflow)
            started = time.perf_counter()
            instance = binding.create(id="bench-500", params={"user": USER, "symbols": symbols})
            status = local.wait_for(instance, "complete", "errored", timeout=1800)
            seconds = time.perf_counter() - started
            engine = local.engines["analysis"]
            checkpoints, invocations = engine.checkpoints, engine.invocations
    if status["status"] != "complete" or len(status["output"]["analyses"]) != SYMBOLS:
        raise RuntimeError(f"the analysis of {SYMBOLS} symbols ended {status['status']}: {status['error']}")
    what = f"analysis workflow, {SYMBOLS} symbols x {BARS} bars"
    return [
        Row("workflows", f"{what}: time to complete", seconds, "s"),
        Row("workflows", f"{what}: per symbol", seconds * 1000 / SYMBOLS, "ms"),
        Row(
            "workflows",
            f"{what}: CheckpointDurableExecution (one per step)",
            checkpoints,
            "calls",
            f"<= {MAX_OPERATIONS}",
            checkpoints <= MAX_OPERATIONS,
        ),
        Row("workflows", f"{what}: Lambda invocations", invocations, "invocations", "= 1", invocations == 1),
    ]


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table(run())
