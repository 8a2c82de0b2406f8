"""alert_triggered: the alert marked triggered, an alert_events row, and a notification on the alert's channels.

One statement does the writes, so they commit together: the UPDATE only moves an alert that is still active
(a cancelled or already-fired one stays as it is), and the event is keyed by the message id, so a retry after a
failed send writes nothing new yet still finds the event it wrote and sends the (same-id) notifications again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ttai.consumers.fanout import fan_out
from ttai.env import Env
from ttai.messages import AlertTriggered
from ttai.observability import logger

# ?1 user, ?2 alert id, ?3 message id, ?4 current value, ?5 details, ?6 now. The event's channels are the alert's
# own, or the user's preferred ones when the alert names none. The last SELECT reads the table as it was before this
# statement, so it finds the event only when an earlier delivery of this message wrote it.
_TRIGGER = """
WITH fired AS (
    UPDATE alerts SET status = 'triggered', triggered_at = ?6
    WHERE id = ?2 AND user_id = ?1 AND status = 'active'
    RETURNING id, symbol, alert_type, condition, threshold, message_template,
        CASE WHEN jsonb_array_length(channels) > 0 THEN channels
             ELSE coalesce((SELECT notification_channels FROM user_preferences WHERE user_id = ?1), '[]'::jsonb)
        END AS channels
), event AS (
    INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message, current_value, details,
                              channels_notified, message_id, triggered_at)
    SELECT ?1, id, symbol, alert_type,
           coalesce(message_template, concat_ws(' ', symbol, alert_type, condition, threshold::text)),
           ?4, ?5, channels, ?3, ?6
    FROM fired
    ON CONFLICT (message_id) DO NOTHING
    RETURNING id, alert_id, message, channels_notified
), audit AS (
    INSERT INTO audit_events (user_id, actor, action, entity, entity_id, request_id)
    SELECT ?1, 'service:consumer', 'alert.trigger', 'alert', alert_id::text, ?3 FROM event
)
SELECT id, message, channels_notified, true AS fired_now FROM event
UNION ALL
SELECT id, message, channels_notified, false FROM alert_events WHERE message_id = ?3 AND user_id = ?1
"""


def handle(env: Env, message: AlertTriggered) -> dict[str, Any]:
    details = {"condition": message.condition, "current_value": message.current_value, "message_id": message.id}
    row = (
        env.DB.prepare(_TRIGGER)
        .bind(message.user_id, message.alert_id, message.id, message.current_value, details, datetime.now(UTC))
        .first()
    )
    if row is None:
        # Not this user's alert, deleted, cancelled, or fired by another message: nothing to record or tell.
        logger.info("alert not active: nothing triggered", extra={"alert_id": message.alert_id})
        return {"triggered": False, "notifications": 0}
    sent = fan_out(
        env,
        message,
        channels=row["channels_notified"],
        title=f"Alert: {message.symbol} {message.condition}",
        body=f"{row['message']} (now {message.current_value:g})",
        data={"symbol": message.symbol, "alertId": message.alert_id, "currentValue": message.current_value},
    )
    return {"triggered": True, "event_id": row["id"], "notifications": len(sent)}
