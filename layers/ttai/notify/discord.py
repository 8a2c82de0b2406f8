"""Discord webhooks: a notification posted as an execute-webhook request over HTTPS.

The URL is checked again before every post (only Discord's hosts, see ``webhooks``), redirects are not followed,
and neither logs nor errors carry the URL: it is a credential.
"""

from __future__ import annotations

import http.client
import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import Message as HeaderMap
from typing import Any

from ttai.notify import PermanentDeliveryError, TransientDeliveryError
from ttai.notify.webhooks import parse_webhook_url

TIMEOUT_SECONDS = 5.0
# Discord's own limits on a message.
CONTENT_MAX = 2000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
# Discord's edge refuses Python's default User-Agent (Python-urllib/3.x); any product name of our own passes.
USER_AGENT = "ttai-notifier/1.0"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def webhook_payload(title: str, body: str, data: Mapping[str, Any] | None, *, now: datetime) -> dict[str, Any]:
    """Discord's execute-webhook body: the title as content, the message as an embed, mentions disabled (a body
    that says @everyone must not ping a whole server)."""
    embed: dict[str, Any] = {
        "title": _clip(title, EMBED_TITLE_MAX),
        "description": _clip(body, EMBED_DESCRIPTION_MAX),
        "timestamp": now.astimezone(UTC).isoformat(),
    }
    fields = [
        {"name": _clip(str(key), FIELD_NAME_MAX), "value": _clip(_field_text(value), FIELD_VALUE_MAX), "inline": True}
        for key, value in list((data or {}).items())[:EMBED_FIELDS_MAX]
    ]
    if fields:
        embed["fields"] = fields
    return {"content": _clip(title, CONTENT_MAX), "embeds": [embed], "allowed_mentions": {"parse": []}}


def _field_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text or "-"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook answers where it is; a redirect would send the message (and its URL) somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def retry_after_seconds(headers: HeaderMap | Mapping[str, str], body: bytes) -> float | None:
    """Seconds to wait from a 429: the Retry-After header, else Discord's JSON ``retry_after``."""
    candidates: list[Any] = [headers.get("Retry-After")]
    try:
        document = json.loads(body or b"null")
    except ValueError:
        document = None
    if isinstance(document, dict):
        candidates.append(document.get("retry_after"))
    for candidate in candidates:
        try:
            seconds = float(candidate)
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


class DiscordWebhook:
    """Posts messages to Discord webhooks; raises Transient/PermanentDeliveryError, never says the URL."""

    def __init__(self, *, allow_loopback: bool, timeout: float = TIMEOUT_SECONDS) -> None:
        self.allow_loopback = allow_loopback
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)

    def send(self, url: str, title: str, body: str, data: Mapping[str, Any] | None = None) -> int:
        """Post one message; returns Discord's status (2xx).

        Every failure is a Transient/PermanentDeliveryError whose message names the kind of failure only, raised
        ``from None``: what urllib, http.client and ssl raise can quote the URL (``InvalidURL`` does), and a
        chained cause would carry it into the traceback the consumer logs.
        """
        try:
            parse_webhook_url(url, allow_loopback=self.allow_loopback)
        except ValueError as exc:  # a row stored before the URL was checked as it is kept: no retry can fix it
            raise PermanentDeliveryError(f"stored Discord webhook URL is not valid: {exc}") from None
        payload = json.dumps(webhook_payload(title, body, data, now=datetime.now(UTC))).encode()
        try:
            return self._post(url, payload)
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, _read_quietly(exc)
            if status == 429:
                raise TransientDeliveryError(
                    "Discord rate-limited the webhook", retry_after=retry_after_seconds(exc.headers, answer)
                ) from None
            if status >= 500:
                raise TransientDeliveryError(f"Discord answered {status}") from None
            raise PermanentDeliveryError(f"Discord refused the message with {status}") from None
        except urllib.error.URLError as exc:  # no connection: DNS, refused, reset, TLS; the reason says which
            reason = exc.reason if isinstance(exc.reason, BaseException) else exc
            raise TransientDeliveryError(f"Discord could not be reached: {type(reason).__name__}") from None
        except http.client.InvalidURL:  # a control character in the host or path: it quotes the URL
            raise PermanentDeliveryError("the Discord webhook URL cannot be requested") from None
        except (OSError, http.client.HTTPException) as exc:  # the connection broke mid-answer, or timed out
            raise TransientDeliveryError(f"Discord could not be reached: {type(exc).__name__}") from None
        except ValueError as exc:  # a URL or header http.client refuses to send (control or non-ASCII characters)
            raise PermanentDeliveryError(f"the Discord request cannot be sent: {type(exc).__name__}") from None

    def _post(self, url: str, payload: bytes) -> int:
        request = urllib.request.Request(  # noqa: S310 - the scheme and host were checked by parse_webhook_url
            url,
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        with self._opener.open(request, timeout=self.timeout) as response:
            return int(response.status)


def _read_quietly(error: urllib.error.HTTPError) -> bytes:
    """The body of an error answer, or nothing if the connection broke while it was read."""
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""
