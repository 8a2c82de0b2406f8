"""``/dashboard``: the jobs dashboard, three static files with no build step (public: the page signs in through
/auth/login, then calls /api/v1/jobs with the session cookie, ``ttai.http.session_cookies``). Served with a strict
Content-Security-Policy: only its own script and stylesheet run, no inline code, and string-to-HTML sinks are refused
(Trusted Types), so data can never become markup."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()  # type: ignore[no-untyped-call]
FILES = Path(__file__).resolve().parent.parent / "dashboard"
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> str:
    return (FILES / name).read_text(encoding="utf-8")


def _file(name: str, content_type: str) -> Response[str]:
    return Response(status_code=200, content_type=content_type, body=_read(name), headers=dict(HEADERS))


@router.get("/dashboard", include_in_schema=False)
def page() -> Response[str]:
    return _file("index.html", "text/html; charset=utf-8")


@router.get("/dashboard/app.js", include_in_schema=False)
def script() -> Response[str]:
    return _file("app.js", "text/javascript; charset=utf-8")


@router.get("/dashboard/app.css", include_in_schema=False)
def stylesheet() -> Response[str]:
    return _file("app.css", "text/css; charset=utf-8")
