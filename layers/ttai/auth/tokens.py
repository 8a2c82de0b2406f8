"""HS256 session tokens: what they claim, how they are signed, and how they are checked."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ttai.errors import Unauthorized

ISSUER = "ttai"
AUDIENCE = "ttai-api"
ALGORITHM = "HS256"
KNOWN_SCOPES = frozenset({"service", "admin"})
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")
SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key is at least as long as the hash output


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    session_id: str
    scopes: frozenset[str]
    issued_at: int
    expires_at: int


def check_user_id(user_id: str) -> str:
    if not USER_ID_PATTERN.fullmatch(user_id):
        raise ValueError(f"invalid user id {user_id!r}: 1-128 of letters, digits and . _ @ : -")
    return user_id


def check_scopes(scopes: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}; known: {sorted(KNOWN_SCOPES)}")
    return frozenset(scopes)


def _key(secret: str) -> bytes:
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the JWT signing secret must be at least {MIN_SECRET_BYTES} bytes")
    return key


def issue(secret: str, claims: Claims) -> str:
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": check_user_id(claims.user_id),
        "jti": claims.session_id,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "scope": " ".join(sorted(check_scopes(claims.scopes))),
    }
    import jwt  # noqa: PLC0415 - only signing and verifying need PyJWT; the api function's cold path does not

    return jwt.encode(payload, _key(secret), algorithm=ALGORITHM)


def verify(secret: str, token: str) -> Claims:
    """The token's claims if its signature, issuer, audience, lifetime and shape all check; else Unauthorized."""
    import jwt  # noqa: PLC0415 - see issue()

    try:
        payload = jwt.decode(
            token,
            _key(secret),
            algorithms=[ALGORITHM],  # pinned: 'none' and RS/HS confusion are refused here
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    user_id, session_id, scope = payload["sub"], payload["jti"], payload.get("scope", "")
    if not isinstance(user_id, str) or not USER_ID_PATTERN.fullmatch(user_id):
        raise Unauthorized("invalid token: bad subject")
    if not isinstance(session_id, str) or not SESSION_ID_PATTERN.fullmatch(session_id):
        raise Unauthorized("invalid token: bad session id")
    if not isinstance(scope, str) or not set(scope.split()) <= KNOWN_SCOPES:
        raise Unauthorized("invalid token: unknown scope")
    if payload["exp"] <= time.time():  # PyJWT checks too; ours goes through time.time() for time travel
        raise Unauthorized("token expired")
    return Claims(
        user_id=user_id,
        session_id=session_id,
        scopes=frozenset(scope.split()),
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
    )
