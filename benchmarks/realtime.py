"""Real time end to end on one machine: how soon an ingested quote reaches its subscribers, how long a publish to
1,000 subscribers of one channel takes, and what a publish costs in AWS calls.

Everything runs as the tests run it (LocalStack + LocalRealtime: the local WebSocket gateway, the durable host
in-process, moto, embedded PostgreSQL), clients are `websockets` clients in this process; on this 2-core machine they
compete with the gateway, moto and the host for CPU, so the times are upper bounds of the code's own cost. Deployed,
each hop adds a Lambda invoke and in-region round trips instead.

- ingest -> frame: PUT /api/v1/quotes through the local HTTP gateway, authorizer and api function (its market
  service handing the batch off as the api function does), until each of 10 subscribers of the symbol has the frame.
- the ingest's own latency with and without the hand-off (what real time adds to every PUT).
- 1,000 subscribers: connected with tickets and subscribed through their Subscriptions objects (set-up time
  reported: the subscribes queue on the channel object's lease), then publishes (one to warm the posting pool, then
  three timed) until all 1,000 have each frame.
- AWS calls per publish, counted: a BatchGetItem (who listens), the object's lease (2 UpdateItem), one Query page
  per 1 MB of sockets, one PostToConnection per subscriber.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect

from benchmarks.measure import call_detail, percentile, sample_ms
from benchmarks.report import Row
from local.aws_calls import CallCounter
from local.realtime import LocalRealtime
from local.stack import LocalStack
from ttai.http import deps
from ttai.services.cache import CacheService
from ttai.services.market import MarketDataService

QUOTES = 200
WARM_UP = 10
SUBSCRIBERS = 10
CROWD = 1_000
CONNECTING_AT_ONCE = 50
# Every subscribe to one channel takes that channel's object lease in turn: more at once only adds lease polling.
SUBSCRIBING_AT_ONCE = 5
CLOSING_AT_ONCE = 25
PUBLISHES = 3
INGEST_BUDGET_MS = 50.0
CROWD_BUDGET_S = 2.0
SYMBOL = "BENCH"
CROWD_CHANNEL = "jobs"
QUERY_PAGE_BYTES = 1024 * 1024
T = TypeVar("T")


async def _connect(realtime: LocalRealtime, user_id: str) -> ClientConnection:
    return await connect(await asyncio.to_thread(realtime.ticket_url, user_id), open_timeout=60, max_queue=None)


async def _subscribe(ws: ClientConnection, channel: str) -> None:
    """Subscribe ``ws`` (an object too busy answers 'unavailable': the frame is sent again)."""
    for _ in range(50):
        await ws.send(json.dumps({"action": "subscribe", "channels": [channel]}))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if answer.get("type") == "subscribed":
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"could not subscribe to {channel}: {answer}")


async def _limited(count: int, at_once: int, work: Callable[[int], Awaitable[T]]) -> list[T]:
    gate = asyncio.Semaphore(at_once)

    async def one(n: int) -> T:
        async with gate:
            return await work(n)

    return await asyncio.gather(*(one(n) for n in range(count)))


async def _crowd(realtime: LocalRealtime, count: int, channel: str, prefix: str) -> list[ClientConnection]:
    clients = await _limited(count, CONNECTING_AT_ONCE, lambda n: _connect(realtime, f"{prefix}-{n}"))
    await _limited(count, SUBSCRIBING_AT_ONCE, lambda n: _subscribe(clients[n], channel))
    return clients


async def _close(clients: list[ClientConnection]) -> None:
    """A few at a time: each close is a $disconnect, and a thousand at once outrun its 29 s timeout here."""
    await _limited(len(clients), CLOSING_AT_ONCE, lambda n: clients[n].close())


def _put_quotes(stack: LocalStack, token: str) -> Callable[[float], None]:
    def put(last: float) -> None:
        quote = {"symbol": SYMBOL, "last": last, "updated_at": "2026-11-20T15:00:00Z"}
        status, _, body = stack.http("PUT", "/api/v1/quotes", token=token, json={"quotes": [quote]})
        if status != 200:
            raise RuntimeError(f"PUT /api/v1/quotes answered {status}: {body}")

    return put


async def ingest_to_frame(stack: LocalStack, realtime: LocalRealtime, put: Callable[[float], None]) -> list[Row]:
    clients = await _crowd(realtime, SUBSCRIBERS, f"quotes:{SYMBOL}", "ingest")
    arrivals: dict[int, list[float]] = {}
    complete: dict[int, asyncio.Event] = {}

    async def listen(ws: ClientConnection) -> None:
        async for message in ws:
            seq = int(json.loads(message)["data"]["last"])
            arrivals.setdefault(seq, []).append(time.perf_counter())
            if len(arrivals[seq]) == SUBSCRIBERS:
                complete[seq].set()

    listeners = [asyncio.create_task(listen(ws)) for ws in clients]
    latencies: list[float] = []
    try:
        for seq in range(WARM_UP + QUOTES):
            complete[seq] = asyncio.Event()
            started = time.perf_counter()
            await asyncio.to_thread(put, float(seq))
            await asyncio.wait_for(complete[seq].wait(), 30)
            if seq >= WARM_UP:
                latencies += [(arrived - started) * 1000 for arrived in arrivals[seq]]
    finally:
        for task in listeners:
            task.cancel()
        await _close(clients)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    name = f"quote ingest (PUT) -> frame at each of {SUBSCRIBERS} subscribers, {QUOTES} quotes"
    return [
        Row("realtime", f"{name}: p50", p50, "ms"),
        Row("realtime", f"{name}: p95", p95, "ms", f"<= {INGEST_BUDGET_MS:g} ms", p95 <= INGEST_BUDGET_MS),
    ]


def ingest_latency(put: Callable[[float], None], label: str) -> Row:
    timings = sample_ms(lambda: put(1.0), QUOTES, warm_up=WARM_UP)
    return Row("realtime", f"PUT /api/v1/quotes (one quote) p50, {label}", percentile(timings, 50), "ms")


async def crowd_publish(realtime: LocalRealtime) -> list[Row]:
    started = time.perf_counter()
    clients = await _crowd(realtime, CROWD, CROWD_CHANNEL, "crowd")
    set_up = time.perf_counter() - started
    rows = [Row("realtime", f"{CROWD:,} clients connect and subscribe to one channel (set-up)", set_up, "s")]
    assert realtime.management is not None
    publisher, posts = realtime.realtime.publisher, realtime.management.requests
    try:
        timings = []
        for attempt in range(1 + PUBLISHES):
            receiving = asyncio.gather(*(asyncio.wait_for(ws.recv(), 60) for ws in clients))
            posted = posts["PostToConnection"]
            started = time.perf_counter()
            with CallCounter(realtime.dynamodb) as dynamodb:
                reached = await asyncio.to_thread(publisher.publish, CROWD_CHANNEL, {"type": "bench", "n": attempt})
            received = await receiving
            if attempt:  # the first warms the posting pool's connections
                timings.append(time.perf_counter() - started)
            if reached != CROWD or len(received) != CROWD:
                raise RuntimeError(f"published to {reached}, received by {len(received)} of {CROWD}")
        median = statistics.median(timings)
        name = f"one publish to {CROWD:,} subscribers of one channel, until all have it"
        rows += [
            Row(
                "realtime",
                f"{name} (median of {PUBLISHES})",
                median,
                "s",
                f"<= {CROWD_BUDGET_S:g} s",
                median <= CROWD_BUDGET_S,
            ),
            Row("realtime", f"{name} (slowest of {PUBLISHES})", max(timings), "s"),
        ]
        rows += _calls(realtime, dynamodb.by_operation(), posts["PostToConnection"] - posted)
    finally:
        await _close(clients)
    return rows


def _calls(realtime: LocalRealtime, dynamodb: dict[str, int], posts: int) -> list[Row]:
    """The publish's calls against what the design allows: 1 BatchGetItem, 2 UpdateItem (lease), a Query page per
    1 MB of sockets, a post per subscriber."""
    partition = realtime.realtime.publisher.partition(CROWD_CHANNEL)
    request: dict[str, Any] = {
        "TableName": realtime.connections_table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :c)",
        "ExpressionAttributeValues": {":pk": {"S": partition}, ":c": {"S": "c:"}},
    }
    stored = 0
    while True:
        page = realtime.dynamodb.query(**request)
        stored += sum(_item_bytes(item) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    pages = max(1, math.ceil(stored / QUERY_PAGE_BYTES))
    allowed = {"BatchGetItem": 1, "UpdateItem": 2, "Query": pages}
    detail = call_detail({**dynamodb, "PostToConnection": posts})
    total = sum(dynamodb.values()) + posts
    budget = sum(allowed.values()) + CROWD
    ok = dynamodb == allowed and posts == CROWD
    return [Row("AWS calls", f"publish to {CROWD:,} subscribers [{detail}]", total, "calls", f"= {budget}", ok)]


def _item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item, near enough: attribute names plus their values' lengths."""
    size = 0
    for name, value in item.items():
        ((kind, content),) = value.items()
        size += len(name) + (sum(len(v["S"]) for v in content) if kind == "L" else len(str(content)))
    return size


def _enough_file_descriptors() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 6 * CROWD + 512  # each client: its socket, the gateway's end, and the gateway's @connections calls
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def run() -> list[Row]:
    _enough_file_descriptors()
    rows: list[Row] = []
    with LocalStack() as stack, LocalRealtime(stack) as realtime:
        plain = MarketDataService(CacheService(stack.env.KV))
        handing_off = MarketDataService(CacheService(stack.env.KV), realtime=realtime.quote_hand_off())
        original = deps.market
        put = _put_quotes(stack, stack.token_for("bench-feed", scopes=["service"]))
        try:
            deps.market = lambda: plain
            rows.append(ingest_latency(put, "no real time"))
            deps.market = lambda: handing_off
            rows.append(ingest_latency(put, "handing the batch to real time (nobody listening)"))
            realtime.settle()
            rows += asyncio.run(ingest_to_frame(stack, realtime, put))
        finally:
            deps.market = original
        realtime.settle()
        rows += asyncio.run(crowd_publish(realtime))
    return rows


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table(run())
