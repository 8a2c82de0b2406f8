"""Whose TastyTrade session a request uses: a signed-in user's (their stored, sealed tokens, refreshed and re-sealed by
the sign-in service) or the stack's own (a long-lived grant an operator created, for market data every caller shares).

A source hands out a current access token, a fresh one when asked to (TastyTrade answered 401 to the last one), and
says what it means when even a fresh token is refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ttai.auth.oauth import OAuthClient, OAuthError
from ttai.errors import ConfigurationError, TtaiError, Unauthorized

if TYPE_CHECKING:
    from ttai.services.signin import SignInService

REFRESH_MARGIN_SECONDS = 60


class TokenSource(Protocol):
    def access_token(self, *, force_refresh: bool = False) -> str:
        """A current access token; ``force_refresh`` asks for a new one. Raises OAuthError (transient) when the token
        endpoint is failing, or the error ``refused`` describes when the grant itself no longer works."""
        ...

    def refused(self) -> TtaiError:
        """The error to raise when TastyTrade refuses even a freshly refreshed access token."""
        ...


class UserTokens:
    """A signed-in user's own session: only ever used for that user's accounts and positions."""

    def __init__(self, signin: SignInService, user_id: str) -> None:
        self._signin = signin
        self.user_id = user_id

    def access_token(self, *, force_refresh: bool = False) -> str:
        return self._signin.access_token(self.user_id, force_refresh=force_refresh)

    def refused(self) -> TtaiError:
        return Unauthorized("the tastytrade connection needs signing in again: TastyTrade refused its access token")


class ServiceTokens:
    """The stack's session: a refresh token from a grant an operator created for this OAuth client, its access token
    kept in this container's memory for its 15 minutes. Refresh tokens of such grants do not expire; if TastyTrade
    answers a refresh with a new one, this container keeps using the newest.

    ``grant`` gives the OAuth client and the grant's refresh token when first needed: a container that only serves
    cache hits never reads the secrets."""

    def __init__(
        self, grant: Callable[[], tuple[OAuthClient, str]], *, clock: Callable[[], float] | None = None
    ) -> None:
        self._grant = grant
        self._oauth: OAuthClient | None = None
        self._refresh_token = ""
        self._clock = clock or _now
        self._lock = threading.Lock()
        self._access_token: str | None = None
        self._expires_at = 0.0

    def access_token(self, *, force_refresh: bool = False) -> str:
        with self._lock:
            now = self._clock()
            if not force_refresh and self._access_token and now < self._expires_at - REFRESH_MARGIN_SECONDS:
                return self._access_token
            if self._oauth is None:
                self._oauth, self._refresh_token = self._grant()
            try:
                fresh = self._oauth.refresh(self._refresh_token)
            except OAuthError as exc:
                if exc.transient:
                    raise
                raise ConfigurationError(
                    "TastyTrade refused the stack's market-data grant: create a new grant and store its refresh token"
                ) from exc
            self._access_token = fresh.access_token
            self._expires_at = now + fresh.expires_in
            self._refresh_token = fresh.refresh_token or self._refresh_token
            return fresh.access_token

    def refused(self) -> TtaiError:
        return ConfigurationError("TastyTrade refuses the stack's fresh access token: check the grant's scopes")


def _now() -> float:
    """``time.time()`` looked up at each call, so a test that moves the clock moves ours too."""
    return time.time()
