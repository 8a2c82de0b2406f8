"""The signed-in user's own record: profile and preferences in one read."""

from __future__ import annotations

from ttai.bindings.d1 import D1Database
from ttai.errors import NotFound
from ttai.models.account import Profile
from ttai.services.preferences import preferences_from_row

_PROFILE = """
SELECT u.id, u.email, u.name, u.created_at,
       p.default_strategy, p.morning_alert, p.eod_summary, p.notification_channels, p.discord_webhook_url
FROM users u LEFT JOIN user_preferences p ON p.user_id = u.id
WHERE u.id = ?
"""


class AccountService:
    def __init__(self, db: D1Database, user_id: str) -> None:
        self._db = db
        self.user_id = user_id

    def profile(self) -> Profile:
        row = self._db.prepare(_PROFILE).bind(self.user_id).first()
        if row is None:
            raise NotFound("no such user")
        preferences = None
        if row["default_strategy"] is not None:
            preferences = preferences_from_row(row)
        return Profile(
            id=row["id"], email=row["email"], name=row["name"], created_at=row["created_at"], preferences=preferences
        )
