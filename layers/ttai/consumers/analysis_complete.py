"""analysis_complete: the user is told on every channel their preferences name (seed 000's handleAnalysisComplete)."""

from __future__ import annotations

from typing import Any

from ttai.consumers.fanout import fan_out
from ttai.env import Env
from ttai.messages import AnalysisComplete

_CHANNELS = "SELECT notification_channels FROM user_preferences WHERE user_id = ?"


def handle(env: Env, message: AnalysisComplete) -> dict[str, Any]:
    channels = env.DB.prepare(_CHANNELS).bind(message.user_id).first("notification_channels") or []
    sent = fan_out(
        env,
        parent_id=message.id,
        user_id=message.user_id,
        channels=channels,
        title=f"Analysis Complete: {message.symbol}",
        body=f"Recommendation: {message.recommendation}",
        data={"symbol": message.symbol, "workflowId": message.workflow_id},
    )
    return {"notifications": len(sent)}
