"""Channel adapters that deliver a notification: Discord webhooks (HTTPS), email (SES) and push (SNS).

Each adapter sends one message and says how it went through its errors: a ``TransientDeliveryError`` is worth
retrying (optionally not before ``retry_after`` seconds), a ``PermanentDeliveryError`` never will be. Whatever the
HTTP stack or botocore raises becomes one of the two, raised ``from None`` with a message that names the kind of
failure only: their own messages can quote a webhook URL or an address, and the consumer logs what it is given.
"""

from __future__ import annotations

from collections.abc import Set
from typing import TYPE_CHECKING

from ttai.errors import TtaiError

if TYPE_CHECKING:
    from botocore.exceptions import BotoCoreError, ClientError


class DeliveryError(TtaiError):
    """A notification could not be delivered on its channel."""


class TransientDeliveryError(DeliveryError):
    """The channel failed for now (5xx, timeout, throttling): deliver again later, after ``retry_after`` if given."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The channel refused the message for good (webhook deleted, address rejected, nowhere to send it)."""


def aws_delivery_error(error: ClientError | BotoCoreError, service: str, permanent_codes: Set[str]) -> DeliveryError:
    """What a failed SES or SNS call means for delivery: permanent for the error codes no retry changes and for a
    request botocore refuses to send (a parameter it cannot serialise), transient for the rest (throttling, 5xx,
    no connection, timeouts, missing credentials). The message names the service and the code or class only."""
    from botocore.exceptions import ClientError, ParamValidationError  # noqa: PLC0415 - only failures need them

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in permanent_codes:
            return PermanentDeliveryError(f"{service} refused the message: {code}")
        return TransientDeliveryError(f"{service} failed: {code or type(error).__name__}")
    if isinstance(error, ParamValidationError):
        return PermanentDeliveryError(f"{service} cannot be sent this request: {type(error).__name__}")
    return TransientDeliveryError(f"{service} could not be reached: {type(error).__name__}")
