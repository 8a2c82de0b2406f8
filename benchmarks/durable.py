"""Durable Objects: what one object call costs on top of its method, in DynamoDB requests and in time on moto.

Every call takes the object's lease (one UpdateItem) and releases it (an UpdateItem, or the TransactWriteItems that
also carries the call's writes), so a call that touches no storage costs 2 requests and a read-modify-write 3.
Times are through the in-process transport (JSON both ways, as a Lambda invoke) against moto server, on a table of
its own; deployed, each request is a DynamoDB round trip instead (single-digit ms in-region), plus the invoke.
The contended figure runs 20 threads x 10 calls on one object: the lease is polled with backoff, so waiting calls
cost extra UpdateItems, reported per call.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from benchmarks.report import Row
from local.aws_calls import CallCounter
from local.durable import create_durable_table
from local.moto_atomic import make_dynamodb_requests_atomic
from local.stack import free_port
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


def _calls(rows: list[Row], dynamodb: Any, stub: DurableObjectStub) -> None:
    cases: list[tuple[str, Callable[[], Any], int]] = [
        ("no storage (ping)", stub.ping, 2),
        ("read-only (one get)", stub.total, 3),
        ("read-modify-write (get + put)", lambda: stub.add(1), 3),
    ]
    for label, call, budget in cases:
        with CallCounter(dynamodb) as counter:
            call()
        detail = ", ".join(f"{op} {n}" for op, n in sorted(counter.by_operation().items()))
        name = f"durable object call, {label} [{detail}]"
        rows.append(Row("AWS calls", name, counter.total, "calls", f"= {budget}", counter.total == budget))


def _latency(rows: list[Row], method: str, call: Callable[[], Any]) -> None:
    for _ in range(10):
        call()  # warm: first-call imports and connections are not per-call costs
    timings = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = statistics.median(timings), statistics.quantiles(timings, n=20)[-1]
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
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    make_dynamodb_requests_atomic()  # conditional writes must be atomic, as DynamoDB's are, for the lease
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    rows: list[Row] = []
    try:
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
            config=Config(max_pool_connections=THREADS + 4),
        )
        create_durable_table(dynamodb, "ttai-bench-durable", storage_layout().durable)
        host = DurableObjectHost({"COUNTER": BenchCounter}, table="ttai-bench-durable", dynamodb=dynamodb)
        counters = host.namespace("COUNTER")
        _calls(rows, dynamodb, counters.get_by_name("counted"))
        timed = counters.get_by_name("timed")
        _latency(rows, "ping", timed.ping)
        _latency(rows, "add", lambda: timed.add(1))
        _contended(rows, dynamodb, counters.get_by_name("contended"))
    finally:
        server.stop()
    return rows
