"""``make bench``: measured budgets, printed as one table (and written as JSON to build/bench.json)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from benchmarks import (
    analysis_workflow,
    aws_calls,
    cold_start,
    consumers,
    dev_start,
    durable,
    exports,
    imports,
    jobs_history,
    list_queries,
    queues,
    read_through,
    realtime,
    sizes,
    vectorize,
    websocket_gateway,
    workflows,
)
from benchmarks.report import Row, print_table

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    # The functions under measurement flush EMF metrics to stdout, as on Lambda; here they would bury the table.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    rows: list[Row] = []
    rows += cold_start.run()
    rows += dev_start.run()
    rows += aws_calls.run()
    rows += read_through.run()
    rows += consumers.run()
    rows += durable.run()
    rows += list_queries.run()
    rows += jobs_history.run()
    rows += vectorize.run()
    rows += queues.run()
    rows += exports.run()
    rows += imports.run()
    rows += workflows.run()
    rows += analysis_workflow.run()
    rows += sizes.run()
    rows += websocket_gateway.run()
    rows += realtime.run()
    print_table(rows)
    out = ROOT / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps([row.as_dict() for row in rows], indent=2))
    failed = [row for row in rows if row.ok is False]
    if failed:
        print(f"\n{len(failed)} budget(s) missed: {', '.join(r.name for r in failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
