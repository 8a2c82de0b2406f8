"""The jobs dashboard in headless Chromium, served through the local gateway over real HTTP: signing in through
/auth/login and the stand-in TastyTrade into cookies and out again, history, filters and pages, a run's details, the
latest report, data holding HTML shown as text (never markup, never a script), CSRF on cookie writes and CORS.

One stack and one browser for the module; each test starts without cookies and signs in afresh in a new tab. The
stack's jobs tables hold only the runs these tests write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.browser import chromium, chromium_missing, serving
from local.cors import CorsPolicy
from local.demo import DEMO_SYMBOLS, load_demo
from local.stack import LocalStack, free_port
from tests.integration.test_jobs_api import insert_report, insert_result, insert_run
from ttai.jobs import run_job

pytestmark = pytest.mark.slow

READY = "#history-table[data-state='ready']"
XSS = "<img src=x onerror=alert(1)>"
XSS_SYMBOL = "<b>X</b>"  # fits analysis_results.symbol (at most 21 characters)
FIRST_DAY = date(2026, 3, 2)
NOTHING = "\N{EN DASH}"  # what the page shows for a missing value


SESSION_COOKIE = "__Host-ttai_session"
CSRF_COOKIE = "__Host-ttai_csrf"
PORT = free_port()  # the served gateway's: the stack's OAuth redirect URI names it


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(public_url=f"http://127.0.0.1:{PORT}") as local:
        yield local


@pytest.fixture(scope="module")
def runs(stack: LocalStack) -> dict[str, int]:
    """The runs the page shows: 22 quiet intraday runs (so history has two pages of 20), then the interesting ones."""
    ids: dict[str, int] = {}
    for n in range(22):
        ids[f"intraday-{n}"] = insert_run(stack, "intraday", FIRST_DAY + timedelta(days=n // 7), hour=14 + n % 7)
    day = FIRST_DAY + timedelta(days=10)
    ids["analysis"] = insert_run(stack, "analysis", day, status="partial", processed=3, failed=1)
    insert_result(stack, ids["analysis"], "MSFT", sentiment="bearish", confidence=0.35, direction="sell", signals=[])
    insert_result(
        stack,
        ids["analysis"],
        "AAPL",
        signals=[{"type": "trend", "strength": 0.7}, "rsi_oversold"],
        technical_data={"demo_data": True},
    )
    insert_result(stack, ids["analysis"], "TSLA", sentiment=None, confidence=None, direction=None, reasoning=None,
                  error_message="no bars for TSLA")  # fmt: skip
    ids["hostile"] = insert_run(stack, "end-of-day", day, hour=21, status="failure", error=f"failed: {XSS}")
    insert_result(stack, ids["hostile"], XSS_SYMBOL, reasoning=XSS, error_message=XSS, signals=[XSS])
    ids["pre-market"] = insert_run(
        stack, "pre-market", day + timedelta(days=1), hour=13, metadata={"demo_data": ["AAPL"]}
    )
    insert_report(stack, ids["pre-market"], "pre-market", day + timedelta(days=1), f"Calm open {XSS}", 4)
    # And one run as the analysis job writes it, on make dev's demo bars: the newest run of all.
    stack.env.DB.prepare("INSERT INTO users (id) VALUES ('demo-watcher')").run()
    load_demo(stack.env.DB, "demo-watcher")
    ids["demo"] = run_job(stack.env, "analysis", datetime.fromtimestamp(int(time.time()), UTC), trigger="manual").id
    return ids


@pytest.fixture(scope="module")
def base_url(stack: LocalStack) -> Iterator[str]:
    assert stack.gateway is not None
    with serving(stack.gateway, port=PORT) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = chromium_missing()
    if reason:
        print(f"browser tests skipped: {reason}")
        pytest.skip(reason)
    with chromium() as context:
        yield context


class Tab:
    """A page on the dashboard, recording the dialogs, console errors and page errors it sees."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def texts(self, selector: str) -> list[str]:
        return [str(text) for text in self.page.locator(selector).all_text_contents()]

    def sign_in(self) -> None:
        """Through /auth/login, the stand-in TastyTrade's authorize page and /auth/callback, back to the page."""
        self.page.click("#sign-in-link")
        self.page.wait_for_url("**/dashboard")
        self.page.wait_for_selector(READY)

    def cookies(self) -> dict[str, dict[str, Any]]:
        return {cookie["name"]: dict(cookie) for cookie in self.page.context.cookies()}


@pytest.fixture
def tab(browser: Any, base_url: str, runs: dict[str, int]) -> Iterator[Tab]:
    browser.clear_cookies()  # no session left from another test
    page = browser.new_page()
    opened = Tab(page)
    response = page.goto(f"{base_url}/dashboard")
    assert response is not None
    assert response.status == 200
    yield opened
    page.close()
    assert opened.errors == []  # no CSP refusal, no script error, no failed request


