"""Turning an event into notification messages, one per channel, with ids derived from the event's.

A derived id is a pure function of the event's id and the channel, so an event handled twice (a retry after a
later step failed) sends notifications with the same ids, and the notification consumer's idempotency drops the
second copy: the user is told once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ttai.bindings.queues import MessageSendRequest
from ttai.env import Env
from ttai.messages import Channel, Notification

ID_MAX_LENGTH = 64
CHANNELS: tuple[Channel, ...] = ("discord", "email", "push")


def derived_id(parent: str, suffix: str) -> str:
    """``parent:suffix``, or a digest of it when that would pass the 64 characters a message id may have."""
    plain = f"{parent}:{suffix}"
    if len(plain) <= ID_MAX_LENGTH:
        return plain
    digest = hashlib.sha256(plain.encode()).hexdigest()[: ID_MAX_LENGTH - len(suffix) - 1]
    return f"{digest}:{suffix}"


def known_channels(channels: Iterable[Any]) -> list[Channel]:
    """The channels we can deliver on, once each, in the order given (stored lists are checked by the schema,
    but a channel this code does not know must not make the whole fan-out fail)."""
    found: list[Channel] = []
    for value in channels:
        found += [c for c in CHANNELS if c == value and c not in found]
    return found


class UserEvent(Protocol):
    """A message about one user: its id (the notifications' ids derive from it) and the user to tell."""

    @property
    def id(self) -> str: ...

    @property
    def user_id(self) -> str: ...


def fan_out(
    env: Env,
    event: UserEvent,
    *,
    channels: Iterable[Any],
    title: str,
    body: str,
    data: Mapping[str, Any] | None = None,
) -> list[str]:
    """Tell ``event``'s user: one Notification per channel, sent to NOTIFICATION_QUEUE in one send_batch; returns
    their message ids."""
    notifications = [
        Notification(
            id=derived_id(event.id, channel),
            user_id=event.user_id,
            channel=channel,
            title=title,
            body=body,
            data=dict(data) if data else None,
        )
        for channel in known_channels(channels)
    ]
    if notifications:
        env.NOTIFICATION_QUEUE.send_batch([MessageSendRequest(n.to_wire()) for n in notifications])
    return [n.id for n in notifications]
