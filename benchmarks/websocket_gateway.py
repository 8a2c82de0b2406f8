"""The local WebSocket gateway: how fast a post reaches a client, and how long 1,000 clients take to get one post
each. A baseline for the pub/sub built on it (reported, no budgets: these measure the stand-in, not AWS).

Posts go through boto3's apigatewaymanagementapi client, as a function would send them; clients are `websockets`
clients in the same process (on this 2-core machine they compete with the gateway for CPU).
"""

from __future__ import annotations

import asyncio
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
from websockets.asyncio.client import connect
from websockets.sync.client import connect as connect_sync

from benchmarks.measure import percentile, sample_ms
from benchmarks.report import Row
from local.websocket import WebSocketGateway

ROUND_TRIPS = 300
WARM_UP = 20
CLIENTS = 1_000
POSTING_THREADS = 16


class ConnectionBook:
    """The ``$connect`` integration: which connection id each client (``?n=``) was given."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self.ids[event["queryStringParameters"]["n"]] = event["requestContext"]["connectionId"]
        return {"statusCode": 200}


def management(gateway: WebSocketGateway) -> ApiGatewayManagementApiClient:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.callback_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - the gateway does not verify signatures
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=POSTING_THREADS),
    )


def round_trip(gateway: WebSocketGateway, book: ConnectionBook) -> list[Row]:
    client = management(gateway)
    with connect_sync(f"{gateway.url}?n=rt") as ws:
        cid = book.ids["rt"]

        def post_and_receive() -> None:
            client.post_to_connection(ConnectionId=cid, Data=b'{"symbol": "AAPL", "price": 201.5}')
            ws.recv()

        times_ms = sample_ms(post_and_receive, ROUND_TRIPS, warm_up=WARM_UP)
    p50, p95 = percentile(times_ms, 50), percentile(times_ms, 95)
    name = f"post_to_connection -> client receives ({ROUND_TRIPS} round trips)"
    return [Row("websocket", f"{name}: p50", p50, "ms"), Row("websocket", f"{name}: p95", p95, "ms")]


async def fan_out(gateway: WebSocketGateway, book: ConnectionBook) -> list[Row]:
    client = management(gateway)
    started = time.perf_counter()
    sockets = await asyncio.gather(*(connect(f"{gateway.url}?n={n}") for n in range(CLIENTS)))
    connected_s = time.perf_counter() - started
    rows = [Row("websocket", f"{CLIENTS:,} clients connect at once", connected_s, "s")]
    try:
        ids = [book.ids[str(n)] for n in range(CLIENTS)]

        def post(cid: str) -> None:
            client.post_to_connection(ConnectionId=cid, Data=b'{"alert": "AAPL above 200"}')

        def sequential() -> None:
            for cid in ids:
                post(cid)

        def threaded() -> None:
            with ThreadPoolExecutor(POSTING_THREADS) as pool:
                list(pool.map(post, ids))

        for label, send in (("one thread", sequential), (f"{POSTING_THREADS} threads", threaded)):
            started = time.perf_counter()
            receiving = asyncio.gather(*(ws.recv() for ws in sockets))
            _, received = await asyncio.gather(asyncio.to_thread(send), receiving)
            elapsed = time.perf_counter() - started
            assert len(received) == CLIENTS
            rows.append(Row("websocket", f"{CLIENTS:,} clients get one post each, posted from {label}", elapsed, "s"))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    return rows


def _enough_file_descriptors() -> None:
    """Each client holds two sockets here (its own and the gateway's end)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * CLIENTS + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def run() -> list[Row]:
    _enough_file_descriptors()
    book = ConnectionBook()
    with WebSocketGateway({"$connect": book}, max_workers=8) as gateway:
        rows = round_trip(gateway, book)
        rows += asyncio.run(fan_out(gateway, book))
    return rows


if __name__ == "__main__":
    from benchmarks.report import print_table

    print_table(run())
