"""HS256 session tokens: what they claim, how they are signed, and how they are checked.

Keys rotate with two live at once: a token's ``kid`` header names the key that signed it (a digest of the key, which
tells nothing of it), new tokens are signed with the current key, and ``verify`` takes every key still live (the
current one and the previous one), so tokens signed before a rotation keep working until their key is removed. A
``kid`` no live key has is refused as ``UnknownKey``, which tells the caller its keys may be stale.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeGuard

from ttai.errors import Unauthorized

ISSUER = "ttai"
AUDIENCE = "ttai-api"
ALGORITHM = "HS256"
KNOWN_SCOPES = frozenset({"service", "admin"})
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")
SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MIN_SECRET_BYTES = 32  # RFC 7518 3.2: an HS256 key is at least as long as the hash output
REQUIRED_CLAIMS = frozenset({"iss", "aud", "sub", "jti", "iat", "exp"})
TOKEN_MAX_LENGTH = 4096  # ours are about 300 characters; API Gateway caps a header at 10 KB
# The house range of instants (ttai.models.times: 1970 up to 2200 UTC) in seconds; its own numbers here, because
# the authorizer's cold start does not load pydantic. A unit test keeps the two equal.
EARLIEST_SECONDS = 0
LATEST_SECONDS = 7_258_118_400


KEY_ID_BYTES = 12  # 16 base64url characters: enough to tell keys apart, nothing to learn a key from


class UnknownKey(Unauthorized):
    """The token names a key (``kid``) that none of the given keys is."""


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


@lru_cache(maxsize=8)
def key_id(secret: str) -> str:
    """The ``kid`` of a signing key: a digest of it, so that every function derives it alike and none is stored."""
    digest = hashlib.sha256(b"ttai-session-key\x00" + _key(secret)).digest()[:KEY_ID_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


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

    return jwt.encode(payload, _key(secret), algorithm=ALGORITHM, headers={"kid": key_id(secret)})


def verify(secrets: str | Sequence[str], token: str) -> Claims:
    """The token's claims if its signature and every claim check; else Unauthorized, whatever the token holds.

    ``secrets``: the live keys, the current one first. The token's ``kid`` picks one (UnknownKey when none is it);
    a token without one (signed before keys had ids) is checked with the current key alone. PyJWT checks the
    signature and the algorithm only; the claims are read here, each for its JSON type first, so a well-signed token
    with ``"exp": "soon"`` or ``"iat": [1]`` is refused like any other bad token, never a crash.
    """
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    # Outside the try: no key, or a short one, is the deployment's fault, not the caller's.
    if not keys:
        raise ValueError("verifying a token needs at least one key")
    keyring = {key_id(secret): _key(secret) for secret in keys}
    if len(token) > TOKEN_MAX_LENGTH or not token.isascii():  # compact JWS is base64url and dots
        raise Unauthorized("invalid token: not a compact JWS")
    import jwt  # noqa: PLC0415 - see issue()

    try:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is not None and (not _is_text(kid) or kid not in keyring):
            raise UnknownKey("invalid token: signed with a key that is not live")
        key = keyring[kid] if kid is not None else _key(keys[0])
        # pinned: 'none' and RS/HS confusion are refused here
        signed = jwt.PyJWS().decode(token, key, algorithms=[ALGORITHM])
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    try:
        payload = json.loads(signed)
    except (ValueError, RecursionError):  # not JSON, an integer of over 4,300 digits, nesting Python cannot read
        raise Unauthorized("invalid token: the claims are not JSON") from None
    return _claims(payload, now=time.time())


def _claims(payload: object, *, now: float) -> Claims:
    if not isinstance(payload, dict):
        raise Unauthorized("invalid token: the claims are not a JSON object")
    missing = REQUIRED_CLAIMS - payload.keys()
    if missing:
        raise Unauthorized(f"invalid token: missing {', '.join(sorted(missing))}")
    if not _is_text(payload["iss"]) or payload["iss"] != ISSUER:
        raise Unauthorized("invalid token: wrong issuer")
    if not _is_text(payload["aud"]) or payload["aud"] != AUDIENCE:  # one audience, as issue() writes it
        raise Unauthorized("invalid token: wrong audience")
    user_id, session_id, scope = payload["sub"], payload["jti"], payload.get("scope", "")
    if not _is_text(user_id) or not USER_ID_PATTERN.fullmatch(user_id):
        raise Unauthorized("invalid token: bad subject")
    if not _is_text(session_id) or not SESSION_ID_PATTERN.fullmatch(session_id):
        raise Unauthorized("invalid token: bad session id")
    scopes = frozenset(scope.split(" ")) - {""} if _is_text(scope) else None
    if scopes is None or not scopes <= KNOWN_SCOPES:
        raise Unauthorized("invalid token: unknown scope")
    issued_at, expires_at = _instant(payload, "iat"), _instant(payload, "exp")
    if "nbf" in payload and _instant(payload, "nbf") > now:
        raise Unauthorized("invalid token: not valid yet")
    if issued_at > now:
        raise Unauthorized("invalid token: issued in the future")
    if expires_at <= issued_at:
        raise Unauthorized("invalid token: expires before it was issued")
    if expires_at <= now:  # through time.time(), so tests can travel in time
        raise Unauthorized("token expired")
    return Claims(user_id=user_id, session_id=session_id, scopes=scopes, issued_at=issued_at, expires_at=expires_at)


def _is_text(value: object) -> TypeGuard[str]:
    return type(value) is str


def _instant(payload: dict[str, Any], claim: str) -> int:
    """A NumericDate claim as this service writes them: whole seconds (a JSON integer, never true or false) within
    the house range of instants."""
    value = payload[claim]
    if type(value) is not int or not EARLIEST_SECONDS <= value < LATEST_SECONDS:
        raise Unauthorized(f"invalid token: {claim} is not a whole number of seconds from 1970 up to 2200")
    return value
