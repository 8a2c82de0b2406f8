"""Channel adapters that deliver a notification: Discord webhooks (HTTPS), email (SES) and push (SNS).

Each adapter sends one message and says how it went through its errors: a ``TransientDeliveryError`` is worth
retrying (optionally not before ``retry_after`` seconds), a ``PermanentDeliveryError`` never will be.
"""

from __future__ import annotations

from ttai.errors import TtaiError


class DeliveryError(TtaiError):
    """A notification could not be delivered on its channel."""


class TransientDeliveryError(DeliveryError):
    """The channel failed for now (5xx, timeout, throttling): deliver again later, after ``retry_after`` if given."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The channel refused the message for good (webhook deleted, address rejected, nowhere to send it)."""
