"""Seed 000's pub/sub channels and who may subscribe to each.

- ``quotes:{SYMBOL}``: every quote ingested for the symbol (any signed-in user; the symbol in its canonical form);
- ``user:{id}``: that user's alerts, analyses, screener results, job runs and portfolio marks (its owner only);
- ``jobs``: every scheduled or requested job run (any signed-in user).

Anything else is refused with an error frame naming why, never subscribed.
"""

from __future__ import annotations

from typing import NamedTuple

from ttai.models.market import normalize_symbol

QUOTES_PREFIX = "quotes:"
USER_PREFIX = "user:"
JOBS = "jobs"
MAX_CHANNEL_CHARACTERS = 160


class Refusal(NamedTuple):
    """Why a channel cannot be subscribed: ``code`` for programs, ``message`` for people."""

    channel: str
    code: str
    message: str


def quotes_channel(symbol: str) -> str:
    return f"{QUOTES_PREFIX}{symbol}"


def user_channel(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


def resolve(channel: object, user_id: str) -> str | Refusal:
    """The channel as it is published (a symbol made canonical), or why ``user_id`` may not subscribe to it."""
    if not isinstance(channel, str) or not channel or len(channel) > MAX_CHANNEL_CHARACTERS:
        shown = channel if isinstance(channel, str) else repr(channel)
        return Refusal(shown[:MAX_CHANNEL_CHARACTERS], "unknown_channel", "a channel is a non-empty name")
    if channel == JOBS:
        return channel
    if channel.startswith(QUOTES_PREFIX):
        return _quotes(channel)
    if not channel.startswith(USER_PREFIX):
        return Refusal(channel, "unknown_channel", "channels are quotes:{SYMBOL}, user:{your id} and jobs")
    if channel.removeprefix(USER_PREFIX) != user_id:
        return Refusal(channel, "forbidden", "only its owner may subscribe to a user channel")
    return channel


def _quotes(channel: str) -> str | Refusal:
    try:
        return quotes_channel(normalize_symbol(channel.removeprefix(QUOTES_PREFIX)))
    except ValueError as exc:
        return Refusal(channel, "unknown_channel", str(exc))
