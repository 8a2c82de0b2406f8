"""A user's preferences (seed 000's user_preferences): the column defaults until the first save, replaced whole.

The Discord webhook URL is the exception: stored as given, returned masked, kept when a save leaves it out.
"""

from __future__ import annotations

from typing import Any

from ttai.bindings.d1 import D1Database
from ttai.errors import InvalidField
from ttai.models.account import Preferences
from ttai.models.preferences import DEFAULT_PREFERENCES, PreferencesIn
from ttai.notify.webhooks import mask_webhook_url, parse_webhook_url
from ttai.services.tenancy import Tenant, TenantRepository, audited

_COLUMNS = "default_strategy, morning_alert, eod_summary, notification_channels, discord_webhook_url"
_GET = f"SELECT {_COLUMNS} FROM user_preferences WHERE user_id = ?1"  # noqa: S608 - a column list constant
# ?7 says whether the webhook changes: when it does not, an existing row keeps its URL (a new row gets NULL, ?8).
_PUT = audited(
    f"""INSERT INTO user_preferences (user_id, {_COLUMNS}) VALUES (?1, ?3, ?4, ?5, ?6, ?8)
    ON CONFLICT (user_id) DO UPDATE SET default_strategy = EXCLUDED.default_strategy,
        morning_alert = EXCLUDED.morning_alert, eod_summary = EXCLUDED.eod_summary,
        notification_channels = EXCLUDED.notification_channels,
        discord_webhook_url = CASE WHEN ?7 THEN EXCLUDED.discord_webhook_url
                                   ELSE user_preferences.discord_webhook_url END
    RETURNING user_id AS id, {_COLUMNS}""",  # noqa: S608
    action="preferences.put",
    entity="preferences",
)


def preferences_from_row(row: dict[str, Any]) -> Preferences:
    """The API's view of a user_preferences row: the webhook masked, never whole."""
    url = row.get("discord_webhook_url")
    return Preferences(
        default_strategy=row["default_strategy"],
        morning_alert=row["morning_alert"],
        eod_summary=row["eod_summary"],
        notification_channels=row["notification_channels"],
        discord_webhook_url=mask_webhook_url(url) if url else None,
    )


class PreferencesRepository(TenantRepository):
    def __init__(self, db: D1Database, tenant: Tenant, *, allow_loopback_webhooks: bool = False) -> None:
        """``allow_loopback_webhooks``: accept the local Discord sink's http://127.0.0.1 URL (local stack only)."""
        super().__init__(db, tenant)
        self.allow_loopback_webhooks = allow_loopback_webhooks

    def get(self) -> Preferences:
        row = self.db.prepare(_GET).bind(self.user_id).first()
        if row is None:
            return DEFAULT_PREFERENCES.model_copy(deep=True)  # a copy: the constant is shared by every request
        return preferences_from_row(row)

    def put(self, body: PreferencesIn) -> Preferences:
        changes, webhook = body.webhook_change()
        if webhook is not None:
            try:
                parse_webhook_url(webhook, allow_loopback=self.allow_loopback_webhooks)
            except ValueError as exc:
                raise InvalidField("body.discord_webhook_url", str(exc)) from exc
        row = self.audited_statement(
            _PUT,
            body.default_strategy,
            body.morning_alert,
            body.eod_summary,
            body.notification_channels,
            changes,
            webhook,
        ).first()
        assert row is not None  # an upsert always returns its row
        return preferences_from_row(row)
