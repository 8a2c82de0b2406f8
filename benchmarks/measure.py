"""What the benchmarks measure with: latency samples and their percentiles, AWS calls per operation, statements
captured and explained on PostgreSQL, memory measured in a child process, and a moto server of a benchmark's own."""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

from benchmarks.report import Row
from local.aws_calls import CallCounter
from ttai.errors import NotFound

if TYPE_CHECKING:
    from local.stack import LocalStack

# ------------------------------------------------------------------------------------------------------ time


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): a value that was measured, never one between two."""
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p * len(ordered) / 100))) - 1]


def sample_ms(call: Callable[[], object], samples: int, *, warm_up: int = 0) -> list[float]:
    """Milliseconds each of ``samples`` calls took, after ``warm_up`` untimed ones (first-call imports and
    connections are not per-call costs)."""
    for _ in range(warm_up):
        call()
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def seconds(call: Callable[[], object]) -> float:
    """How long one call took, in seconds."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------------------- AWS calls


def call_detail(calls: Mapping[str, int]) -> str:
    """Calls by operation as a row shows them: ``GetItem 1, Query 4`` (``none`` when there were none)."""
    return ", ".join(f"{operation} {n}" for operation, n in sorted(calls.items())) or "none"


class Meter:
    """Runs an operation with the given clients counted, and keeps one "AWS calls" row per operation."""

    def __init__(self, *clients: Any) -> None:
        self._clients = clients
        self.rows: list[Row] = []

    @classmethod
    def for_stack(cls, stack: LocalStack, *, extra_clients: tuple[str, ...] = ()) -> Meter:
        """Every client of the stack's functions counted (DynamoDB, S3, Secrets Manager, the Data API, and more)."""
        env = stack.env
        return cls(*(env.client(s) for s in ("dynamodb", "s3", "secretsmanager", "rds-data", *extra_clients)))

    def __call__(self, name: str, action: Callable[[], Any], budget: int | None = None) -> CallCounter:
        with CallCounter(*self._clients) as calls:
            action()
        ok = None if budget is None else calls.total == budget
        expected = "" if budget is None else f"= {budget}"
        self.rows.append(Row("AWS calls", f"{name} [{call_detail(calls.calls)}]", calls.total, "calls", expected, ok))
        return calls


# ------------------------------------------------------------------------------------------------ PostgreSQL


class StatementTap:
    """The ExecuteStatement requests a Data API client sends; while ``dry``, answered with no rows, unsent."""

    _EVENTS = ("provide-client-params.rds-data.ExecuteStatement", "before-call.rds-data.ExecuteStatement")

    def __init__(self, client: Any) -> None:
        self._client = client
        self.sent: list[dict[str, Any]] = []
        self.dry = False

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.sent.append(dict(params))

    def _answer(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self.dry:
            return None
        return AWSResponse("", 200, HTTPHeaders(), None), {
            "records": [],
            "columnMetadata": [],
            "numberOfRecordsUpdated": 0,
        }

    def __enter__(self) -> StatementTap:
        for event, handler in zip(self._EVENTS, (self._record, self._answer), strict=True):
            self._client.meta.events.register(event, handler, unique_id=f"{event}-{id(self)}")
        return self

    def __exit__(self, *_: object) -> None:
        for event, handler in zip(self._EVENTS, (self._record, self._answer), strict=True):
            self._client.meta.events.unregister(event, handler, unique_id=f"{event}-{id(self)}")

    def capture(self, call: Callable[[], object]) -> dict[str, Any]:
        """The one statement ``call`` sends, without running it."""
        self.sent.clear()
        self.dry = True
        try:
            call()
        except NotFound:
            pass  # an empty answer reads as "no such screener / alert"; the statement is what matters
        finally:
            self.dry = False
        return self.only_statement()

    def only_statement(self) -> dict[str, Any]:
        """The statement sent since the last ``capture`` or ``sent.clear()``: a read is one Data API call."""
        if len(self.sent) != 1:
            raise AssertionError(f"a read should be one Data API call, this one made {len(self.sent)}")
        return self.sent[0]


_EXPLAIN = "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) "


def explain(client: Any, statement: dict[str, Any]) -> dict[str, Any]:
    """The statement run again as EXPLAIN ANALYZE, same SQL and same typed parameters: PostgreSQL's own account."""
    response = client.execute_statement(**{**statement, "sql": _EXPLAIN + statement["sql"]})
    plan: dict[str, Any] = json.loads(response["records"][0][0]["stringValue"])[0]
    return plan


def plan_outline(plan: dict[str, Any]) -> str:
    """Node types, relations and indexes of a plan, indented: why a query is slow, at a glance."""
    lines: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        where = " ".join(str(node[k]) for k in ("Relation Name", "Index Name", "Sort Key") if k in node)
        rows = f"rows={node.get('Actual Rows')}"
        removed = f" removed={node['Rows Removed by Filter']}" if node.get("Rows Removed by Filter") else ""
        lines.append(f"{'  ' * depth}{node['Node Type']} {where} {rows}{removed}".rstrip())
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan["Plan"], 1)
    return "\n".join(lines)


