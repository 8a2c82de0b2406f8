"""A Discord-compatible webhook receiver on 127.0.0.1: what the consumer posts to when it runs locally.

``POST /api/webhooks/<id>/<token>`` answers as Discord does (204 for a message, 400 for an empty one) and records
what arrived; ``fail_next(n, status)`` makes the next n posts answer 500, 429 (with Retry-After) or any status.
``GET /messages`` lists what was delivered (``make dev`` prints the URL), newest last.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from local.service import LoopbackHttpService

_PREFIX = "/api/webhooks/"
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message the sink accepted."""

    webhook_id: str
    payload: dict[str, Any]
    received_at: float


@dataclass
class _Failures:
    remaining: int = 0
    status: int = 500
    retry_after: float = 1.0
    answered: list[int] = field(default_factory=list)


class DiscordSink(LoopbackHttpService):
    def __init__(self) -> None:
        self._deliveries: list[Delivery] = []
        self._failures = _Failures()
        self.attempts = 0  # every post, accepted or not
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle

    def handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(_Handler):
            receiver: ClassVar[DiscordSink] = sink

        return Handler

    # -------------------------------------------------------------- test hooks

    def new_webhook(self) -> str:
        """A fresh webhook URL on this sink, shaped as Discord's (an 18-digit id, a 68-character token)."""
        webhook_id = str(10**17 + secrets.randbelow(9 * 10**17))
        token = secrets.token_urlsafe(51)[:68]
        return f"{self.base_url}{_PREFIX}{webhook_id}/{token}"

    def fail_next(self, count: int, status: int = 500, *, retry_after: float = 1.0) -> None:
        """The next ``count`` posts answer ``status`` (a 429 carries ``retry_after`` as Discord does)."""
        with self._lock:
            self._failures = _Failures(remaining=count, status=status, retry_after=retry_after)

    def deliveries(self, webhook_url: str | None = None) -> list[Delivery]:
        """What was accepted, oldest first; only for one webhook if its URL is given."""
        webhook_id = webhook_url.rstrip("/").split("/")[-2] if webhook_url else None
        with self._lock:
            return [d for d in self._deliveries if webhook_id is None or d.webhook_id == webhook_id]

    # ------------------------------------------------------------------ logic

    def receive(self, path: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        parts = path.split("?", 1)[0].removeprefix(_PREFIX).split("/")
        if not path.startswith(_PREFIX) or len(parts) != 2 or not parts[0].isdigit() or not parts[1]:
            return 404, {}, {"message": "Unknown Webhook", "code": 10015}
        with self._lock:
            self.attempts += 1
            failures = self._failures
            if failures.remaining > 0:
                failures.remaining -= 1
                failures.answered.append(failures.status)
                if failures.status == 429:
                    wait = failures.retry_after
                    body_429 = {"message": "You are being rate limited.", "retry_after": wait, "global": False}
                    return 429, {"Retry-After": f"{wait:g}"}, body_429
                return failures.status, {}, {"message": "sink told to fail", "code": 0}
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return 400, {}, {"message": "Cannot send an empty message", "code": 50006}
        if not isinstance(payload, dict) or not (payload.get("content") or payload.get("embeds")):
            return 400, {}, {"message": "Cannot send an empty message", "code": 50006}
        with self._lock:
            self._deliveries.append(Delivery(parts[0], payload, time.time()))
        return 204, {}, None

    def listing(self) -> list[dict[str, Any]]:
        return [asdict(d) for d in self.deliveries()]


class _Handler(BaseHTTPRequestHandler):
    receiver: ClassVar[DiscordSink]
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self._reply(413, {}, {"message": "Request entity too large"})
            return
        body = self.rfile.read(length) if length else b""
        self._reply(*self.receiver.receive(self.path, body))

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] in {"/", "/messages"}:
            self._reply(200, {}, self.receiver.listing())
        else:
            self._reply(404, {}, {"message": "404: Not Found", "code": 0})

    def _reply(self, status: int, headers: dict[str, str], body: Any) -> None:
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and ``make dev`` read the deliveries instead."""