def test_the_page_is_served_with_a_strict_policy(browser: Any, base_url: str) -> None:
    page = browser.new_page()
    try:
        for path in ("/dashboard", "/dashboard/app.js", "/dashboard/app.css"):
            response = page.request.get(f"{base_url}{path}")
            assert response.status == 200
            headers = response.headers
            assert headers["x-content-type-options"] == "nosniff"
            policy = headers["content-security-policy"]
            assert "script-src 'self'" in policy
            assert "default-src 'none'" in policy
            assert "unsafe-inline" not in policy
    finally:
        page.close()


def test_history_renders_the_runs_newest_first_with_their_counts(tab: Tab, runs: dict[str, int]) -> None:
    tab.sign_in()
    page = tab.page
    ids = page.eval_on_selector_all("#history-table tbody tr", "rows => rows.map(r => Number(r.dataset.jobId))")
    newest = [runs["demo"], runs["pre-market"], runs["hostile"], runs["analysis"]]
    intraday = sorted((runs[f"intraday-{n}"] for n in range(22)), reverse=True)  # by date, then id: insert order
    assert ids == newest + intraday[:16]
    first = "#history-table tbody tr:nth-child(4)"  # the partial analysis run
    cells = tab.texts(f"{first} td")
    assert cells[0] == "analysis"
    assert cells[1:] == ["partial", cells[2], "2026-03-12", "1.5 s", "3", "1"]
    assert cells[2].startswith("2026-03-12 14:")  # insert_run: 14:00 UTC plus under an hour
    assert tab.texts("#history-table tbody tr:nth-child(1) .job-type .badge") == ["demo data"]  # the job's own run
    assert tab.texts("#history-table tbody tr:nth-child(2) .job-type .badge") == ["demo data"]
    assert tab.texts("#history-table tbody tr:nth-child(4) .badge") == []
    # The latest pre-market report, labelled as demo data.
    assert tab.texts("#report .report-high-confidence") == ["High-confidence signals: 4"]
    assert tab.texts("#report .report-summary") == [f"Calm open {XSS}"]
    assert tab.texts("#report .badge") == ["demo data"]
    # The session is in its HttpOnly cookie, out of the page's reach: a script sees only the CSRF token.
    storage = page.evaluate("() => [sessionStorage.length, localStorage.length, document.cookie]")
    assert storage[:2] == [0, 0]
    assert storage[2].startswith(f"{CSRF_COOKIE}=")
    assert SESSION_COOKIE not in storage[2]


def test_filters_and_pages_ask_the_api_again(tab: Tab, runs: dict[str, int]) -> None:
    tab.sign_in()
    page = tab.page
    page.click("#older")
    page.wait_for_selector("#page-number:text('page 2')")
    page.wait_for_selector(READY)
    intraday = sorted((runs[f"intraday-{n}"] for n in range(22)), reverse=True)
    shown = page.eval_on_selector_all("#history-table tbody tr", "rows => rows.map(r => Number(r.dataset.jobId))")
    assert shown == intraday[16:]
    assert page.is_disabled("#older")
    assert page.is_enabled("#newer")
    page.select_option("#filter-status", "failure")
    page.wait_for_selector("#page-number:text('page 1')")
    page.wait_for_selector(READY)
    assert tab.texts("#history-table tbody .job-type") == ["end-of-day"]
    page.select_option("#filter-status", "")
    page.select_option("#filter-type", "weekly")
    page.wait_for_selector("#history-empty:visible")
    assert tab.texts("#history-table tbody tr") == []


def test_a_runs_details_open_on_click(tab: Tab, runs: dict[str, int]) -> None:
    tab.sign_in()
    page = tab.page
    page.click(f"#history-table tbody tr[data-job-id='{runs['analysis']}']")
    page.wait_for_selector(f"#details[data-job-id='{runs['analysis']}']:visible")
    assert tab.texts("#details-title") == ["Run {}: analysis on 2026-03-12".format(runs["analysis"])]
    rows = [tab.texts(f"#results-table tbody tr:nth-child({n}) td") for n in (1, 2, 3)]
    assert rows == [
        ["AAPL demo data", "bullish", "81 %", "buy", "trend (0.7), rsi_oversold", "SMA 20 above SMA 50", ""],
        ["MSFT", "bearish", "35 %", "sell", NOTHING, "SMA 20 above SMA 50", ""],
        ["TSLA", NOTHING, NOTHING, NOTHING, "trend (0.7)", "", "no bars for TSLA"],
    ]
    assert tab.texts("#results-note") == ["3 results."]
    assert "1 failed" in " ".join(tab.texts("#details-summary dd"))
    assert tab.texts("#details-report p") == ["This run wrote no report."]


