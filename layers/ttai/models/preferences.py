"""A user's preferences as the API takes them; the schema's enumerations, checked at the edge."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool

from ttai.models.account import Channel, Preferences
from ttai.models.market import Strict

Strategy = Literal["csp", "covered_call", "wheel", "put_credit_spread", "call_credit_spread", "iron_condor"]

# The column defaults of user_preferences: what a user who never saved preferences gets.
DEFAULT_PREFERENCES = Preferences(
    default_strategy="csp", morning_alert=False, eod_summary=False, notification_channels=[]
)


def _unique(channels: list[Channel]) -> list[Channel]:
    return list(dict.fromkeys(channels))  # first occurrence wins, order kept


class PreferencesIn(Strict):
    """A full replacement: every field is required, so a forgotten one is a 422 rather than a silent reset."""

    default_strategy: Strategy
    morning_alert: StrictBool
    eod_summary: StrictBool
    notification_channels: Annotated[list[Channel], Field(max_length=20), AfterValidator(_unique)]
