"""A user's alerts (seed 000's table) and the events they fired (seed 001's alert_history), newest first."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ttai.cursors import INSTANT, ROW_ID, CursorKind, Page, Row
from ttai.errors import Conflict, NotFound
from ttai.models.alerts import Alert, AlertEvent, AlertIn, AlertStatusFilter
from ttai.services.tenancy import TenantRepository, audited, ids_from_user_index

ALERTS = CursorKind("alerts", (ROW_ID,), ("id",))  # newest first by id, per status filter
ALERT_EVENTS = CursorKind("alert_events", (INSTANT, ROW_ID), ("triggered_at", "id"))  # newest first, per alert
_COLUMNS = (
    "id, symbol, alert_type, condition, threshold, message_template, channels, status, triggered_at, cancelled_at, "
    "created_at, updated_at"
)
# The page's ids from alerts_user_status, or alerts_user_recent for 'all'.
_LIST = ids_from_user_index(
    "alerts", _COLUMNS, "(?2::text = 'all' OR status = ?2) AND (?3::bigint IS NULL OR id < ?3)", "id DESC"
)
_CREATE = audited(
    f"""INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold, message_template, channels,
        created_at, updated_at)
    VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
    RETURNING {_COLUMNS}""",  # noqa: S608
    action="alert.create",
    entity="alert",
)
# Only an active alert can be cancelled; the guard in the WHERE clause makes a concurrent trigger win cleanly.
_CANCEL = audited(
    f"""UPDATE alerts SET status = 'cancelled', cancelled_at = ?4
    WHERE user_id = ?1 AND id = ?3 AND status = 'active'
    RETURNING {_COLUMNS}""",  # noqa: S608
    action="alert.cancel",
    entity="alert",
)
_STATUS = "SELECT status FROM alerts WHERE user_id = ?1 AND id = ?2"
# One round trip for "is it yours" and the page: no row means not the caller's alert, a row with a NULL event id
# means an alert with no (more) events. The cursor is tested on its id, for the reason given in analyses.py.
_EVENTS = """
SELECT e.id, a.id AS alert_id, e.symbol, e.alert_type, e.message, e.current_value, e.details,
       e.channels_notified, e.triggered_at
FROM alerts a
LEFT JOIN LATERAL (
    SELECT * FROM alert_events
    WHERE user_id = ?1 AND alert_id = a.id
      AND (?4::bigint IS NULL OR (triggered_at, id) < (?3::timestamptz, ?4::bigint))
    ORDER BY triggered_at DESC, id DESC LIMIT ?5
) e ON true
WHERE a.user_id = ?1 AND a.id = ?2
"""


class AlertNotActive(Conflict):
    """The alert exists for this caller but has already fired or been cancelled."""


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)


class AlertRepository(TenantRepository):
    def list(self, status: AlertStatusFilter, limit: int, cursor: str | None) -> Page[Alert]:
        def fetch(after: tuple[Any, ...], count: int) -> Sequence[Row]:
            return self.db.prepare(_LIST).bind(self.user_id, status, *after, count).all().results

        return self.page(ALERTS, cursor, limit, fetch, Alert.model_validate, filters=(status,))

    def create(self, body: AlertIn) -> Alert:
        row = self.audited_statement(
            _CREATE,
            body.symbol,
            body.alert_type,
            body.condition,
            body.threshold,
            body.message_template,
            list(body.channels),
            _now(),
        ).first()
        assert row is not None  # an INSERT ... RETURNING always returns its row
        return Alert.model_validate(row)

    def cancel(self, alert_id: int) -> Alert:
        row = self.audited_statement(_CANCEL, alert_id, _now()).first()
        if row is not None:
            return Alert.model_validate(row)
        # Nothing changed: either not the caller's alert, or no longer active. Only this failure path pays a read.
        status = self.db.prepare(_STATUS).bind(self.user_id, alert_id).first("status")
        if status is None:
            raise NotFound(f"no alert with id {alert_id}")
        raise AlertNotActive(f"alert {alert_id} is already {status}; only an active alert can be cancelled")

    def events(self, alert_id: int, limit: int, cursor: str | None) -> Page[AlertEvent]:
        """What the alert fired, newest first; NotFound if the caller has no alert by that id."""

        def fetch(after: tuple[Any, ...], count: int) -> Sequence[Row]:
            rows = self.db.prepare(_EVENTS).bind(self.user_id, alert_id, *after, count).all().results
            if not rows:
                raise NotFound(f"no alert with id {alert_id}")
            return [r for r in rows if r["id"] is not None]

        return self.page(ALERT_EVENTS, cursor, limit, fetch, AlertEvent.model_validate, filters=(alert_id,))
