"""A stand-in for TastyTrade's OAuth server on 127.0.0.1, strict where the real one is strict.

Authorize approves at once (as the account in ``login=`` or the default one) and redirects with a one-time
code bound to the client, redirect URI and PKCE challenge; the token endpoint checks client credentials, the
code, the redirect URI and the S256 verifier, and issues rotating refresh tokens; /customers/me answers in
TastyTrade's ``{"data": ...}`` envelope.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

from local.service import LoopbackHttpService

CODE_LIFETIME_S = 60
ACCESS_LIFETIME_S = 900
DEFAULT_ACCOUNT = "5WT00001"


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    account: str
    expires: float


class FakeTastyTrade(LoopbackHttpService):
    def __init__(
        self, client_id: str, client_secret: str, *, accounts: dict[str, dict[str, str]] | None = None
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.accounts = accounts or {DEFAULT_ACCOUNT: {"email": "trader@example.com", "name": "Demo Trader"}}
        self.requests: Counter[str] = Counter()
        self.fail_token_requests = 0  # the next N token requests answer 503
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(_Handler):
            provider: ClassVar[FakeTastyTrade] = fake

        return Handler

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def userinfo_url(self) -> str:
        return f"{self.base_url}/customers/me"

    # ------------------------------------------------------------------ logic

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            return 400, {}, {"error": "unauthorized_client"}
        if query.get("code_challenge_method") != "S256" or len(query.get("code_challenge", "")) != 43:
            return 400, {}, {"error": "invalid_request", "error_description": "PKCE with S256 is required"}
        account = query.get("login", next(iter(self.accounts)))
        if account not in self.accounts:
            return 400, {}, {"error": "access_denied"}
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(
                self.client_id, query["redirect_uri"], query["code_challenge"], account, time.time() + CODE_LIFETIME_S
            )
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": location}, None

    def token(self, authorization: str, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if self.fail_token_requests > 0:
            self.fail_token_requests -= 1
            return 503, {}, {"error": "temporarily_unavailable"}
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {}, {"error": "invalid_client"}
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)  # one use only
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                if (
                    grant is None
                    or grant.expires < time.time()
                    or grant.redirect_uri != form.get("redirect_uri")
                    or grant.challenge != challenge
                ):
                    return 400, {}, {"error": "invalid_grant"}
                account = grant.account
            elif grant_type == "refresh_token":
                account_or_none = self._refresh.pop(form.get("refresh_token", ""), None)  # rotated on use
                if account_or_none is None:
                    return 400, {}, {"error": "invalid_grant"}
                account = account_or_none
            else:
                return 400, {}, {"error": "unsupported_grant_type"}
            access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self._access[access] = (account, time.time() + ACCESS_LIFETIME_S)
            self._refresh[refresh] = account
        body = {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ACCESS_LIFETIME_S,
            "token_type": "Bearer",
        }
        return 200, {}, body

    def customer(self, authorization: str) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            held = self._access.get(authorization.removeprefix("Bearer "))
        if held is None or held[1] < time.time():
            return 401, {}, {"error": "invalid_token"}
        account = held[0]
        return 200, {}, {"data": {"external-id": account, **self.accounts[account]}}


class _Handler(BaseHTTPRequestHandler):
    provider: ClassVar[FakeTastyTrade]

    def _reply(self, status: int, headers: dict[str, str], body: Any) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.provider.requests[url.path] += 1
        if url.path == "/oauth/authorize":
            self._reply(*self.provider.authorize(query))
        elif url.path == "/customers/me":
            self._reply(*self.provider.customer(self.headers.get("Authorization", "")))
        else:
            self._reply(404, {}, {"error": "not_found"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        self.provider.requests[url.path] += 1
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if url.path == "/oauth/token":
            self._reply(*self.provider.token(self.headers.get("Authorization", ""), form))
        else:
            self._reply(404, {}, {"error": "not_found"})

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the counters instead."""
