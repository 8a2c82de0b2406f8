"""A browser's session in cookies: the ones sign-in sets and sign-out clears, and how a request's cookies are read.

``SESSION_COOKIE`` holds the session token (HttpOnly: no script on the page can read it), ``CSRF_COOKIE`` the
session's CSRF token, which the page reads and echoes in ``X-CSRF-Token`` on every write (``ttai.http.csrf``), and
``SIGN_IN_COOKIE`` the one-time state of a sign-in started in this browser, so that a callback started elsewhere
cannot sign it in. All are ``__Host-`` cookies: Secure, ``Path=/``, no Domain, so only this origin sets or receives
them (Chromium treats http://127.0.0.1 and http://localhost as secure origins, so ``make dev`` behaves as
deployed). The session's cookies last as long as the session.

Standard library only: the authorizer imports this to read the cookie, and its cold start stays small.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from aws_lambda_powertools.shared.cookies import Cookie

SESSION_COOKIE = "__Host-ttai_session"
CSRF_COOKIE = "__Host-ttai_csrf"
SIGN_IN_COOKIE = "__Host-ttai_sign_in"
CSRF_HEADER = "X-CSRF-Token"
# Where a browser may ask to land after signing in: a path of this origin (no scheme, host, "//", dots or query).
RETURN_PATH = r"^/(?:[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*)?$"
_RETURN_PATH = re.compile(RETURN_PATH)
_CSRF_LABEL = b"ttai csrf token v1\x00"


def csrf_token(session_id: str) -> str:
    """The session's CSRF token: a digest of its id, which is random and known only to whoever holds the session
    token, so any function can check it without a key and a token never serves another session."""
    digest = hashlib.sha256(_CSRF_LABEL + session_id.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def csrf_matches(session_id: str, presented: str | None) -> bool:
    """Whether ``presented`` is the session's CSRF token (compared in constant time)."""
    if not presented:
        return False
    return hmac.compare_digest(csrf_token(session_id).encode("ascii"), presented.strip().encode("utf-8", "replace"))


def request_cookies(event: Mapping[str, Any]) -> dict[str, str]:
    """The cookies of a payload 2.0 event (API Gateway moves them to ``cookies``; a ``Cookie`` header as well)."""
    pairs: list[str] = [c for c in event.get("cookies") or () if isinstance(c, str)]
    for name, value in (event.get("headers") or {}).items():
        if isinstance(name, str) and name.lower() == "cookie" and isinstance(value, str):
            pairs += value.split(";")
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.strip().partition("=")
        if sep and name and name not in found:  # the first of a repeated name, as browsers send the most specific
            found[name] = value.strip()
    return found


class SignInCookie(NamedTuple):
    """What ``SIGN_IN_COOKIE`` holds: the state of the sign-in this browser started and where to return after it."""

    state: str
    return_to: str

    def value(self) -> str:
        return f"{self.state}.{self.return_to}"

    @classmethod
    def parse(cls, value: str | None) -> SignInCookie | None:
        state, sep, return_to = (value or "").partition(".")
        if not sep or not state or not _RETURN_PATH.match(return_to):
            return None
        return cls(state, return_to)


def is_return_path(value: str) -> bool:
    return bool(_RETURN_PATH.match(value))


def set_cookie(name: str, value: str, *, max_age: int, http_only: bool = True, same_site: str = "Lax") -> Cookie:
    """A ``__Host-`` cookie to set (``max_age`` 0 clears it)."""
    from aws_lambda_powertools.shared.cookies import Cookie, SameSite  # noqa: PLC0415 - only answers that set one

    return Cookie(
        name, value, path="/", secure=True, http_only=http_only, max_age=max(max_age, 0), same_site=SameSite(same_site)
    )


def session_cookies(token: str, session_id: str, max_age: int) -> list[Cookie]:
    """What a browser keeps once signed in: the session token (sent with every request of this site, even a link
    followed from elsewhere: Lax) and its CSRF token (the page reads it; never sent cross-site: Strict)."""
    return [
        set_cookie(SESSION_COOKIE, token, max_age=max_age),
        set_cookie(CSRF_COOKIE, csrf_token(session_id), max_age=max_age, http_only=False, same_site="Strict"),
    ]


def cleared_session_cookies() -> list[Cookie]:
    """What a sign-out answers: both session cookies expired."""
    return [
        set_cookie(SESSION_COOKIE, "", max_age=0),
        set_cookie(CSRF_COOKIE, "", max_age=0, http_only=False, same_site="Strict"),
    ]
