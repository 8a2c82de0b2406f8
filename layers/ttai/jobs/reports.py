"""Report snapshots as HTML: every value escaped, so a symbol or a reason holding markup shows as text."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from ttai.messages import Notification

NOTIFICATION_BODY_MAX = 4000


def html_report(title: str, summary: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return (
        f'<section class="report"><h2>{escape(title)}</h2><p>{escape(summary)}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>"
    )


def demo_note(symbols: Iterable[str]) -> str:
    """What a summary adds when some of its symbols were analysed on demo bars: ``; DEMO DATA for A, B``."""
    shown = ", ".join(symbols)
    return f"; DEMO DATA for {shown}" if shown else ""


def message_id(*parts: object) -> str:
    """A deterministic message id: the same run sending the same thing again (a takeover) reuses it, so the
    consumer's idempotency drops the repeat."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]


def clip(text: str, limit: int = NOTIFICATION_BODY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user_notifications(
    execution_id: int, user_id: str, channels: Iterable[str], title: str, body: str, data: dict[str, Any]
) -> list[Notification]:
    """One notification per channel the user chose, each with an id derived from the run, user and channel."""
    return [
        Notification(
            id=message_id(execution_id, user_id, channel),
            user_id=user_id,
            channel=channel,
            title=title,
            body=clip(body),
            data=data,
        )
        for channel in channels
    ]
