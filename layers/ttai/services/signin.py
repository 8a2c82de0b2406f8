"""Sign-in with TastyTrade (seed 002): PKCE authorization, token exchange, the user and their encrypted tokens
stored, a session opened. Also hands out a user's current broker access token, refreshing it when due."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ttai.auth.crypto import Sealed, TokenCipher
from ttai.auth.oauth import (
    PROVIDER_NAME,
    OAuthClient,
    OAuthError,
    Pkce,
    ProviderUnavailable,
)
from ttai.auth.sessions import OpenedSession, SessionStore
from ttai.env import Env
from ttai.errors import NotFound, Unauthorized, describe_error
from ttai.observability import logger
from ttai.secret_names import TASTYTRADE_CLIENT_ID, TASTYTRADE_CLIENT_SECRET, TOKEN_ENCRYPTION_KEY

STATE_TTL_SECONDS = 600  # how long a user may take on the provider's page
REFRESH_MARGIN_SECONDS = 120
PROVIDER = "tastytrade"

# One round trip: profile upserted, default preferences created once, broker tokens replaced, the sign-in audited.
_STORE_SIGN_IN = """
WITH account AS (
    INSERT INTO users (id, email, name) VALUES (?1, ?2, ?3)
    ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name
    RETURNING id
), preferences AS (
    INSERT INTO user_preferences (user_id) SELECT id FROM account ON CONFLICT (user_id) DO NOTHING
), audit AS (
    INSERT INTO audit_events (user_id, actor, action, entity, entity_id)
    SELECT id, id, 'user.sign_in', 'user', id FROM account
)
INSERT INTO user_oauth_tokens (user_id, provider, key_id, access_token, refresh_token, expires_at)
SELECT id, ?4, ?5, ?6, ?7, ?8 FROM account
ON CONFLICT (user_id, provider) DO UPDATE SET
    key_id = EXCLUDED.key_id, access_token = EXCLUDED.access_token,
    refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at
