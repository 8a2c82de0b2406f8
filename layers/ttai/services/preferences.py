"""A user's preferences (seed 000's user_preferences): the column defaults until the first save, replaced whole."""

from __future__ import annotations

from ttai.models.account import Preferences
from ttai.models.preferences import DEFAULT_PREFERENCES, PreferencesIn
from ttai.services.tenancy import TenantRepository, audited

_COLUMNS = "default_strategy, morning_alert, eod_summary, notification_channels"
_GET = f"SELECT {_COLUMNS} FROM user_preferences WHERE user_id = ?1"  # noqa: S608 - a column list constant
_PUT = audited(
    f"""INSERT INTO user_preferences (user_id, {_COLUMNS}) VALUES (?1, ?3, ?4, ?5, ?6)
    ON CONFLICT (user_id) DO UPDATE SET default_strategy = EXCLUDED.default_strategy,
        morning_alert = EXCLUDED.morning_alert, eod_summary = EXCLUDED.eod_summary,
        notification_channels = EXCLUDED.notification_channels
    RETURNING user_id AS id, {_COLUMNS}""",  # noqa: S608
    action="preferences.put",
    entity="preferences",
)


class PreferencesRepository(TenantRepository):
    def get(self) -> Preferences:
        row = self.db.prepare(_GET).bind(self.user_id).first()
        if row is None:
            return DEFAULT_PREFERENCES.model_copy(deep=True)  # a copy: the constant is shared by every request
        return Preferences.model_validate(row)

    def put(self, body: PreferencesIn) -> Preferences:
        row = (
            self.db.prepare(_PUT)
            .bind(
                self.user_id,
                self.tenant.request_id,
                body.default_strategy,
                body.morning_alert,
                body.eod_summary,
                body.notification_channels,
            )
            .first()
        )
        assert row is not None  # an upsert always returns its row
        return Preferences.model_validate({k: v for k, v in row.items() if k != "id"})
