"""OAuth 2.0 authorization code flow with PKCE (RFC 7636) against TastyTrade, over the standard library's HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ttai.errors import TtaiError, Unavailable
from ttai.models.text import EmailAddress, SingleLine

HTTP_TIMEOUT_SECONDS = 8
MAX_RETRY_AFTER_SECONDS = 3600  # a longer ask is passed on as our own default
MAX_RESPONSE_BYTES = 1_000_000
# TastyTrade rejects any request, its OAuth calls included, without a User-Agent of the form <product>/<version>.
# The version is the project's (pyproject.toml; a unit test keeps them equal).
USER_AGENT = "ttai/0.1.0"


PROVIDER_NAME = "TastyTrade"  # as a caller knows it, in a 503's message
PROVIDER_RETRY_AFTER_SECONDS = 5


class OAuthError(TtaiError):
    """The provider refused or answered something unusable (its error code and description kept, for the log).

    ``transient`` when it failed rather than refused (unreachable, a timeout, a 5xx or a 429; then it is a
    :class:`ProviderUnavailable`): the grant may still be good, and a caller with a retry policy may try again later
    instead of asking the user to sign in again."""

    def __init__(self, message: str, *, error: str | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.error = error
        self.transient = transient


class ProviderUnavailable(OAuthError, Unavailable):
    """The provider could not be reached, timed out, failed (5xx) or asked us to slow down (429): a 503 to retry."""

    def __init__(
        self, message: str, *, error: str | None = None, retry_after: int = PROVIDER_RETRY_AFTER_SECONDS
    ) -> None:
        Unavailable.__init__(self, message, dependency=PROVIDER_NAME, retry_after=retry_after)
        self.error = error
        self.transient = True


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    authorize_url: str
    token_url: str
    userinfo_url: str
    redirect_uri: str
    scope: str = "read trade openid"


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def create(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)  # 86 characters of the unreserved set: within RFC 7636's 43-128
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("="))


class TokenSet(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(min_length=1, max_length=8192)
    refresh_token: str | None = Field(default=None, max_length=8192)
    expires_in: int = Field(default=900, ge=1, le=31_536_000)
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a credential

    def expires_at(self) -> int:
        return int(time.time()) + self.expires_in


class ExternalUser(BaseModel):
    # The provider's whitespace around a value is dropped; the rest is checked as it will be stored (the address
    # is where notifications are mailed).
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:-]*$")
    email: EmailAddress | None = None
    name: Annotated[SingleLine, Field(max_length=200)] | None = None


class OAuthClient:
    def __init__(self, settings: OAuthSettings, client_id: str, client_secret: str) -> None:
        self.settings = settings
        self._client_id = client_id
        self._client_secret = client_secret

    def authorization_url(self, state: str, pkce: Pkce) -> str:
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self._client_id,
                "redirect_uri": self.settings.redirect_uri,
                "scope": self.settings.scope,
                "state": state,
                "code_challenge": pkce.challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in self.settings.authorize_url else "?"
        return f"{self.settings.authorize_url}{separator}{query}"

    def exchange_code(self, code: str, verifier: str) -> TokenSet:
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.settings.redirect_uri,
                "code_verifier": verifier,
            }
        )

    def refresh(self, refresh_token: str) -> TokenSet:
        return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def userinfo(self, access_token: str) -> ExternalUser:
        payload = self._send(
            urllib.request.Request(  # noqa: S310 - the URL is operator configuration, https in every deployment
                self.settings.userinfo_url,
                headers={"Authorization": f"Bearer {access_token}", "User-Agent": USER_AGENT},
            )
        )
        body = payload.get("data", payload)  # TastyTrade wraps resources in {"data": ...}
        if isinstance(body, dict) and "id" not in body and "external-id" in body:
            body = {**body, "id": body["external-id"]}
        try:
            return ExternalUser.model_validate(body)
        except ValidationError as exc:
            raise OAuthError(f"the provider's account response is unusable: {exc.error_count()} problem(s)") from exc

    def _token_request(self, form: dict[str, str]) -> TokenSet:
        credentials = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode("ascii")
        request = urllib.request.Request(  # noqa: S310 - operator-configured https endpoint
            self.settings.token_url,
            data=urllib.parse.urlencode(form).encode("ascii"),
            headers={
                "Authorization": f"Basic {credentials}",  # RFC 6749 2.3.1: client authentication
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            method="POST",
        )
        try:
            return TokenSet.model_validate(self._send(request))
        except ValidationError as exc:
            raise OAuthError(f"the provider's token response is unusable: {exc.error_count()} problem(s)") from exc

    @staticmethod
    def _send(request: urllib.request.Request) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            detail = _json_or_empty(exc.read(MAX_RESPONSE_BYTES))
            error = str(detail.get("error", exc.code))
            description = str(detail.get("error_description", exc.reason))
            if exc.code >= HTTPStatus.INTERNAL_SERVER_ERROR or exc.code == HTTPStatus.TOO_MANY_REQUESTS:
                failed = f"the provider failed: {error}: {description}"
                raise ProviderUnavailable(failed, error=error, retry_after=_retry_after(exc.headers)) from exc
            raise OAuthError(f"the provider refused: {error}: {description}", error=error) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise ProviderUnavailable(f"the provider could not be reached: {exc}") from exc
        if len(raw) > MAX_RESPONSE_BYTES:
            raise OAuthError("the provider's response is too large")
        payload = _json_or_empty(raw)
        if not payload:
            raise OAuthError("the provider answered with something that is not a JSON object")
        return payload


def _retry_after(headers: Any) -> int:
    """The provider's Retry-After in whole seconds (a delay; an HTTP date is not worth parsing here), else ours."""
    value = str((headers or {}).get("Retry-After") or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_RETRY_AFTER_SECONDS else PROVIDER_RETRY_AFTER_SECONDS


def _json_or_empty(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
