"""Signing in with TastyTrade end to end: our API, the stand-in OAuth server on 127.0.0.1, KV and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from local.gateway import Response
from local.stack import LocalStack
from ttai.auth.crypto import Sealed, TokenCipher, TokenDecryptionError
from ttai.auth.oauth import OAuthClient
from ttai.env import Env, Settings
from ttai.services.signin import SignInService

ACCOUNT = "5WT00001"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def follow_provider(location: str) -> dict[str, str]:
    """What the browser does at TastyTrade: approve, and come back with the query of the redirect."""
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(location, timeout=5)
    assert redirect.value.code == 302
    back = urlsplit(redirect.value.headers["Location"])
    assert back.path == "/auth/callback"
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def sign_in(stack: LocalStack) -> Response:
    status, headers, _ = stack.http("GET", "/auth/login")
    assert status == 302
    return stack.http("GET", "/auth/callback", query=follow_provider(headers["location"]))


def signin_service(stack: LocalStack, env: Env | None = None) -> SignInService:
    env = env or stack.env
    oauth = OAuthClient(
        env.oauth_settings(), env.secret("TASTYTRADE_CLIENT_ID"), env.secret("TASTYTRADE_CLIENT_SECRET")
    )
    return SignInService(env, oauth, TokenCipher(env.secret_versions("TOKEN_ENCRYPTION_KEY")))


def stored_tokens(stack: LocalStack, user_id: str = ACCOUNT) -> dict[str, Any]:
    row: dict[str, Any] | None = (
        stack.env.DB.prepare("SELECT * FROM user_oauth_tokens WHERE user_id = ?").bind(user_id).first()
    )
    assert row is not None
    return row


def test_login_redirects_to_tastytrade_with_pkce_and_a_one_time_state(stack: LocalStack) -> None:
    status, headers, _ = stack.http("GET", "/auth/login")
    assert status == 302
    assert headers["cache-control"] == "no-store"
    url = urlsplit(headers["location"])
    assert stack.oauth is not None
    assert f"{url.scheme}://{url.netloc}{url.path}" == stack.oauth.authorize_url
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == stack.secret_value("TASTYTRADE_CLIENT_ID")
    assert query["redirect_uri"] == f"{stack.public_url}/auth/callback"
    assert query["code_challenge_method"] == "S256"
    pending = stack.env.KV.get(f"oauth:state:{query['state']}", "json")
    digest = hashlib.sha256(pending["verifier"].encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_a_completed_sign_in_returns_a_session_token_that_works(stack: LocalStack) -> None:
    status, _, body = sign_in(stack)
    assert status == 200, body
    assert body["token_type"] == "Bearer"
    assert body["user"] == {"id": ACCOUNT, "email": "trader@example.com", "name": "Demo Trader"}
    status, _, me = stack.http("GET", "/api/v1/me", token=body["token"])
    assert status == 200
    assert (me["id"], me["email"]) == (ACCOUNT, "trader@example.com")
    assert me["preferences"]["default_strategy"] == "csp"
    actions = stack.env.DB.prepare("SELECT action FROM audit_events WHERE user_id = ?").bind(ACCOUNT).raw()
    assert ["user.sign_in"] in actions


def test_stored_broker_tokens_are_sealed_for_their_owner_only(stack: LocalStack) -> None:
    assert sign_in(stack).status == 200
    service = signin_service(stack)
    access = service.access_token(ACCOUNT)
    row = stored_tokens(stack)
    assert access.encode() not in row["access_token"]
    dump = stack.env.DB.prepare("SELECT row_to_json(t)::text AS j FROM user_oauth_tokens t").raw()
    assert not any(access in line[0] for line in dump)
    cipher = TokenCipher(stack.env.secret_versions("TOKEN_ENCRYPTION_KEY"))
    sealed = Sealed(row["key_id"], row["access_token"])
    assert cipher.open(sealed, user_id=ACCOUNT) == access
    with pytest.raises(TokenDecryptionError):
        cipher.open(sealed, user_id="someone-else")


def test_a_callback_replayed_or_with_an_unknown_state_is_refused_and_opens_no_session(stack: LocalStack) -> None:
    _, headers, _ = stack.http("GET", "/auth/login")
    params = follow_provider(headers["location"])
    assert stack.http("GET", "/auth/callback", query=params).status == 200
    sessions_before = stack.env.DB.prepare("SELECT count(*) AS n FROM sessions").first("n")
    replay = stack.http("GET", "/auth/callback", query=params)
    assert replay.status == 401
    assert "state" in replay.body["error"]["message"]
    forged = stack.http("GET", "/auth/callback", query={"code": "x", "state": "A" * 43})
    assert forged.status == 401
    assert stack.env.DB.prepare("SELECT count(*) AS n FROM sessions").first("n") == sessions_before


def test_a_refused_authorization_is_a_401_and_a_malformed_state_a_422(stack: LocalStack) -> None:
    denied = stack.http("GET", "/auth/callback", query={"error": "access_denied", "state": "B" * 43})
    assert denied.status == 401
    assert "access_denied" in denied.body["error"]["message"]
    assert stack.http("GET", "/auth/callback", query={"code": "x", "state": "short"}).status == 422
    assert stack.http("GET", "/auth/callback", query={"code": "x", "state": "bad state!" * 5}).status == 422


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [({"status": 503}, "5"), ({"status": 429, "retry_after": 30}, "30")],
    ids=["failing", "throttling"],
)
def test_a_provider_that_is_down_is_a_503_naming_it(stack: LocalStack, fault: dict[str, int], retry_after: str) -> None:
    _, headers, _ = stack.http("GET", "/auth/login")
    params = follow_provider(headers["location"])
    assert stack.oauth is not None
    if fault["status"] == 429:
        stack.oauth.throttle_next(retry_after=fault["retry_after"], endpoint="/oauth/token")
    else:
        stack.oauth.fail_next(status=fault["status"], endpoint="/oauth/token")
    try:
        status, response_headers, body = stack.http("GET", "/auth/callback", query=params)
    finally:
        stack.oauth.recover()
    assert status == 503
    assert response_headers["retry-after"] == retry_after
    assert body["error"]["code"] == "unavailable"
    assert body["error"]["message"] == f"TastyTrade is unavailable; retry in {retry_after} seconds"


def test_a_code_the_provider_refuses_is_a_401_without_the_providers_words(stack: LocalStack) -> None:
    _, headers, _ = stack.http("GET", "/auth/login")
    params = follow_provider(headers["location"])
    status, _, body = stack.http("GET", "/auth/callback", query={**params, "code": "not-the-code-it-issued"})
    assert status == 401
    assert body["error"]["message"] == "sign-in failed: TastyTrade did not accept it; start again at /auth/login"
    assert "invalid_grant" not in str(body)


def test_an_expired_access_token_is_refreshed_and_resealed(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sign_in(stack).status == 200
    service = signin_service(stack)
    first = service.access_token(ACCOUNT)
    assert stack.oauth is not None
    refreshes = stack.oauth.requests["/oauth/token"]
    assert service.access_token(ACCOUNT) == first  # still fresh: no provider call
    assert stack.oauth.requests["/oauth/token"] == refreshes
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    # the fake provider lives in real time, so its tokens are still valid after our jump; ours look expired
    refreshed = service.access_token(ACCOUNT)
    assert refreshed != first
    assert stack.oauth.requests["/oauth/token"] == refreshes + 1
    assert stored_tokens(stack)["expires_at"].timestamp() > later


def test_after_a_key_rotation_tokens_open_with_the_previous_key_and_are_resealed(stack: LocalStack) -> None:
    assert sign_in(stack).status == 200
    before = stored_tokens(stack)
    access = signin_service(stack).access_token(ACCOUNT)
    secret_arn = stack.environ["TTAI_SECRET_TOKEN_ENCRYPTION_KEY"]
    stack.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="n" * 64)
    # A new container: its Env reads the secret afresh, current first and the previous version after it.
    rotated = Env(Settings.from_environ(stack.environ))
    assert rotated.secret_versions("TOKEN_ENCRYPTION_KEY")[1] == stack.secret_value("TOKEN_ENCRYPTION_KEY")
    assert signin_service(stack, rotated).access_token(ACCOUNT) == access
    after = stored_tokens(stack)
    assert after["key_id"] != before["key_id"]
    assert TokenCipher(["n" * 64]).open(Sealed(after["key_id"], after["access_token"]), user_id=ACCOUNT) == access


def test_logout_revokes_the_session(stack: LocalStack) -> None:
    token = sign_in(stack).body["token"]
    assert stack.http("GET", "/api/v1/me", token=token).status == 200
    assert stack.http("POST", "/auth/logout", token=token).status == 204
    assert stack.http("GET", "/api/v1/me", token=token).status == 403
    revoked = stack.env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NOT NULL").first("n")
    assert revoked >= 1
