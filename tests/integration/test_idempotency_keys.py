"""Idempotency-Key on the API's writes: a retried request gets its first answer and changes nothing twice; the
same key with another request is a 422; keys are each user's own; a 5xx is not kept; racing duplicates write once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from tests.integration.conftest import user_id
from ttai.services.journal import JournalRepository

ENTRY = {
    "symbol": "AAPL",
    "strategy": "long stock",
    "legs": [{"type": "stock", "side": "buy"}],
    "quantity": 10,
    "entry_date": "2025-03-03",
    "entry_price": 100,
}


def _post(stack: LocalStack, token: str, key: str | None, body: dict[str, Any] = ENTRY) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return stack.http("POST", "/api/v1/journal", token=token, json=body, headers=headers)


def _entries(stack: LocalStack, token: str) -> int:
    owner = user_id(stack, token)
    count: int = (
        stack.env.DB.prepare("SELECT count(*) AS n FROM trade_journal WHERE user_id = ?").bind(owner).first("n")
    )
    return count


@pytest.fixture
def key() -> str:
    return f"retry-{uuid.uuid4()}"


def test_a_retried_write_gets_its_first_answer_and_writes_once(stack: LocalStack, alice: str, key: str) -> None:
    first = _post(stack, alice, key)
    again = _post(stack, alice, key)
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _entries(stack, alice) == 1
    assert _post(stack, alice, None).status == 201  # without a key, every request is its own
    assert _entries(stack, alice) == 2


def test_the_same_key_with_another_request_is_a_422_and_writes_nothing(stack: LocalStack, alice: str, key: str) -> None:
    assert _post(stack, alice, key).status == 201
    status, _, body = _post(stack, alice, key, {**ENTRY, "quantity": 11})
    assert status == 422
    assert body["error"]["code"] == "idempotency_key_reused"
    assert _entries(stack, alice) == 1


def test_keys_are_each_users_own(stack: LocalStack, alice: str, bob: str, key: str) -> None:
    mine, theirs = _post(stack, alice, key), _post(stack, bob, key)
    assert (mine.status, theirs.status) == (201, 201)
    assert theirs.body["id"] != mine.body["id"]
    assert "idempotent-replayed" not in theirs.headers
    assert (_entries(stack, alice), _entries(stack, bob)) == (1, 1)


def test_a_5xx_is_not_kept_so_the_retry_runs_again(
    stack: LocalStack, alice: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: JournalRepository, body: Any) -> Any:
        raise RuntimeError("the write failed")

    with monkeypatch.context() as patched:
        patched.setattr(JournalRepository, "create", fail)
        assert _post(stack, alice, key).status == 500
    retried = _post(stack, alice, key)
    assert retried.status == 201
    assert "idempotent-replayed" not in retried.headers
    assert _entries(stack, alice) == 1


def test_racing_duplicates_write_once(stack: LocalStack, alice: str, key: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: _post(stack, alice, key), range(4)))
    statuses = sorted(answer.status for answer in answers)
    # One ran; each other either found it still running (409, retry) or got its kept answer (201, replayed).
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    assert all(a.headers.get("retry-after") == "1" for a in answers if a.status == 409)
    assert _entries(stack, alice) == 1


@pytest.mark.parametrize("bad", ["has space", "x" * 256, "tab\there", "é"])
def test_a_malformed_key_is_a_400_and_writes_nothing(stack: LocalStack, alice: str, bad: str) -> None:
    status, _, body = stack.http(
        "POST", "/api/v1/journal", token=alice, json=ENTRY, headers={"Idempotency-Key": bad.encode().decode("latin-1")}
    )
    assert status == 400
    assert "Idempotency-Key" in body["error"]["message"]
    assert _entries(stack, alice) == 0


def test_a_key_costs_two_dynamodb_calls_and_a_replay_one(stack: LocalStack, alice: str, key: str) -> None:
    dynamodb = stack.function_env("api").client("dynamodb")
    _entries(stack, alice)  # the user's first request (its /me) is made before counting
    with CallCounter(dynamodb) as without_key:
        _post(stack, alice, None)
    with CallCounter(dynamodb) as first:
        _post(stack, alice, key)
    with CallCounter(dynamodb) as replay:
        _post(stack, alice, key)
    assert first.total - without_key.total == 2
    assert replay.total - without_key.total == 1


def test_reads_ignore_the_header(stack: LocalStack, alice: str, key: str) -> None:
    dynamodb = stack.function_env("api").client("dynamodb")
    stack.http("GET", "/api/v1/journal", token=alice)
    with CallCounter(dynamodb) as plain:
        stack.http("GET", "/api/v1/journal", token=alice)
    with CallCounter(dynamodb) as keyed:
        stack.http("GET", "/api/v1/journal", token=alice, headers={"Idempotency-Key": key})
    assert keyed.total == plain.total
