"""A user's preferences as the API takes them; the schema's enumerations, checked at the edge."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool

from ttai.models.account import Channel, Preferences
from ttai.models.base import Strict
from ttai.models.text import UrlText
from ttai.notify.webhooks import WEBHOOK_URL_MAX_LENGTH, is_masked

Strategy = Literal["csp", "covered_call", "wheel", "put_credit_spread", "call_credit_spread", "iron_condor"]

# The column defaults of user_preferences: what a user who never saved preferences gets.
DEFAULT_PREFERENCES = Preferences(
    default_strategy="csp", morning_alert=False, eod_summary=False, notification_channels=[]
)


def _unique(channels: list[Channel]) -> list[Channel]:
    return list(dict.fromkeys(channels))  # first occurrence wins, order kept


class PreferencesIn(Strict):
    """A full replacement: every field is required, so a forgotten one is a 422 rather than a silent reset.

    Except the Discord webhook, a credential the API shows only masked: left out, or sent back in the masked form
    a GET returned, it stays as stored; ``null`` removes it; a new URL replaces it (checked by the service, which
    knows whether the local sink's address is allowed).
    """

    default_strategy: Strategy
    morning_alert: StrictBool
    eod_summary: StrictBool
    notification_channels: Annotated[list[Channel], Field(max_length=20), AfterValidator(_unique)]
    discord_webhook_url: Annotated[UrlText, Field(max_length=WEBHOOK_URL_MAX_LENGTH)] | None = None

    def webhook_change(self) -> tuple[bool, str | None]:
        """(whether the stored webhook changes, the new value): unchanged when left out or sent back masked."""
        if "discord_webhook_url" not in self.model_fields_set:
            return False, None
        url = self.discord_webhook_url
        if url is not None and is_masked(url):
            return False, None
        return True, url
