"""The dashboard in a real browser on one machine: the stack's gateway served over HTTP on loopback (as ``make dev``
does) and Debian's headless Chromium driven by Playwright. Never downloads a browser: without /usr/bin/chromium,
``chromium_missing()`` says why and callers skip."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.dev import GatewayRequestHandler
from local.gateway import LocalGateway

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path("/usr/bin/chromium")
# Quiet and offline: no GPU, no sandbox (containers lack the namespaces it needs), no QUIC, no first-run, update,
# sync or other background traffic.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_missing() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (make browser installs Debian's chromium where it can)"
    return None


@contextmanager
def serving(gateway: LocalGateway, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The gateway on a loopback port (a free one unless given: the one the stack's OAuth redirect URI names, to sign
    in) over real HTTP, in a background thread; yields its base URL."""

    class Handler(GatewayRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # a line per request would bury test and benchmark output

    Handler.gateway = gateway
    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    """One headless Chromium with an empty profile of its own, removed afterwards."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a test and benchmark dependency only

    profile = tempfile.mkdtemp(prefix="ttai-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_FLAGS)
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
