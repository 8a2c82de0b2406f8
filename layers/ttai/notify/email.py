"""Email through SES: one plain-text message from the stack's verified sender to the user's address."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ttai.models.text import check_email_address
from ttai.notify import PermanentDeliveryError, aws_delivery_error

SUBJECT_MAX = 200
# SES's answers that no retry can change: the message or an address refused, the sender not (or no longer) verified.
PERMANENT_CODES = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "ConfigurationSetDoesNotExistException",
        "InvalidParameterValue",
    }
)


class EmailSender:
    def __init__(self, ses: Any, sender: str) -> None:
        self._ses = ses
        self.sender = sender

    def send(self, to: str, subject: str, text: str) -> str:
        """Send one email; returns SES's message id.

        An address stored before addresses were checked as they are kept is refused here, without a call: SES would
        refuse it too, or (with a line break in it) the request could not even be made.
        """
        try:
            check_email_address(to)
        except ValueError as exc:
            raise PermanentDeliveryError(f"the stored email address is not usable: {exc}") from None
        subject = " ".join(subject.split())  # no header folding from a title with line breaks
        try:
            response = self._ses.send_email(
                Source=self.sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": subject[:SUBJECT_MAX], "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise aws_delivery_error(exc, "SES", PERMANENT_CODES) from None
        return str(response["MessageId"])
