"""Seed 004's data rights through the API: a user's whole archive, and an erasure that leaves nothing of them."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from local.stack import LocalStack
from tests.conftest import Clock
from tests.integration.conftest import user_id
from ttai.services.cache import CacheService
from ttai.services.tables import discover


def _seed(stack: LocalStack, token: str) -> str:
    """Rows through the API (audited), cache entries, and objects with history under users/{id}/."""
    uid = user_id(stack, token)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        (
            "PUT",
            "/api/v1/preferences",
            {
                "default_strategy": "wheel",
                "morning_alert": True,
                "eod_summary": False,
                "notification_channels": ["email"],
            },
        ),
        ("PUT", "/api/v1/watchlists/core", {"symbols": ["AAPL", "MSFT"]}),
        ("POST", "/api/v1/alerts", {"symbol": "SPY", "alert_type": "price", "condition": "above", "threshold": 500}),
        (
            "POST",
            "/api/v1/journal",
            {
                "symbol": "MSFT",
                "strategy": "csp",
                "legs": [{"type": "put", "side": "sell", "strike": 400, "expiration": "2026-12-18"}],
                "entry_date": "2026-11-02",
                "entry_price": 3.5,
            },
        ),
        ("POST", "/api/v1/exports", {"dataset": "journal", "format": "csv"}),
    ]
    for method, path, body in calls:
        response = stack.http(method, path, token=token, json=body)
        assert response.status < 300, (path, response.body)
    db = stack.env.DB
    db.prepare(
        "INSERT INTO analyses (user_id, symbol, type, result) VALUES (?1, 'NVDA', 'chart', '{\"score\": 1}'::jsonb)"
    ).bind(uid).run()
    CacheService(stack.env.KV).set_analysis(uid, "NVDA", {"score": 1})  # user:{id}:analysis:NVDA + its index entry
    stack.env.KV.put(f"user:{uid}:positions", "[]", expiration_ttl=600)
    r2 = stack.env.R2
    r2.put(f"users/{uid}/uploads/notes.txt", "v1")
    r2.put(f"users/{uid}/uploads/notes.txt", "v2")  # two versions
    r2.put(f"users/{uid}/uploads/gone.txt", "x")
    r2.delete(f"users/{uid}/uploads/gone.txt")  # a delete marker over a version
    r2.create_multipart_upload(f"users/{uid}/uploads/unfinished.bin").upload_part(1, b"x")
    return uid


def _sql_mentions(stack: LocalStack, uid: str) -> dict[str, int]:
    """Rows of every table whose JSON form mentions ``uid`` anywhere."""
    db = stack.env.DB
    found = {}
    for table in discover(db):
        count = (
            db.prepare(f"SELECT count(*) AS n FROM {table.name} AS t WHERE strpos(to_jsonb(t)::text, ?1) > 0")
            .bind(uid)
            .first("n")
        )
        if count:
            found[table.name] = count
    return found


def _kv_mentions(stack: LocalStack, uid: str) -> list[str]:
    """Every KV item (a full Scan, expired or not) whose key or value mentions ``uid``."""
    raw = stack.client("dynamodb")
    hits = []
    for page in raw.get_paginator("scan").paginate(TableName=stack.environ["TTAI_KV_TABLE"]):
        for item in page["Items"]:
            if uid in json.dumps(item, default=str):
                hits.append(item["k"]["S"])
    return hits


def _s3_mentions(stack: LocalStack, uid: str) -> list[str]:
    """Every version, delete marker and unfinished upload in the bucket whose key mentions ``uid``."""
    raw = stack.client("s3")
    bucket = stack.environ["TTAI_R2_BUCKET"]
    hits = []
    for page in raw.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in (*page.get("Versions", []), *page.get("DeleteMarkers", [])):
            if uid in entry["Key"]:
                hits.append(entry["Key"])
    uploads = raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return hits + [u["Key"] for u in uploads if uid in u["Key"]]


def _download(url: str) -> Any:
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a presigned URL to the local stack
        return json.loads(response.read())


def test_the_account_archive_holds_everything_of_the_user_and_nothing_else(
    stack: LocalStack, alice: str, bob: str
) -> None:
    uid = _seed(stack, alice)
    other = _seed(stack, bob)
    response = stack.http("GET", "/api/v1/me/export", token=alice)
    assert response.status == 200, response.body
    assert response.body["name"].startswith("account-")
    assert response.body["content_type"] == "application/json"
    archive = _download(response.body["url"])

    assert archive["user_id"] == uid
    tables = archive["tables"]
    assert tables["users"][0]["id"] == uid
    assert [w["name"] for w in tables["watchlists"]] == ["core"]
    assert [j["symbol"] for j in tables["trade_journal"]] == ["MSFT"]
    assert tables["user_preferences"][0]["default_strategy"] == "wheel"
    assert {s["id"] for s in tables["sessions"]}  # the session of the token
    assert {e["action"] for e in tables["audit_events"]} >= {"watchlist.put", "journal.create"}
    assert other not in json.dumps(archive)  # nothing of Bob's
    cache = {entry["key"]: entry["value"] for entry in archive["cache"]}
    assert cache[f"user:{uid}:analysis:NVDA"] == {"score": 1}
    assert cache[f"user:{uid}:positions"] == []
    assert any(key.startswith(f"user:{uid}:session:") for key in cache)
    objects = {o["key"] for o in archive["objects"]}
    assert f"users/{uid}/uploads/notes.txt" in objects
    assert any(key.startswith(f"users/{uid}/exports/journal-") for key in objects)

    listed = stack.http("GET", "/api/v1/exports", token=alice).body["items"]
    assert response.body["name"] in {item["name"] for item in listed}


def test_erasure_leaves_nothing_of_the_user_in_sql_kv_or_s3(
    stack: LocalStack, alice: str, bob: str, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    assert stack.gateway is not None
    monkeypatch.setattr(stack.gateway, "authorizer_cache_ttl", 0)  # a revoked token is refused at once
    uid = _seed(stack, alice)
    other = _seed(stack, bob)
    # A short session whose KV entry expires: listing no longer shows it, but DynamoDB still holds it.
    stack.token_for(uid, ttl_seconds=60)
    clock.travel(120)
    assert _sql_mentions(stack, uid)
    assert _kv_mentions(stack, uid)
    assert _s3_mentions(stack, uid)
    bob_before = (_sql_mentions(stack, other), sorted(_kv_mentions(stack, other)), sorted(_s3_mentions(stack, other)))
    audited = stack.env.DB.prepare("SELECT count(*) AS n FROM audit_events WHERE user_id = ?1").bind(uid).first("n")
    assert audited > 0

    response = stack.http("DELETE", "/api/v1/me", token=alice)
    assert response.status == 204, response.body

    assert _sql_mentions(stack, uid) == {}
    assert _kv_mentions(stack, uid) == []
    assert _s3_mentions(stack, uid) == []
    # The trail is kept, without the user in it.
    redacted = stack.env.DB.prepare(
        "SELECT count(*) AS n FROM audit_events WHERE redacted_at IS NOT NULL AND user_id IS NULL AND actor IS NULL"
    ).first("n")
    assert redacted >= audited
    # Bob is untouched: the same rows, cache entries and objects as before.
    assert (_sql_mentions(stack, other), sorted(_kv_mentions(stack, other)), sorted(_s3_mentions(stack, other))) == (
        bob_before
    )
    assert stack.http("GET", "/api/v1/me", token=bob).status == 200
    # Alice's token no longer opens anything.
    assert stack.http("GET", "/api/v1/me", token=alice).status == 403
    assert stack.http("DELETE", "/api/v1/me", token=alice).status == 403
