"""The market-data routes end to end: API Gateway v2 events, authorizer, resolver, KV on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.conftest import Clock
from ttai.http.openapi import LINKS


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


@pytest.fixture(scope="module")
def user(stack: LocalStack) -> str:
    return stack.token_for("user-1")


@pytest.fixture(scope="module")
def service(stack: LocalStack) -> str:
    return stack.token_for("quote-streamer", scopes=("service",))


def quote(symbol: str, last: float = 100.0, at: str = "2026-11-20T15:00:00Z", **extra: Any) -> dict[str, Any]:
    return {"symbol": symbol, "last": last, "updated_at": at, **extra}


def test_a_quote_ingested_by_a_service_is_readable_by_a_user(stack: LocalStack, user: str, service: str) -> None:
    status, _, body = stack.http(
        "PUT", "/api/v1/quotes", token=service, json={"quotes": [quote("msft", 410.25, bid=410.2, ask=410.3)]}
    )
    assert (status, body) == (200, {"stored": 1})
    status, _, body = stack.http("GET", "/api/v1/quotes/MSFT", token=user)
    assert status == 200
    assert body["symbol"] == "MSFT"
    assert body["last"] == 410.25
    assert (body["bid"], body["ask"]) == (410.2, 410.3)


def test_the_newest_quote_of_a_symbol_wins_within_a_batch(stack: LocalStack, user: str, service: str) -> None:
    batch = [quote("NVDA", 2.0, "2026-11-20T15:00:02Z"), quote("NVDA", 1.0, "2026-11-20T15:00:01Z")]
    assert stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": batch}).body == {"stored": 1}
    assert stack.http("GET", "/api/v1/quotes/NVDA", token=user).body["last"] == 2.0


def test_an_ingested_quote_lives_in_the_hot_tier_and_is_gone_once_expired(
    stack: LocalStack, user: str, service: str, clock: Clock
) -> None:
    stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": [quote("AMD", 150.0)]})
    item = stack.client("dynamodb").get_item(TableName=stack.environ["TTAI_KV_TABLE"], Key={"k": {"S": "quote:AMD"}})
    expires = int(item["Item"]["exp"]["N"])
    assert expires == clock.now + 60
    clock.travel(60)
    status, _, body = stack.http("GET", "/api/v1/quotes/AMD", token=user)
    assert status == 404
    assert "AMD" in body["error"]["message"]
    # DynamoDB has not swept it: the item is still stored, yet invisible.
    assert "Item" in stack.client("dynamodb").get_item(
        TableName=stack.environ["TTAI_KV_TABLE"], Key={"k": {"S": "quote:AMD"}}
    )


def test_bulk_quotes_report_hits_and_misses_in_one_round_trip_per_hundred(
    stack: LocalStack, user: str, service: str
) -> None:
    symbols = [f"B{i:03d}" for i in range(150)]
    cached = symbols[::2]
    stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": [quote(s) for s in cached]})
    stack.settle()  # the PUT's hand-off to the realtime function reads the connections table: not ours to count
    assert stack.oauth is not None
    upstream = stack.oauth.requests["/market-data/by-type"]
    with CallCounter(stack.env.client("dynamodb")) as calls:
        status, _, body = stack.http("GET", "/api/v1/quotes", token=user, query={"symbols": ",".join(symbols)})
    assert status == 200
    assert sorted(body["quotes"]) == sorted(cached)
    assert sorted(body["missing"]) == sorted(set(symbols) - set(cached))
    # The authorizer reads the session (one GetItem). The hits cost one BatchGetItem per 100 symbols; the 75 misses are
    # read through TastyTrade (which lists none of them): a claim each (conditional PutItem), the breaker's item,
    # one upstream request, and the claims marked absent (25 per BatchWriteItem) so nobody waits for them. The
    # authorizer reads the session (GetItem); the request's admission is one UpdateItem (ttai.auth.admission).
    assert calls.by_operation() == {
        "BatchGetItem": 2,
        "PutItem": 75,
        "GetItem": 2,
        "BatchWriteItem": 3,
        "UpdateItem": 1,
    }
    assert stack.oauth.requests["/market-data/by-type"] == upstream + 1


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/quotes/A$$L", None, "path.symbol"),
        ("/api/v1/quotes/TOOLONGSYMBOL", None, "path.symbol"),
        ("/api/v1/quotes/AAPL%20%20241399C00190000", None, "path.symbol"),
        ("/api/v1/quotes", {"symbols": ""}, "query.symbols"),
        ("/api/v1/quotes", {"symbols": ",".join(f"S{i}" for i in range(501))}, "query.symbols"),
        ("/api/v1/quotes", {"symbols": "AAPL,bad symbol"}, "query.symbols"),
        ("/api/v1/chains/AAPL", {"expiration": "next friday"}, "query.expiration"),
    ],
)
def test_bad_symbols_and_filters_get_a_422_naming_the_field(
    stack: LocalStack, user: str, path: str, query: dict[str, str] | None, field: str
) -> None:
    status, _, body = stack.http("GET", path, token=user, query=query)
    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert any(f["field"].startswith(field) for f in body["error"]["fields"]), body


def test_a_missing_symbols_parameter_is_a_422(stack: LocalStack, user: str) -> None:
    status, _, body = stack.http("GET", "/api/v1/quotes", token=user)
    assert status == 422
    assert any("symbols" in f["field"] for f in body["error"]["fields"])


@pytest.mark.parametrize(
    ("description", "payload"),
    [
        ("no quotes", {"quotes": []}),
        ("extra field", {"quotes": [quote("ZZA", extra_field=1)]}),
        ("negative price", {"quotes": [quote("ZZB", -1.0)]}),
        ("naive timestamp", {"quotes": [quote("ZZC", at="2026-11-20T15:00:00")]}),
        ("price as text", {"quotes": [quote("ZZD", "cheap")]}),  # type: ignore[arg-type]
        ("bad symbol", {"quotes": [quote("ZZ E")]}),
        ("huge symbol", {"quotes": [quote("Z" * 10_000)]}),
        ("too many", {"quotes": [quote(f"Q{i}") for i in range(501)]}),
        ("not a list", {"quotes": quote("ZZF")}),
    ],
)
def test_bad_quote_batches_get_a_422_and_write_nothing(
    stack: LocalStack, service: str, description: str, payload: dict[str, Any]
) -> None:
    with CallCounter(stack.env.client("dynamodb")) as calls:
        status, _, body = stack.http("PUT", "/api/v1/quotes", token=service, json=payload)
    assert status == 422, description
    assert body["error"]["fields"], description
    assert not {"PutItem", "BatchWriteItem"} & set(calls.by_operation()), description


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_prices_are_refused(stack: LocalStack, service: str, literal: str) -> None:
    body = '{"quotes": [{"symbol": "ZZN", "last": %s, "updated_at": "2026-11-20T15:00:00Z"}]}' % literal  # noqa: UP031
    status, _, _ = stack.http(
        "PUT", "/api/v1/quotes", token=service, body=body, headers={"content-type": "application/json"}
    )
    assert status == 422
    assert stack.env.KV.get("quote:ZZN") is None


def test_a_body_that_is_not_json_is_a_4xx(stack: LocalStack, service: str) -> None:
    status, _, _ = stack.http(
        "PUT", "/api/v1/quotes", token=service, body="{not json", headers={"content-type": "application/json"}
    )
    assert 400 <= status < 500


def test_option_symbols_round_trip_in_canonical_form(stack: LocalStack, user: str, service: str) -> None:
    compact = "SPY250117P00500000"
    stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": [quote(compact, 3.5)]})
    status, _, body = stack.http("GET", "/api/v1/quotes/SPY   250117P00500000", token=user)
    assert status == 200
    assert body["symbol"] == "SPY   250117P00500000"


def test_chains_per_expiration_and_for_all(stack: LocalStack, user: str, service: str, clock: Clock) -> None:
    contract = {
        "symbol": "IBM   261218C00200000",
        "option_type": "call",
        "strike": 200.0,
        "expiration": "2026-12-18",
        "bid": 5.1,
        "ask": 5.3,
        "delta": 0.45,
    }
    chain = {
        "symbol": "IBM",
        "expiration": "2026-12-18",
        "contracts": [contract],
        "updated_at": "2026-11-20T15:00:00Z",
    }
    assert stack.http("PUT", "/api/v1/chains", token=service, json=chain).status == 200
    status, _, body = stack.http("GET", "/api/v1/chains/IBM", token=user, query={"expiration": "2026-12-18"})
    assert status == 200
    assert body["contracts"][0]["delta"] == 0.45
    assert (
        stack.http("GET", "/api/v1/chains/IBM", token=user).status == 404
    )  # no all-expirations chain yet, and TastyTrade lists no IBM options
    stored = stack.client("dynamodb").get_item(
        TableName=stack.environ["TTAI_KV_TABLE"], Key={"k": {"S": "chain:IBM:2026-12-18"}}
    )["Item"]
    assert int(stored["exp"]["N"]) == clock.now + 300  # warm tier: 5 minutes


def test_company_info_lives_in_the_cold_tier(stack: LocalStack, user: str, service: str, clock: Clock) -> None:
    info = {"symbol": "IBM", "name": "International Business Machines", "updated_at": "2026-11-20T15:00:00Z"}
    assert stack.http("PUT", "/api/v1/company", token=service, json=info).status == 200
    assert stack.http("GET", "/api/v1/company/ibm", token=user).body["name"] == info["name"]
    stored = stack.client("dynamodb").get_item(
        TableName=stack.environ["TTAI_KV_TABLE"], Key={"k": {"S": "company:IBM"}}
    )["Item"]
    assert int(stored["exp"]["N"]) == clock.now + 86_400
    assert stack.http("GET", "/api/v1/company/ORCL", token=user).status == 404


def test_a_cache_hit_costs_one_get_item_beside_the_authorizers(stack: LocalStack, user: str, service: str) -> None:
    stack.http("PUT", "/api/v1/quotes", token=service, json={"quotes": [quote("KO", 60.0)]})
    stack.http("GET", "/api/v1/quotes/KO", token=user)  # the authorizer's first call reads its secret
    stack.settle()  # and let the PUT's realtime hand-off finish its own reads first
    with CallCounter(stack.env.client("dynamodb"), stack.env.client("s3")) as calls:
        assert stack.http("GET", "/api/v1/quotes/KO", token=user).status == 200
    # the authorizer's session read, the request's admission (UpdateItem), then the quote
    assert calls.by_operation() == {"GetItem": 2, "UpdateItem": 1}


def test_unknown_routes_are_404_after_authorization(stack: LocalStack, user: str) -> None:
    assert stack.http("GET", "/api/v1/nothing-here", token=user).status == 404
    assert stack.http("GET", "/api/v1/nothing-here").status == 403  # no credential: the authorizer denies


def test_openapi_document_describes_the_routes(stack: LocalStack, user: str) -> None:
    status, headers, body = stack.http("GET", "/openapi.json", token=user)
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    spec = body if isinstance(body, dict) else json.loads(body)
    assert spec["openapi"].startswith("3.")
    for path in ("/health", "/api/v1/quotes", "/api/v1/quotes/{symbol}", "/api/v1/chains/{symbol}"):
        assert path in spec["paths"], path
    assert "put" in spec["paths"]["/api/v1/quotes"]
    assert "Quote" in spec["components"]["schemas"]


def test_openapi_document_declares_the_statuses_and_error_bodies_the_api_returns(stack: LocalStack, user: str) -> None:
    spec = stack.http("GET", "/openapi.json", token=user).body
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    paths = spec["paths"]
    deleted = paths["/api/v1/watchlists/{name}"]["delete"]["responses"]
    assert deleted["204"] == {"description": "No Content", "content": {}}
    assert "200" not in deleted
    assert deleted["404"]["content"]["application/json"]["schema"] == error
    assert "201" in paths["/api/v1/alerts"]["post"]["responses"]
    assert "201" in paths["/api/v1/journal"]["post"]["responses"]
    quote_read = paths["/api/v1/quotes/{symbol}"]["get"]["responses"]
    assert quote_read["422"]["content"]["application/json"]["schema"] == error  # the mapping's, not Powertools'
    assert {"401", "403", "404", "429", "500"} <= quote_read.keys()
    assert quote_read["429"]["content"]["application/json"]["schema"]["anyOf"][0] == error  # the user's bucket
    assert "415" in paths["/api/v1/quotes"]["put"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["security"] == [{"bearerAuth": []}]
    assert paths["/health"]["get"]["security"] == []
    assert "401" not in paths["/health"]["get"]["responses"]


def test_openapi_document_links_each_create_to_what_reads_changes_or_deletes_it(stack: LocalStack, user: str) -> None:
    spec = stack.http("GET", "/openapi.json", token=user).body
    paths, schemas = spec["paths"], spec["components"]["schemas"]
    for (method, path), links in LINKS.items():
        responses = paths[path][method.lower()]["responses"]
        success = next(status for status in responses if status.startswith("2"))
        declared = responses[success]["links"]
        assert set(declared) == {link.name for link in links}, (method, path)
        answer = schemas[responses[success]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
        for link in links:
            pointer = declared[link.name]["operationRef"].removeprefix("#/paths/").replace("~1", "/").replace("~0", "~")
            target_path, target_method = pointer.rsplit("/", 1)
            target = paths[target_path][target_method]
            assert link.parameter in {p["name"] for p in target["parameters"] if p["in"] == "path"}, link
            assert declared[link.name]["parameters"] == {link.parameter: f"$response.body#/{link.field}"}
            assert link.field in answer["required"], link  # the answer always holds the value
    # A new create is linked too: every 201 whose answer has an id, beside an operation on /path/{id}.
    for path, operations in paths.items():
        for method, operation in operations.items():
            created = operation["responses"].get("201", {}).get("content", {}).get("application/json", {})
            answer = schemas.get(created.get("schema", {}).get("$ref", "/").rsplit("/", 1)[1], {})
            by_id = [other for other in paths if other.startswith(f"{path}/{{")]
            if "id" in answer.get("properties", {}) and by_id:
                assert (method.upper(), path) in LINKS, f"{method.upper()} {path} creates {by_id} but links none"


def test_a_cached_value_from_an_older_schema_is_a_miss_not_a_500(stack: LocalStack, user: str) -> None:
    stack.env.KV.put("quote:OLD", json.dumps({"price": 1.0}), expiration_ttl=60)
    status, _, body = stack.http("GET", "/api/v1/quotes/OLD", token=user)
    assert status == 404
    status, _, body = stack.http("GET", "/api/v1/quotes", token=user, query={"symbols": "OLD"})
    assert (status, body) == (200, {"quotes": {}, "missing": ["OLD"]})


def test_the_local_dynamodb_keeps_no_copy_of_an_item_per_write(stack: LocalStack, user: str) -> None:
    """moto tracks every model instance it ever made; every authorized request writes (its limits UpdateItem), so a
    dev server had kept about a kilobyte per request (make soak: 85.9 MB in 10 minutes). The local stack stops it."""
    from moto.dynamodb.models.dynamo_type import Item  # noqa: PLC0415 - moto's own model, looked at only here

    for _ in range(20):
        assert stack.http("GET", "/api/v1/quotes/MSFT", token=user).status in {200, 404}
    assert len(Item.instances_tracked) == 0  # type: ignore[attr-defined]
