"""How database trouble reaches a caller: a 503 to retry while Aurora resumes, a 409 for a conflicting write,
and a 500 that says nothing about the SQL behind it."""

from __future__ import annotations

import pytest

from local.stack import LocalStack
from ttai.bindings.d1 import D1ConstraintError, D1QueryError
from ttai.services.account import AccountService


@pytest.fixture
def token(stack: LocalStack) -> str:
    return stack.token_for("errors-user")


def test_a_database_still_resuming_is_a_503_with_retry_after(
    stack: LocalStack, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.data_api is not None
    monkeypatch.setattr(stack.env.DB, "_resume_delays", (0.01, 0.01))
    stack.data_api.pause(5)
    try:
        status, headers, body = stack.http("GET", "/api/v1/me", token=token)
    finally:
        stack.data_api.pause(0)
    assert status == 503
    assert headers["retry-after"] == "5"
    assert body["error"]["code"] == "unavailable"


def test_a_constraint_violation_is_a_409_without_the_database_text(
    stack: LocalStack, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: AccountService) -> None:
        raise D1ConstraintError('ERROR: duplicate key value violates unique constraint "x"', sqlstate="23505")

    monkeypatch.setattr(AccountService, "profile", refuse)
    status, _, body = stack.http("GET", "/api/v1/me", token=token)
    assert status == 409
    assert body["error"] == {"code": "conflict", "message": "the change conflicts with existing data"}


def test_any_other_database_error_is_a_500_that_names_no_sql(
    stack: LocalStack, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: AccountService) -> None:
        raise D1QueryError('ERROR: relation "secret_table" does not exist', sqlstate="42P01")

    monkeypatch.setattr(AccountService, "profile", fail)
    status, _, body = stack.http("GET", "/api/v1/me", token=token)
    assert status == 500
    assert "secret_table" not in str(body)
    assert body["error"]["code"] == "internal_error"


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"symbols": [' + "9" * 5000 + "]}", "{not json"],
    ids=["deeply-nested", "huge-integer", "malformed"],
)
def test_json_the_parser_cannot_represent_is_a_422_not_a_500(stack: LocalStack, token: str, body: str) -> None:
    status, _, response = stack.http(
        "PUT", "/api/v1/watchlists/parser", token=token, body=body, headers={"content-type": "application/json"}
    )
    assert status == 422
    assert response["error"]["code"] == "validation_error"
    assert stack.http("GET", "/api/v1/watchlists/parser", token=token).status == 404


def test_a_body_that_is_not_utf8_is_a_422_not_a_500(stack: LocalStack, token: str) -> None:
    # API Gateway hands such bytes over base64-encoded; Powertools decoded them as strict UTF-8 and failed.
    status, _, response = stack.http(
        "PUT",
        "/api/v1/watchlists/bytes",
        token=token,
        body=b'{"symbols": ["\xa5"]}',
        headers={"content-type": "application/json"},
    )
    assert status == 422
    assert response["error"]["code"] == "validation_error"
    assert response["error"]["fields"][0]["field"] == "body"
    assert stack.http("GET", "/api/v1/watchlists/bytes", token=token).status == 404


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=x", "text/plain"])
def test_a_body_that_is_not_json_by_its_content_type_is_a_415(stack: LocalStack, token: str, content_type: str) -> None:
    # Powertools raised ValueError (a 500) for a multipart type without a boundary, and answered the others in
    # its own body shape rather than the error mapping's.
    status, _, response = stack.http(
        "PUT",
        "/api/v1/watchlists/typed",
        token=token,
        body='{"symbols": ["AAPL"]}',
        headers={"content-type": content_type},
    )
    assert status == 415
    assert response["error"]["code"] == "unsupported_media_type"
    assert stack.http("GET", "/api/v1/watchlists/typed", token=token).status == 404