def test_html_in_the_data_is_shown_as_text(tab: Tab, runs: dict[str, int]) -> None:
    page = tab.page
    page.evaluate("() => { window.alert = () => { window.__alerted = true; }; }")
    tab.sign_in()
    hostile = f"#history-table tbody tr[data-job-id='{runs['hostile']}']"
    assert page.get_attribute(hostile, "title") == f"failed: {XSS}"
    page.click(hostile)
    page.wait_for_selector(f"#details[data-job-id='{runs['hostile']}']:visible")
    assert tab.texts("#results-table tbody .result-symbol") == [XSS_SYMBOL]
    assert tab.texts("#results-table tbody .result-reasoning") == [XSS]
    assert tab.texts("#results-table tbody .result-error") == [XSS]
    assert tab.texts("#results-table tbody .result-signals") == [XSS]
    assert f"failed: {XSS}" in tab.texts("#details-summary dd")
    # No element was made from any of it, nothing ran, no dialog opened.
    cells = "#results-table tbody td, #details-summary dd, #report p"
    assert page.eval_on_selector_all(cells, "cells => cells.flatMap(c => [...c.children].map(e => e.className))") == [
        "badge demo"  # the one element the page adds itself: the pre-market report's demo label
    ]
    assert page.locator("img").count() == 0
    assert page.locator("main b").count() == 0
    assert page.evaluate("() => window.__alerted === undefined")
    assert tab.dialogs == []


def test_a_revoked_session_returns_to_sign_in(tab: Tab, stack: LocalStack) -> None:
    tab.sign_in()
    page = tab.page
    session = tab.cookies()[SESSION_COOKIE]["value"]
    assert stack.http("POST", "/auth/logout", token=session).status == 204  # ended elsewhere (another device)
    page.select_option("#filter-status", "failure")
    page.wait_for_selector("#error:visible")
    assert "sign in again" in page.inner_text("#error")
    assert page.is_visible("#sign-in")
    assert not page.is_visible("#board")
    tab.errors.clear()  # the browser logs the refused request itself: expected here


def test_a_run_of_the_analysis_job_on_demo_bars_is_labelled_demo_throughout(tab: Tab, runs: dict[str, int]) -> None:
    tab.sign_in()
    page = tab.page
    page.click(f"#history-table tbody tr[data-job-id='{runs['demo']}']")
    page.wait_for_selector(f"#details[data-job-id='{runs['demo']}']:visible")
    assert tab.texts("#details-title .badge") == ["demo data"]
    symbols = tab.texts("#results-table tbody .result-symbol")
    assert symbols == [f"{symbol} demo data" for symbol in sorted(DEMO_SYMBOLS)]
    assert all(text.startswith("[DEMO DATA] ") for text in tab.texts("#results-table tbody .result-reasoning"))
    assert "DEMO DATA" in " ".join(tab.texts("#details-report .report-summary"))
    page.select_option("#report-type", "analysis")
    page.wait_for_selector("#report .report-summary:has-text('DEMO DATA')")
    assert tab.texts("#report .badge") == ["demo data"]


def test_sign_in_shows_the_jobs_and_sign_out_ends_the_session_and_clears_its_cookies(
    tab: Tab, stack: LocalStack, base_url: str, runs: dict[str, int]
) -> None:
    page = tab.page
    assert page.is_visible("#sign-in")
    assert not page.is_visible("#board")
    tab.sign_in()
    assert page.url == f"{base_url}/dashboard"  # /auth/callback answered 303 back to the page it was asked for
    assert len(tab.texts("#history-table tbody tr")) == 20
    cookies = tab.cookies()
    assert set(cookies) == {SESSION_COOKIE, CSRF_COOKIE}  # the one-time sign-in cookie is gone
    session, csrf = cookies[SESSION_COOKIE], cookies[CSRF_COOKIE]
    assert (session["httpOnly"], session["secure"], session["sameSite"], session["path"]) == (True, True, "Lax", "/")
    assert (csrf["httpOnly"], csrf["secure"], csrf["sameSite"], csrf["path"]) == (False, True, "Strict", "/")
    for cookie in (session, csrf):  # as long as the session (24 h), give or take the test's own seconds
        assert abs(cookie["expires"] - (time.time() + 86_400)) < 120
    assert stack.http("GET", "/api/v1/me", token=session["value"]).status == 200

    page.click("#sign-out")
    page.wait_for_selector("#sign-in:visible")
    assert not page.is_visible("#board")
    assert tab.texts("#history-table tbody tr") == []
    assert tab.cookies() == {}
    assert page.evaluate("() => document.cookie") == ""
    assert stack.http("GET", "/api/v1/me", token=session["value"]).status == 403  # the session itself was revoked
    page.reload()
    page.wait_for_selector("#sign-in:visible")  # and a reload asks nothing of the API


