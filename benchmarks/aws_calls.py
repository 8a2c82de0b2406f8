"""AWS API calls per operation, counted with a botocore hook on the local stack (moto + the local Data API)."""

from __future__ import annotations

import json

from benchmarks.measure import Meter
from benchmarks.report import Row
from local.stack import LocalStack
from ttai.bindings.kv import INLINE_VALUE_MAX_BYTES, iter_all_keys
from ttai.services.cache import CacheService

QUOTE = '{"symbol":"%s","last":1.0,"updated_at":"2026-11-20T15:00:00Z"}'
SYMBOLS = [f"S{i:03d}" for i in range(250)]


def kv_and_cache(stack: LocalStack, count: Meter) -> None:
    kv = stack.env.KV
    cache = CacheService(kv)
    kv.put_many({f"quote:{s}": QUOTE % s for s in SYMBOLS}, expiration_ttl=60)
    count("KV get (hit)", lambda: kv.get("quote:S001"), 1)
    count("KV get (miss)", lambda: kv.get("quote:NOPE"), 1)
    count("KV put (inline)", lambda: kv.put("bench:small", "x" * 1000), 1)
    count("KV put (S3 overflow)", lambda: kv.put("bench:big", b"x" * (INLINE_VALUE_MAX_BYTES + 1)), 2)
    count("KV get (S3 overflow)", lambda: kv.get("bench:big", "bytes"), 2)
    count("KV delete (S3 overflow)", lambda: kv.delete("bench:big"), 2)
    count("KV bulk get, 100 keys", lambda: kv.get([f"quote:{s}" for s in SYMBOLS[:100]]), 1)
    count("KV list, one page", lambda: kv.list(prefix="quote:", limit=100), 4)
    count("KV list all 250 quote keys", lambda: list(iter_all_keys(kv, "quote:")))
    count("cache hit (get_quote)", lambda: cache.get_quote("S002"), 1)
    count("cache get_quotes, 250 symbols", lambda: cache.get_quotes(SYMBOLS), 3)
    count("cache set_quotes, 250 quotes", lambda: cache.set_quotes({s: json.loads(QUOTE % s) for s in SYMBOLS}), 10)


def http(stack: LocalStack, count: Meter) -> None:
    assert stack.gateway is not None
    user = stack.token_for("bench-user")
    service = stack.token_for("bench-service", scopes=("service",))
    stack.http("GET", "/health")  # import the functions before counting
    count("GET /health", lambda: stack.http("GET", "/health"), 0)
    # Each function reads its secrets once per container: the authorizer's first call is not the per-request cost.
    # The authorizer caches nothing (it has no identity source), so every request pays its session read, and every
    # authorized one the limits table's UpdateItem (its user's bucket and its session's mark, ttai.auth.admission).
    stack.http("GET", "/api/v1/quotes/S003", token=user)
    count("GET /api/v1/quotes/{s}", lambda: stack.http("GET", "/api/v1/quotes/S003", token=user), 3)
    query = {"symbols": ",".join(SYMBOLS)}
    count("GET /api/v1/quotes?symbols= (250)", lambda: stack.http("GET", "/api/v1/quotes", token=user, query=query), 5)
    body = {"quotes": [{"symbol": s, "last": 2.0, "updated_at": "2026-11-20T15:00:00Z"} for s in SYMBOLS[:100]]}
    count("PUT /api/v1/quotes (100 quotes)", lambda: stack.http("PUT", "/api/v1/quotes", token=service, json=body), 6)
    stack.settle()  # the ingest's asynchronous hand-off to real time runs its own calls, not the next request's
    count("GET /api/v1/me", lambda: stack.http("GET", "/api/v1/me", token=user), 3)
    count("session opened (ttai token)", lambda: stack.token_for("bench-user-2"), 2)


def d1(stack: LocalStack, count: Meter) -> None:
    db = stack.env.DB
    db.exec("CREATE TABLE bench_d1 (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)")
    insert = db.prepare("INSERT INTO bench_d1 (name) VALUES (?)")
    count("D1 run (one INSERT)", lambda: insert.bind("a").run(), 1)
    count("D1 all (one SELECT)", lambda: db.prepare("SELECT * FROM bench_d1").all(), 1)
    count("D1 first", lambda: db.prepare("SELECT name FROM bench_d1 WHERE id = ?").bind(1).first(), 1)
    count("D1 batch, 50 x the same INSERT", lambda: db.batch([insert.bind(f"n{i}") for i in range(50)]), 1)
    mixed = [insert.bind("x"), db.prepare("SELECT count(*) FROM bench_d1"), insert.bind("y")]
    count("D1 batch, 3 different statements (begin + 3 + commit)", lambda: db.batch(mixed), 5)


def run() -> list[Row]:
    with LocalStack() as stack:
        count = Meter.for_stack(stack)
        kv_and_cache(stack, count)
        http(stack, count)
        d1(stack, count)
    return count.rows
