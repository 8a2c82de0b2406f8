"""Cross-site request forgery: a write a browser's session cookie authenticated must carry the session's CSRF token.

A page of another site can make the browser send this site's cookies with a form post, but it cannot read the
``__Host-ttai_csrf`` cookie nor set a header, so a cookie-authenticated POST, PUT, PATCH or DELETE is refused with a
403, before anything runs, unless ``X-CSRF-Token`` holds the token of the very session the authorizer verified
(``ttai.http.session_cookies.csrf_token``; compared in constant time). A write with ``Authorization: Bearer`` is not
checked: no browser adds that header by itself, and the authorizer judges such a request on the header, not on a
cookie it may also carry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ttai.http.session_cookies import CSRF_HEADER, SESSION_COOKIE, csrf_matches, request_cookies

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSAL = (
    f"a change made with the session cookie needs the {CSRF_HEADER} header holding this session's CSRF token "
    "(the page reads it from the __Host-ttai_csrf cookie set at sign-in)"
)


def forged_write_refusal(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The 403 answer for a cookie-authenticated write without its session's CSRF token, else None."""
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method", "")).upper()
    if method not in WRITE_METHODS:
        return None
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if str(headers.get("authorization", "")).strip().lower().startswith("bearer "):
        return None
    session_id = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda", {}).get("session_id")
    if not isinstance(session_id, str) or SESSION_COOKIE not in request_cookies(event):
        return None  # no session cookie, or a public route: nothing a forged request could act as
    if csrf_matches(session_id, headers.get(CSRF_HEADER.lower())):
        return None
    body = {"error": {"code": "forbidden", "message": REFUSAL}}
    return {
        "statusCode": HTTPStatus.FORBIDDEN.value,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
