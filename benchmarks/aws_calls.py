"""AWS API calls per operation, counted with a botocore hook on the moto-backed local stack."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from benchmarks.report import Row
from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.kv import INLINE_VALUE_MAX_BYTES, iter_all_keys
from ttai.services.cache import CacheService

QUOTE = '{"symbol":"%s","last":1.0,"updated_at":"2026-11-20T15:00:00Z"}'


def run() -> list[Row]:
    rows: list[Row] = []
    with LocalStack() as stack:
        env = stack.env
        kv = env.KV
        cache = CacheService(kv)
        clients = (env.client("dynamodb"), env.client("s3"), env.client("secretsmanager"))

        def count(name: str, action: Callable[[], Any], budget: int | None = None) -> None:
            with CallCounter(*clients) as calls:
                action()
            detail = ", ".join(f"{op} {n}" for op, n in sorted(calls.by_operation().items())) or "none"
            ok = None if budget is None else calls.total == budget
            rows.append(
                Row(
                    "AWS calls", f"{name} [{detail}]", calls.total, "calls", "" if budget is None else f"= {budget}", ok
                )
            )

        symbols = [f"S{i:03d}" for i in range(250)]
        kv.put_many({f"quote:{s}": QUOTE % s for s in symbols}, expiration_ttl=60)
        count("KV get (hit)", lambda: kv.get("quote:S001"), 1)
        count("KV get (miss)", lambda: kv.get("quote:NOPE"), 1)
        count("KV put (inline)", lambda: kv.put("bench:small", "x" * 1000), 1)
        count("KV put (S3 overflow)", lambda: kv.put("bench:big", b"x" * (INLINE_VALUE_MAX_BYTES + 1)), 2)
        count("KV get (S3 overflow)", lambda: kv.get("bench:big", "bytes"), 2)
        count("KV delete (S3 overflow)", lambda: kv.delete("bench:big"), 2)
        count("KV bulk get, 100 keys", lambda: kv.get([f"quote:{s}" for s in symbols[:100]]), 1)
        count("KV list, one page", lambda: kv.list(prefix="quote:", limit=100), 4)
        count("KV list all 250 quote keys", lambda: list(iter_all_keys(kv, "quote:")))
        count("cache hit (get_quote)", lambda: cache.get_quote("S002"), 1)
        count("cache get_quotes, 250 symbols", lambda: cache.get_quotes(symbols), 3)
        count("cache set_quotes, 250 quotes", lambda: cache.set_quotes({s: json.loads(QUOTE % s) for s in symbols}), 10)

        user = stack.token_for("bench-user")
        service = stack.token_for("bench-service", scopes=("service",))
        stack.http("GET", "/health")  # import the functions before counting
        count("GET /health", lambda: stack.http("GET", "/health"), 0)
        assert stack.gateway is not None
        stack.gateway.authorizer_cache_ttl = 0
        count(
            "GET /api/v1/quotes/{s}, authorizer uncached",
            lambda: stack.http("GET", "/api/v1/quotes/S003", token=user),
            2,
        )
        stack.gateway.authorizer_cache_ttl = 300
        stack.http("GET", "/api/v1/quotes/S003", token=user)
        count(
            "GET /api/v1/quotes/{s}, authorizer cached", lambda: stack.http("GET", "/api/v1/quotes/S003", token=user), 1
        )
        query = {"symbols": ",".join(symbols)}
        count(
            "GET /api/v1/quotes?symbols= (250)", lambda: stack.http("GET", "/api/v1/quotes", token=user, query=query), 3
        )
        body = {"quotes": [{"symbol": s, "last": 2.0, "updated_at": "2026-11-20T15:00:00Z"} for s in symbols[:100]]}
        stack.http("GET", "/api/v1/quotes/S001", token=service)  # the service token's session is now cached
        count(
            "PUT /api/v1/quotes (100 quotes)", lambda: stack.http("PUT", "/api/v1/quotes", token=service, json=body), 5
        )
    return rows