def test_a_write_with_the_session_cookie_needs_the_csrf_token(tab: Tab, stack: LocalStack) -> None:
    tab.sign_in()
    page = tab.page
    write = """async ([name, withToken]) => {
        const token = document.cookie.split("; ").find((c) => c.startsWith("__Host-ttai_csrf=")).split("=")[1];
        const headers = { "Content-Type": "application/json" };
        if (withToken === true) headers["X-CSRF-Token"] = token;
        if (typeof withToken === "string") headers["X-CSRF-Token"] = withToken;
        const response = await fetch(`/api/v1/watchlists/${name}`, {
            method: "PUT", headers, body: JSON.stringify({ symbols: ["AAPL"] }),
        });
        return [response.status, await response.json()];
    }"""
    listed = "async () => (await (await fetch('/api/v1/watchlists')).json()).items.map((w) => w.name)"
    before = page.evaluate(listed)
    for refused in (False, "not-the-token"):
        status, body = page.evaluate(write, ["forged", refused])
        assert status == 403
        assert body["error"]["code"] == "forbidden"
        assert "X-CSRF-Token" in body["error"]["message"]
    assert page.evaluate(listed) == before  # nothing written
    # Another session's token is no better than none.
    other = stack.token_for("someone-else")
    status, _ = page.evaluate(write, ["forged", _csrf_of(stack, other)])
    assert status == 403
    status, body = page.evaluate(write, ["kept", True])
    assert status == 200
    assert body["name"] == "kept"
    assert page.evaluate(listed) == [*before, "kept"]
    tab.errors.clear()  # the browser logs the refused requests itself: expected here


def _csrf_of(stack: LocalStack, token: str) -> str:
    from ttai.auth.tokens import verify  # noqa: PLC0415
    from ttai.http.session_cookies import csrf_token  # noqa: PLC0415

    return csrf_token(verify(stack.secret_value("JWT_SECRET"), token).session_id)


ALLOWED_ORIGIN = "http://localhost:5173"  # on dev's list in cdk.json, which the local gateway plays
FOREIGN_ORIGIN = "http://localhost:5174"


@contextmanager
def _blank_site() -> Iterator[str]:
    """Another origin on this machine: a loopback port serving an empty page (a real one: Chromium refuses calls
    to loopback from pages it did not load from a local address)."""

    class Blank(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", "3")
            self.end_headers()
            self.wfile.write(b"<p>")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Blank)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cross_origin_call_is_allowed_only_from_an_origin_on_the_list(
    browser: Any, base_url: str, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.gateway is not None
    dev = CorsPolicy.of_environment("dev")
    assert dev is not None
    token = stack.token_for("cross-origin-caller")
    call = """async ([url, token]) => {
        try {
            return (await fetch(url, { headers: { Authorization: `Bearer ${token}` } })).status;
        } catch (error) {
            return String(error);
        }
    }"""
    with _blank_site() as listed, _blank_site() as foreign:
        # dev's allow-list, with the listed site's origin on it (dev's own origins name ports this test cannot own).
        monkeypatch.setattr(stack.gateway, "cors", replace(dev, allow_origins=dev.allow_origins | {listed}))
        outcomes = {}
        for origin in (listed, foreign):
            page = browser.new_page()
            try:
                page.goto(f"{origin}/")
                # A bearer token in a header: the browser sends a preflight first.
                outcomes[origin] = page.evaluate(call, [f"{base_url}/api/v1/watchlists", token])
            finally:
                page.close()
    assert outcomes == {listed: 200, foreign: "TypeError: Failed to fetch"}


def test_preflights_are_answered_per_the_allow_list_without_the_authorizer(base_url: str, stack: LocalStack) -> None:
    import urllib.request  # noqa: PLC0415

    assert stack.gateway is not None
    before = stack.gateway.authorizer.invocations

    def preflight(origin: str) -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(  # noqa: S310 - the loopback gateway
            f"{base_url}/api/v1/journal",
            method="OPTIONS",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, {k.lower(): v for k, v in response.headers.items()}

    status, headers = preflight(ALLOWED_ORIGIN)
    assert status == 204
    assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert headers["access-control-allow-methods"].split(",") == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    assert headers["access-control-allow-headers"].split(",") == ["authorization", "content-type", "idempotency-key"]
    assert "access-control-allow-credentials" not in headers  # cookies never cross origins
    status, headers = preflight(FOREIGN_ORIGIN)
    assert status == 204
    assert not [name for name in headers if name.startswith("access-control-")]
    assert stack.gateway.authorizer.invocations == before
