"""Sessions: a durable row in SQL (who, when, revoked or not) and a KV record the authorizer checks.

A token is honoured only while its KV record exists, so revoking deletes the record (and stamps the row), and
marks the session on the user's limits items, which a request already past the authorizer (or let through by a
cache of its answers) meets in the functions (ttai.auth.admission). The authorizer reads KV alone: one GetItem,
no database, no VPC.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ttai.auth import tokens
from ttai.errors import Unauthorized
from ttai.secret_names import JWT_SECRET
from ttai.services.cache import CacheKeys, CacheTier

if TYPE_CHECKING:
    from ttai.env import Env


# One round trip: make sure the user exists (sign-in upserts the profile first; tokens minted for development
# create a bare user), then record the session.
_OPEN = """
WITH known AS (INSERT INTO users (id) VALUES (?1) ON CONFLICT (id) DO NOTHING)
INSERT INTO sessions (id, user_id, scopes, created_at, expires_at)
VALUES (?2, ?1, ARRAY(SELECT jsonb_array_elements_text(?3::jsonb)), ?4, ?5)
"""
_REVOKE = """
WITH revoked AS (
    UPDATE sessions SET revoked_at = now() WHERE id = ?2 AND user_id = ?1 AND revoked_at IS NULL RETURNING id
)
INSERT INTO audit_events (user_id, actor, action, entity, entity_id)
SELECT ?1, ?1, 'session.revoke', 'session', id FROM revoked
"""


# How long a container trusts the signing keys it read (a key rotated out stops verifying within this), and how
# often a token naming a key it does not know may make it read them early.
KEYS_MAX_AGE_SECONDS = 300
KEYS_REREAD_SECONDS = 60
# By Env (one per container and set of variables): when it read the keys, and when it last read them early.
_KEYS_READ: dict[int, float] = {}
_KEYS_REREAD: dict[int, float] = {}


@dataclass(frozen=True, slots=True)
class OpenedSession:
    claims: tokens.Claims
    token: str


class SessionStore:
    def __init__(self, env: Env) -> None:
        self._env = env

    def open(self, user_id: str, *, scopes: tuple[str, ...] = (), ttl_seconds: int | None = None) -> OpenedSession:
        """Record a session for ``user_id`` and sign its token (lifetime: the session tier, 24 h, by default)."""
        ttl = ttl_seconds or CacheTier.SESSION.ttl
        now = int(time.time())
        claims = tokens.Claims(
            user_id=tokens.check_user_id(user_id),
            session_id=secrets.token_urlsafe(24),
            scopes=tokens.check_scopes(scopes),
            issued_at=now,
            expires_at=now + ttl,
        )
        db = self._env.DB
        db.prepare(_OPEN).bind(
            user_id,
            claims.session_id,
            sorted(claims.scopes),
            datetime.fromtimestamp(now, UTC),
            datetime.fromtimestamp(claims.expires_at, UTC),
        ).run()
        record = {"user_id": user_id, "scopes": sorted(claims.scopes), "expires_at": claims.expires_at}
        self._env.KV.put(CacheKeys.session(user_id, claims.session_id), json.dumps(record), expiration_ttl=ttl)
        return OpenedSession(claims=claims, token=tokens.issue(self._env.secret(JWT_SECRET), claims))

    def verify(self, token: str) -> tokens.Claims:
        """Claims of a token that verifies and whose session is live (one GetItem once the signature holds)."""
        claims = self._signed_claims(token)
        record = self._env.KV.get(CacheKeys.session(claims.user_id, claims.session_id), "json")
        if not record or record.get("user_id") != claims.user_id:
            raise Unauthorized("session revoked or unknown")
        return claims

    def _signed_claims(self, token: str) -> tokens.Claims:
        """The claims of a token signed with a live key: the current one (the common case: one secret read per
        container and five minutes), else the previous one too (read when a token names a key the current one is
        not). A key neither is may have been rotated in since this container read them: it reads both again, at
        most once a minute, so a forged kid cannot make every request a Secrets Manager call."""
        env, now = self._env, time.time()
        if now - _KEYS_READ.setdefault(id(env), now) >= KEYS_MAX_AGE_SECONDS:  # a key rotated out stops verifying
            env.forget_secret(JWT_SECRET)
            _KEYS_READ[id(env)] = now
        try:
            return tokens.verify(env.secret(JWT_SECRET), token)
        except tokens.UnknownKey:
            try:
                return tokens.verify(env.secret_versions(JWT_SECRET), token)
            except tokens.UnknownKey:
                if now - _KEYS_REREAD.get(id(env), -math.inf) < KEYS_REREAD_SECONDS:
                    raise
                _KEYS_REREAD[id(env)] = _KEYS_READ[id(env)] = now
                env.forget_secret(JWT_SECRET)
                return tokens.verify(env.secret_versions(JWT_SECRET), token)

    def revoke(self, user_id: str, session_id: str) -> None:
        """End a session: the authorizer refuses it once its record is gone, and the functions refuse a request
        already past the authorizer, or let through by a cache of its answers (a mark on the user's limits items)."""
        from ttai.auth.admission import Admission  # noqa: PLC0415 - signing out alone needs it

        self._env.KV.delete(CacheKeys.session(user_id, session_id))
        self._env.DB.prepare(_REVOKE).bind(user_id, session_id).run()
        Admission.from_env(self._env).revoke(user_id, [session_id])
