"""The signed-in user as the API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ttai.models.times import StoredInstant

Channel = Literal["discord", "email", "push"]


class Preferences(BaseModel):
    model_config = ConfigDict(defer_build=True)

    default_strategy: str
    morning_alert: bool
    eod_summary: bool
    notification_channels: list[Channel]
    discord_webhook_url: str | None = Field(
        default=None, description="the Discord webhook notifications post to, its secret token masked"
    )


class Profile(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    email: str | None
    name: str | None
    created_at: StoredInstant
    preferences: Preferences | None


class SignInResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the token type, not a credential
    expires_at: AwareDatetime
    user: dict[str, str | None]
