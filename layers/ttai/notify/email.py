"""Email through SES: one plain-text message from the stack's verified sender to the user's address."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ttai.notify import PermanentDeliveryError, TransientDeliveryError

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
        """Send one email; returns SES's message id."""
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
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in PERMANENT_CODES:
                raise PermanentDeliveryError(f"SES refused the email: {code}") from exc
            raise TransientDeliveryError(f"SES failed: {code or type(exc).__name__}") from exc
        return str(response["MessageId"])
