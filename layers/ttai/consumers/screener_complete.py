"""screener_complete: the user is told how many candidates a screener run found."""

from __future__ import annotations

from typing import Any

from ttai.consumers.fanout import fan_out
from ttai.env import Env
from ttai.messages import ScreenerComplete
from ttai.observability import logger

# The screener's own channels, else the user's preferred ones. The screener may have been deleted since it ran.
_SCREENER = """
SELECT s.name,
       CASE WHEN jsonb_array_length(s.notify_channels) > 0 THEN s.notify_channels
            ELSE coalesce(p.notification_channels, '[]'::jsonb) END AS channels
FROM screeners s LEFT JOIN user_preferences p ON p.user_id = s.user_id
WHERE s.id = ?2 AND s.user_id = ?1
"""


def handle(env: Env, message: ScreenerComplete) -> dict[str, Any]:
    row = env.DB.prepare(_SCREENER).bind(message.user_id, message.screener_id).first()
    if row is None:
        logger.info("screener no longer exists: nobody to tell", extra={"screener_id": message.screener_id})
        return {"notifications": 0}
    found = message.result_count
    sent = fan_out(
        env,
        message,
        channels=row["channels"],
        title=f"Screener Complete: {row['name']}",
        body=f"{found} candidate{'' if found == 1 else 's'} found",
        data={"screener": row["name"], "screenerId": message.screener_id, "resultCount": found},
    )
    return {"notifications": len(sent)}
