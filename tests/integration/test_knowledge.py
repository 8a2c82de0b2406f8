"""The knowledge base end to end on the local stack: documents added through the API (202, indexed by the queue
consumer), then found by a phrase they contain by their owner only; bad input refused with nothing stored.

Embeddings come from the stack's stand-in Bedrock endpoint (lexical vectors, not Titan's): these tests rely on
shared words only, never on meaning."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.cli import main
from local.knowledge_samples import SAMPLES_DIR, load_samples
from local.stack import LocalStack
from ttai.models.knowledge import DOCUMENT_MAX_BYTES, QUERY_MAX_CHARS

WHEEL = (
    "The wheel strategy.\n\nSell a cash-secured put on a stock you would own. If assigned, sell covered calls "
    "against the shares until they are called away, then start again with a put.\n\n"
    "Rule of the turquoise ledger: never sell a call below the cost basis of the shares."
)
SIZING = (
    "Position sizing.\n\nRisk at most two percent of the account on one trade; size the position from the "
    "distance to the stop, not from conviction."
)


def _user() -> str:
    return f"kb-{uuid.uuid4().hex[:10]}"


def _search(stack: LocalStack, token: str, q: str, **query: str) -> dict[str, Any]:
    status, _, body = stack.http("GET", "/api/v1/knowledge/search", token=token, query={"q": q, **query})
    assert status == 200, body
    result: dict[str, Any] = body
    return result


def test_a_document_is_found_by_a_phrase_it_contains_by_its_owner_and_by_no_one_else(stack: LocalStack) -> None:
    alice_id = _user()
    alice, bob = stack.token_for(alice_id), stack.token_for(_user())
    # Given two of alice's documents, added through the API: stored and queued, not yet searchable.
    status, _, wheel = stack.http(
        "POST", "/api/v1/knowledge", token=alice, json={"title": "The wheel", "text": WHEEL, "tags": ["options"]}
    )
    assert status == 202, wheel
    assert wheel["status"] == "queued"
    status, _, sizing = stack.http("POST", "/api/v1/knowledge", token=alice, json={"title": "Sizing", "text": SIZING})
    assert status == 202, sizing
    assert _search(stack, alice, "turquoise ledger")["matches"] == []  # indexing is off the request path
    # When the consumer has run, a phrase of the first finds it first, with its chunk, title and tags.
    stack.poller.drain()
    found = _search(stack, alice, "turquoise ledger cost basis")
    best = found["matches"][0]
    assert (best["document_id"], best["title"], best["tags"]) == (wheel["document_id"], "The wheel", ["options"])
    assert "turquoise ledger" in best["text"]
    assert {match["document_id"] for match in found["matches"]} <= {wheel["document_id"], sizing["document_id"]}
    assert [m["score"] for m in found["matches"]] == sorted((m["score"] for m in found["matches"]), reverse=True)
    assert found["note"] is not None
    assert "STAND-IN" in found["note"]
    # Another user finds nothing of alice's, whatever they ask.
    assert _search(stack, bob, "turquoise ledger cost basis")["matches"] == []
    assert _search(stack, bob, "position sizing stop", top_k="20")["matches"] == []
    # Erasing her account takes her chunks (their text is hers) with her documents.
    assert stack.http("DELETE", "/api/v1/me", token=alice)[0] in {200, 204}
    assert _search(stack, stack.token_for(alice_id), "turquoise ledger cost basis")["matches"] == []


def test_a_search_is_one_embedding_call_and_one_data_api_call(stack: LocalStack) -> None:
    token = stack.token_for(_user())
    assert stack.bedrock is not None
    _search(stack, token, "warm up: the index exists")
    with CallCounter(stack.env.client("rds-data")) as rds:
        before = stack.bedrock.invocations
        _search(stack, token, "covered calls")
        assert stack.bedrock.invocations - before == 1
    assert rds.calls == {"ExecuteStatement": 1}


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("POST", "/api/v1/knowledge", {"title": "big", "text": "x" * (DOCUMENT_MAX_BYTES + 1)}, "text"),
        ("POST", "/api/v1/knowledge", {"title": "blank", "text": " \n\t "}, "text"),
        ("POST", "/api/v1/knowledge", {"title": "two\nlines", "text": "fine"}, "title"),
        ("POST", "/api/v1/knowledge", {"title": "tagged", "text": "fine", "tags": ["Not A Tag"]}, "tags.0"),
        ("POST", "/api/v1/knowledge", {"title": "extra", "text": "fine", "user_id": "someone"}, "user_id"),
        ("GET", "/api/v1/knowledge/search", {"q": "x" * (QUERY_MAX_CHARS + 1)}, "q"),
        ("GET", "/api/v1/knowledge/search", {"q": "   "}, "q"),
        ("GET", "/api/v1/knowledge/search", {"q": "calls", "top_k": "21"}, "top_k"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_stored_or_queued(
    stack: LocalStack, method: str, path: str, payload: dict[str, Any], field: str
) -> None:
    token = stack.token_for(_user())
    assert stack.bedrock is not None
    before = stack.bedrock.invocations
    # The api's clients are the stack's (one per service and endpoint per process): every call it makes is counted.
    with CallCounter(stack.env.client("s3"), stack.env.client("sqs"), stack.env.client("rds-data")) as calls:
        if method == "POST":
            status, _, body = stack.http(method, path, token=token, json=payload)
        else:
            status, _, body = stack.http(method, path, token=token, query=payload)
    assert status == 422, body
    assert any(error["field"].endswith(field) for error in body["error"]["fields"]), body
    assert calls.total == 0  # nothing stored, queued or searched
    assert stack.bedrock.invocations == before  # nothing embedded


def test_ttai_knowledge_add_and_make_devs_samples_are_indexed_and_searchable(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = _user()
    note = tmp_path / "journal-rules.md"
    note.write_text("# Journal rules\n\nWrite down the vermilion checklist before every entry.\n", encoding="utf-8")
    state_file = tmp_path / "dev.json"
    state_file.write_text(json.dumps({"environ": stack.environ}))
    # Given a file added with the CLI and the samples make dev loads, for one user.
    assert main(["--state-file", str(state_file), "knowledge", "add", str(note), "--user", user, "--tag", "rules"]) == 0
    assert "('Journal rules') of" in capsys.readouterr().out
    samples = load_samples(stack.function_env("api"), user)
    assert len(samples) == len(list(SAMPLES_DIR.glob("*.md"))) >= 3
    stack.poller.drain()
    token = stack.token_for(user)
    # Then each is found by a phrase it contains, the samples labelled as such.
    [best, *_] = _search(stack, token, "vermilion checklist")["matches"]
    assert (best["title"], best["tags"]) == ("Journal rules", ["rules"])
    [best, *_] = _search(stack, token, "rolling up and out")["matches"]
    assert (best["document_id"], best["title"], best["tags"]) == (
        "sample-covered-calls",
        "Sample: Covered calls",
        ["sample"],
    )
    # Loading the samples again replaces them: still one document each.
    load_samples(stack.function_env("api"), user)
    stack.poller.drain()
    found = _search(stack, token, "covered call strike premium", top_k="20")["matches"]
    assert len({(m["document_id"], m["chunk"]) for m in found}) == len(found)


def test_ttai_knowledge_add_refuses_a_bad_file_before_adding_any(stack: LocalStack, tmp_path: Path) -> None:
    good, empty = tmp_path / "good.md", tmp_path / "empty.md"
    good.write_text("# Good\n\nfine\n", encoding="utf-8")
    empty.write_text("   \n", encoding="utf-8")
    state_file = tmp_path / "dev.json"
    state_file.write_text(json.dumps({"environ": stack.environ}))
    user = _user()
    with CallCounter(stack.env.client("s3"), stack.env.client("sqs")) as calls:
        assert main(["--state-file", str(state_file), "knowledge", "add", str(good), str(empty), "--user", user]) == 2
    assert calls.total == 0