@dataclass
class QueryTimings:
    """A query's samples: the whole trip through the D1 binding and the Data API, and PostgreSQL's "Execution
    Time" for the same statement (what a budget is for), with the plan of the slowest."""

    server_ms: list[float] = field(default_factory=list)
    trip_ms: list[float] = field(default_factory=list)
    slowest_plan: dict[str, Any] | None = None

    def add(self, trip_ms: float, plan: dict[str, Any]) -> None:
        server = float(plan["Execution Time"])
        if self.slowest_plan is None or server > max(self.server_ms):
            self.slowest_plan = plan
        self.server_ms.append(server)
        self.trip_ms.append(trip_ms)

    def time(self, call: Callable[[], object], tap: StatementTap, client: Any) -> None:
        """One sample of a read: its statement captured unsent, the call timed whole (which also reads the pages in
        from wherever they are), then the statement explained on those pages."""
        statement = tap.capture(call)
        (trip,) = sample_ms(call, 1)
        self.add(trip, explain(client, statement))

    def rows(self, group: str, name: str, budget_ms: float, budget_note: str = "") -> list[Row]:
        """The p95 on PostgreSQL against its budget, and the p95 of the trip (reported without one)."""
        server, trip = self.server_ms, self.trip_ms
        p95 = percentile(server, 95)
        return [
            Row(
                f"{group} on PostgreSQL",
                f"{name}: p95 (p50 {percentile(server, 50):.2f}, max {max(server):.2f} ms)",
                p95,
                "ms",
                f"<= {budget_ms:g} ms{budget_note}",
                p95 <= budget_ms,
            ),
            Row(
                f"{group} via D1 + Data API",
                f"{name}: p95 (p50 {percentile(trip, 50):.2f} ms)",
                percentile(trip, 95),
                "ms",
            ),
        ]

    def explain_miss(self, benchmark: str, name: str) -> None:
        """The slowest plan on stderr, for a query that missed its budget."""
        if self.slowest_plan is not None:
            print(f"{benchmark}: {name} missed; slowest plan:", file=sys.stderr)
            print(plan_outline(self.slowest_plan), file=sys.stderr)


def database_uri(stack: LocalStack) -> str:
    """The libpq URI of the stack's database (create_database returns the existing one's)."""
    from local.stack import DATABASE  # noqa: PLC0415

    assert stack.postgres is not None, "the stack is not started"
    return stack.postgres.create_database(DATABASE)


# ---------------------------------------------------------------------------------- memory, in a child process


def rss_bytes() -> int:
    """This process's resident set now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Start the kernel's high-water mark (VmHWM) afresh, so a peak reached while importing and connecting, before
    the work measured, is not counted as the work's. False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """This process's resident set at its highest since it started (or since ``reset_peak_rss``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def run_child(module: str, environ: Mapping[str, str], *, timeout: float = 900) -> dict[str, Any]:
    """``python -m <module> --child`` in a fresh process (only its own memory counts there), with this process's
    environment and ``environ``; what the child printed last, as JSON."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--child"],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        raise RuntimeError(f"the child process of {module} failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------------------------------- a moto of its own


@contextmanager
def moto_server() -> Iterator[Callable[..., Any]]:
    """A moto server on a free port for one benchmark; yields ``client(service, **config)`` for boto3 clients of it."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from local.stack import free_port  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()

    def client(service: str, **config: Any) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
            config=Config(**config),
        )

    try:
        yield client
    finally:
        server.stop()
