"""Seed 004's data rights through the API: a user's whole archive, and an erasure that leaves nothing of them."""

from __future__ import annotations

import json
import string
import urllib.request
import uuid
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from local.stack import LocalStack
from tests.conftest import Clock
from tests.integration.conftest import finished_run, user_id
from ttai.auth.sessions import SessionStore
from ttai.services.cache import CacheKeys, CacheService
from ttai.services.tables import discover
from ttai.tenant_keys import KV_SEPARATOR, OBJECT_SEPARATOR, user_object_prefix, user_segment


def _seed(stack: LocalStack, token: str) -> str:
    """Rows through the API (audited), cache entries, and objects with history under users/{id}/uploads/."""
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
    stack.env.KV.put(CacheKeys.positions(uid), "[]", expiration_ttl=600)
    r2, uploads = stack.env.R2, user_object_prefix("uploads", uid)
    r2.put(f"{uploads}notes.txt", "v1")
    r2.put(f"{uploads}notes.txt", "v2")  # two versions
    r2.put(f"{uploads}gone.txt", "x")
    r2.delete(f"{uploads}gone.txt")  # a delete marker over a version
    r2.create_multipart_upload(f"{uploads}unfinished.bin").upload_part(1, b"x")
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
    """Every KV item (a full Scan, expired or not) whose key or value mentions ``uid``, as is or as keys hold it."""
    raw = stack.client("dynamodb")
    needles = {uid, user_segment(uid, KV_SEPARATOR)}
    hits = []
    for page in raw.get_paginator("scan").paginate(TableName=stack.environ["TTAI_KV_TABLE"]):
        for item in page["Items"]:
            text = json.dumps(item, default=str)
            if any(needle in text for needle in needles):
                hits.append(item["k"]["S"])
    return hits


def _s3_mentions(stack: LocalStack, uid: str) -> list[str]:
    """Every version, delete marker and unfinished upload in the bucket whose key mentions ``uid``."""
    uid = user_segment(uid, OBJECT_SEPARATOR)
    raw = stack.client("s3")
    bucket = stack.environ["TTAI_R2_BUCKET"]
    hits = []
    for page in raw.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in (*page.get("Versions", []), *page.get("DeleteMarkers", [])):
            if uid in entry["Key"]:
                hits.append(entry["Key"])
    uploads = raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return hits + [u["Key"] for u in uploads if uid in u["Key"]]


def _exported(stack: LocalStack, token: str) -> dict[str, Any]:
    """GET /api/v1/me/export starts the archive's run (202); its output once complete."""
    response = stack.http("GET", "/api/v1/me/export", token=token)
    assert response.status == 202, response.body
    run = finished_run(stack, token, response.body["id"])
    assert run["status"] == "complete", run
    output: dict[str, Any] = run["output"]
    return output


def _download(url: str) -> Any:
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a presigned URL to the local stack
        return json.loads(response.read())


def test_the_account_archive_holds_everything_of_the_user_and_nothing_else(
    stack: LocalStack, alice: str, bob: str
) -> None:
    uid = _seed(stack, alice)
    other = _seed(stack, bob)
    output = _exported(stack, alice)
    assert output["name"].startswith("account-")
    assert output["content_type"] == "application/json"
    archive = _download(output["url"])

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
    assert cache[CacheKeys.user_analysis(uid, "NVDA")] == {"score": 1}
    assert cache[CacheKeys.positions(uid)] == []
    assert any(key.startswith(CacheKeys.session(uid, "")) for key in cache)
    objects = {o["key"] for o in archive["objects"]}
    assert f"users/{uid}/uploads/notes.txt" in objects
    assert any(key.startswith(f"users/{uid}/exports/journal-") for key in objects)

    listed = stack.http("GET", "/api/v1/exports", token=alice).body["items"]
    assert output["name"] in {item["name"] for item in listed}


def test_erasure_leaves_nothing_of_the_user_in_sql_kv_or_s3(
    stack: LocalStack, alice: str, bob: str, clock: Clock
) -> None:
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


# ------------------------------------------------- ids that extend each other

_ID_REST = string.ascii_letters + string.digits + "._@:-"  # what tokens accept after an id's first character