"""
_READ_TOKENS = """
SELECT key_id, access_token, refresh_token, expires_at FROM user_oauth_tokens WHERE user_id = ? AND provider = ?
"""
_UPDATE_TOKENS = """
UPDATE user_oauth_tokens SET key_id = ?3, access_token = ?4, refresh_token = ?5, expires_at = ?6
WHERE user_id = ?1 AND provider = ?2
"""


@dataclass(frozen=True, slots=True)
class SignInStart:
    authorize_url: str
    state: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: OpenedSession
    user: dict[str, Any]


class SignInService:
    def __init__(self, env: Env, oauth: OAuthClient, cipher: TokenCipher) -> None:
        self._env = env
        self._oauth = oauth
        self._cipher = cipher

    @classmethod
    def from_env(cls, env: Env) -> SignInService:
        """The service a function that signs in, or uses a user's broker tokens, builds from its environment."""
        oauth = OAuthClient(
            env.oauth_settings(), env.secret(TASTYTRADE_CLIENT_ID), env.secret(TASTYTRADE_CLIENT_SECRET)
        )
        return cls(env, oauth, TokenCipher(env.secret_versions(TOKEN_ENCRYPTION_KEY)))

    def begin(self) -> SignInStart:
        """Where to send the browser; the PKCE verifier waits in KV under a one-time state."""
        state, pkce = secrets.token_urlsafe(32), Pkce.create()
        self._env.KV.put(_state_key(state), json.dumps({"verifier": pkce.verifier}), expiration_ttl=STATE_TTL_SECONDS)
        return SignInStart(self._oauth.authorization_url(state, pkce), state)

    def complete(self, code: str, state: str) -> SignedIn:
        """Exchange the code, store the user and their sealed tokens, and open a session."""
        pending = self._env.KV.get(_state_key(state), "json")
        if not pending:
            raise Unauthorized("unknown or expired sign-in state: start again at /auth/login")
        self._env.KV.delete(_state_key(state))  # one use: a replayed callback finds nothing
        try:
            tokens = self._oauth.exchange_code(code, pending["verifier"])
            if not tokens.refresh_token:
                raise OAuthError("the provider issued no refresh token")
            account = self._oauth.userinfo(tokens.access_token)
        except ProviderUnavailable:
            raise  # a 503: signing in again later may work
        except OAuthError as exc:
            # The provider's own words go to the log; the caller learns what to do.
            logger.warning("sign-in refused by the provider", extra={"error": describe_error(exc)})
            refused = f"sign-in failed: {PROVIDER_NAME} did not accept it; start again at /auth/login"
            raise Unauthorized(refused) from exc
        access = self._cipher.seal(tokens.access_token, user_id=account.id)
        refresh = self._cipher.seal(tokens.refresh_token, user_id=account.id)
        self._env.DB.prepare(_STORE_SIGN_IN).bind(
            account.id,
            account.email,
            account.name,
            PROVIDER,
            access.key_id,
            access.blob,
            refresh.blob,
            datetime.fromtimestamp(tokens.expires_at(), UTC),
        ).run()
        session = SessionStore(self._env).open(account.id)
        return SignedIn(session=session, user={"id": account.id, "email": account.email, "name": account.name})

    def access_token(self, user_id: str, *, force_refresh: bool = False) -> str:
        """The user's current broker access token, refreshed (and re-sealed with the current key) when due, or at
        once with ``force_refresh`` (TastyTrade refused the one we hold).

        A provider that fails rather than refuses raises its OAuthError (``transient``): the grant may be fine, so
        the caller's retry policy decides. A refresh token refused because another container refreshed it first
        (the provider rotates them) finds that container's tokens in the row and uses them."""
        db = self._env.DB
        row = db.prepare(_READ_TOKENS).bind(user_id, PROVIDER).first()
        if row is None:
            raise NotFound(f"{user_id} has not connected a {PROVIDER} account")
        key_id = row["key_id"]
        due = force_refresh or row["expires_at"].timestamp() - REFRESH_MARGIN_SECONDS <= time.time()
        if not due and key_id == self._cipher.current_key_id:
            return self._cipher.open(Sealed(key_id, row["access_token"]), user_id=user_id)
        refresh_token = self._cipher.open(Sealed(key_id, row["refresh_token"]), user_id=user_id)
        if due:
            try:
                fresh = self._oauth.refresh(refresh_token)
            except ProviderUnavailable:
                raise
            except OAuthError as exc:
                winner = self._refreshed_since(user_id, row)
                if winner is not None:
                    return winner
                logger.warning("token refresh refused by the provider", extra={"error": describe_error(exc)})
                raise Unauthorized(f"the {PROVIDER} connection needs signing in again") from exc
            access_token, refresh_token = fresh.access_token, fresh.refresh_token or refresh_token
            expires = datetime.fromtimestamp(fresh.expires_at(), UTC)
        else:  # only the key rotated: re-seal what we have
            access_token = self._cipher.open(Sealed(key_id, row["access_token"]), user_id=user_id)
            expires = row["expires_at"]
        access = self._cipher.seal(access_token, user_id=user_id)
        refresh = self._cipher.seal(refresh_token, user_id=user_id)
        db.prepare(_UPDATE_TOKENS).bind(user_id, PROVIDER, access.key_id, access.blob, refresh.blob, expires).run()
        return access_token

    def _refreshed_since(self, user_id: str, before: dict[str, Any]) -> str | None:
        """The access token another refresh stored after ``before`` was read, if it is still current."""
        row = self._env.DB.prepare(_READ_TOKENS).bind(user_id, PROVIDER).first()
        if row is None or row["refresh_token"] == before["refresh_token"]:
            return None
        if row["expires_at"].timestamp() - REFRESH_MARGIN_SECONDS <= time.time():
            return None
        return self._cipher.open(Sealed(row["key_id"], row["access_token"]), user_id=user_id)


def _state_key(state: str) -> str:
    return f"oauth:state:{state}"
