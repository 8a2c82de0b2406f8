"""Durable Objects: what one object call costs on top of its method, in DynamoDB requests and in time on moto.

Every call takes the object's lease (one UpdateItem) and releases it (an UpdateItem, or the TransactWriteItems that
also carries the call's writes), so a call that touches no storage costs 2 requests and a read-modify-write 3.
Times are through the in-process transport (JSON both ways, as a Lambda invoke) against moto server, on a table of
its own; deployed, each request is a DynamoDB round trip instead (single-digit ms in-region), plus the invoke.
The contended figure runs 20 threads x 10 calls on one object: the lease is polled with backoff, so waiting calls
cost extra UpdateItems, reported per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.measure import Meter, moto_server, percentile, sample_ms
from benchmarks.report import Row
from local.aws_calls import CallCounter
from local.moto_atomic import make_dynamodb_requests_atomic
from local.tables import create_durable_table
from ttai.bindings.durable import DurableObject, DurableObjectStub
from ttai.bindings.durable.host import DurableObjectHost
from ttai.layout import storage_layout

CALLS = 200
THREADS, PER_THREAD = 20, 10
BUDGET_MS = {"ping": 25.0, "add": 35.0}  # p50 on moto, 2 and 3 requests


class BenchCounter(DurableObject):
    def ping(self) -> str:
        return "pong"

    def add(self, n: int) -> int:
        total = int(self.ctx.storage.get("total") or 0) + n
        self.ctx.storage.put("total", total)
        return total

    def total(self) -> int:
        return int(self.ctx.storage.get("total") or 0)


def _calls(count: Meter, stub: DurableObjectStub) -> None:
    cases: list[tuple[str, Callable[[], Any], int]] = [
        ("no storage (ping)", stub.ping, 2),
        ("read-only (one get)", stub.total, 3),
        ("read-modify-write (get + put)", lambda: stub.add(1), 3),
    ]
    for label, call, budget in cases:
        count(f"durable object call, {label}", call, budget)


def _latency(rows: list[Row], method: str, call: Callable[[], Any]) -> None:
    timings = sample_ms(call, CALLS, warm_up=10)
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    budget = BUDGET_MS[method]
    name = f"durable object call on moto, {method}: p50 ({CALLS} calls)"
    rows.append(Row("durable", name, p50, "ms", f"<= {budget:g} ms", p50 <= budget))
    rows.append(Row("durable", name.replace("p50", "p95"), p95, "ms"))


def _contended(rows: list[Row], dynamodb: Any, stub: DurableObjectStub) -> None:
    with CallCounter(dynamodb) as counter, ThreadPoolExecutor(max_workers=THREADS) as pool:
        started = time.perf_counter()
        totals = list(pool.map(lambda _: stub.add(1), range(THREADS * PER_THREAD)))
        elapsed = time.perf_counter() - started
    calls = THREADS * PER_THREAD
    assert sorted(totals) == list(range(1, calls + 1)), "lost update under contention"
    per_call = counter.total / calls
    name = f"durable object call, {THREADS} threads on one object: requests per call (lease polls included)"
    rows.append(Row("durable", name, per_call, "calls"))
    rows.append(Row("durable", f"same: object calls per second ({calls} calls)", calls / elapsed, "calls/s"))


def run() -> list[Row]:
    make_dynamodb_requests_atomic()  # conditional writes must be atomic, as DynamoDB's are, for the lease
    rows: list[Row] = []
    with moto_server() as client:
        dynamodb = client("dynamodb", max_pool_connections=THREADS + 4)
        create_durable_table(dynamodb, "ttai-bench-durable", storage_layout().durable)
        host = DurableObjectHost({"COUNTER": BenchCounter}, table="ttai-bench-durable", dynamodb=dynamodb)
        counters = host.namespace("COUNTER")
        count = Meter(dynamodb)
        _calls(count, counters.get_by_name("counted"))
        rows += count.rows
        timed = counters.get_by_name("timed")
        _latency(rows, "ping", timed.ping)
        _latency(rows, "add", lambda: timed.add(1))
        _contended(rows, dynamodb, counters.get_by_name("contended"))
    return rows
