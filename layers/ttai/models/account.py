"""The signed-in user as the API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from ttai.models.base import Output
from ttai.models.positions import BrokerSyncResult
from ttai.models.times import StoredInstant

Channel = Literal["discord", "email", "push"]


class Preferences(Output):
    default_strategy: str
    morning_alert: bool
    eod_summary: bool
    notification_channels: list[Channel]
    discord_webhook_url: str | None = Field(
        default=None, description="the Discord webhook notifications post to, its secret token masked"
    )


class Profile(Output):
    id: str
    email: str | None
    name: str | None
    created_at: StoredInstant
    preferences: Preferences | None


class SignInResult(Output):
    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the token type, not a credential
    expires_at: AwareDatetime
    user: dict[str, str | None]
    positions: BrokerSyncResult | None = Field(
        default=None,
        description="the positions synced from TastyTrade right after signing in; none if that sync failed "
        "(signing in still succeeds: retry with POST /api/v1/positions/sync)",
    )