def _footprint(stack: LocalStack, uid: str) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """Exactly what is ``uid``'s, expired or not, read behind the bindings: rows holding the id as a JSON string;
    KV items under ``user:{segment}:``, indexed under ``:{segment}`` or whose value holds the id; object versions,
    delete markers and unfinished uploads under ``users/{segment}/``. Whole items, so a change shows too."""
    db, quoted = stack.env.DB, json.dumps(uid)
    rows = {}
    for table in discover(db):
        texts = (
            db.prepare(
                f"SELECT to_jsonb(t)::text AS row FROM {table.name} AS t WHERE strpos(to_jsonb(t)::text, ?1) > 0"
            )
            .bind(quoted)
            .all()
            .results
        )
        if texts:
            rows[table.name] = sorted(str(r["row"]) for r in texts)
    segment = user_segment(uid, KV_SEPARATOR)
    items = []
    for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.environ["TTAI_KV_TABLE"]):
        for item in page["Items"]:
            key = item["k"]["S"]
            strings = [value["S"] for value in item.values() if "S" in value]
            if (
                key.startswith(f"user:{segment}:")
                or (key.startswith("index:") and key.endswith(f":{segment}"))
                or any(quoted in text for text in strings)
            ):
                items.append(json.dumps(item, sort_keys=True, default=str))
    s3, bucket = stack.client("s3"), stack.environ["TTAI_R2_BUCKET"]
    prefix = f"users/{user_segment(uid, OBJECT_SEPARATOR)}/"
    objects = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        objects += [f"{e['Key']}@{e['VersionId']}" for e in (*page.get("Versions", []), *page.get("DeleteMarkers", []))]
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
    objects += [f"{u['Key']}#{u['UploadId']}" for u in uploads]
    return rows, sorted(items), sorted(objects)


def test_a_user_whose_id_extends_anothers_is_out_of_reach_of_their_export_and_erasure(stack: LocalStack) -> None:
    """Issue 11, defect 3: ``user:alice:`` once listed ``user:alice:bob:...``, so Alice's archive held their
    cached analysis and erasing Alice ended their session."""
    alice_id = f"alice-{uuid.uuid4().hex[:8]}"
    neighbour_id = f"{alice_id}:bob"
    alice, neighbour = stack.token_for(alice_id), stack.token_for(neighbour_id)
    _seed(stack, alice)
    _seed(stack, neighbour)
    theirs = _footprint(stack, neighbour_id)
    rows, items, objects = theirs
    assert {"users", "sessions", "analyses", "watchlists"} <= set(rows)
    assert any(":session:" in item for item in items)
    assert any(":analysis:NVDA" in item for item in items)
    assert any("/uploads/notes.txt@" in key for key in objects)

    archive = _download(_exported(stack, alice)["url"])
    assert CacheKeys.user_analysis(alice_id, "NVDA") in {entry["key"] for entry in archive["cache"]}
    assert neighbour_id not in json.dumps(archive)
    assert user_segment(neighbour_id, KV_SEPARATOR) not in json.dumps(archive)

    response = stack.http("DELETE", "/api/v1/me", token=alice)
    assert response.status == 204, response.body
    assert _footprint(stack, alice_id) == ({}, [], [])
    assert _footprint(stack, neighbour_id) == theirs
    me = stack.http("GET", "/api/v1/me", token=neighbour)
    assert (me.status, me.body["id"]) == (200, neighbour_id)
    assert stack.http("GET", "/api/v1/me", token=alice).status == 403


@st.composite
def _id_tails(draw: st.DrawFn) -> tuple[str, str]:
    """Two distinct endings for one fresh id head; half the time one extends the other, most often after a
    punctuation mark (``x`` and ``x:bob``)."""
    first = draw(st.text(_ID_REST, max_size=12))
    if draw(st.booleans()):
        second = first + draw(st.sampled_from("._@:-")) + draw(st.text(_ID_REST, max_size=12))
    else:
        second = draw(st.text(_ID_REST, max_size=12).filter(lambda other: other != first))
    return (first, second) if draw(st.booleans()) else (second, first)


@pytest.mark.slow
@settings(max_examples=4, deadline=None, database=None)
@given(tails=_id_tails())
@example(tails=("", ":bob"))  # the alice and alice:bob
@example(tails=(":", ""))
def test_exporting_or_erasing_one_user_never_touches_another(stack: LocalStack, tails: tuple[str, str]) -> None:
    head = f"u{uuid.uuid4().hex[:8]}"  # ids new to the session's stack, whatever the tails
    mine, theirs = head + tails[0], head + tails[1]
    tokens = {uid: stack.token_for(uid) for uid in (mine, theirs)}
    for uid, token in tokens.items():
        body = {"symbol": "NVDA", "type": "chart", "result": {"score": 1}}
        assert stack.http("POST", "/api/v1/analyses", token=token, json=body).status == 201
        assert stack.http("PUT", "/api/v1/watchlists/core", token=token, json={"symbols": ["AAPL"]}).status < 300
        stack.env.R2.put(f"{user_object_prefix('uploads', uid)}notes.txt", uid)
    before = _footprint(stack, theirs)
    assert all(before)

    archive = json.dumps(_download(_exported(stack, tokens[mine])["url"]))
    assert json.dumps(theirs) not in archive
    assert f":{user_segment(theirs, KV_SEPARATOR)}:" not in archive
    assert f"/{user_segment(theirs, OBJECT_SEPARATOR)}/" not in archive
    assert stack.http("DELETE", "/api/v1/me", token=tokens[mine]).status == 204

    assert _footprint(stack, mine) == ({}, [], [])
    assert _footprint(stack, theirs) == before
    assert SessionStore(stack.env).verify(tokens[theirs]).user_id == theirs
