"""Session records in KV: a token is honoured only while its session exists, so deleting one revokes it."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ttai.auth import tokens
from ttai.errors import Unauthorized
from ttai.services.cache import CacheKeys, CacheTier

if TYPE_CHECKING:
    from ttai.env import Env

JWT_SECRET = "JWT_SECRET"  # noqa: S105 - the secret's name, not its value


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
        record = {"user_id": user_id, "scopes": sorted(claims.scopes), "expires_at": claims.expires_at}
        self._env.KV.put(
            CacheKeys.session(user_id, claims.session_id),
            json.dumps(record),
            expiration_ttl=ttl,
        )
        return OpenedSession(claims=claims, token=tokens.issue(self._env.secret(JWT_SECRET), claims))

    def verify(self, token: str) -> tokens.Claims:
        """Claims of a token that verifies and whose session is live (one GetItem once the signature holds)."""
        claims = tokens.verify(self._env.secret(JWT_SECRET), token)
        record = self._env.KV.get(CacheKeys.session(claims.user_id, claims.session_id), "json")
        if not record or record.get("user_id") != claims.user_id:
            raise Unauthorized("session revoked or unknown")
        return claims

    def revoke(self, user_id: str, session_id: str) -> None:
        self._env.KV.delete(CacheKeys.session(user_id, session_id))
