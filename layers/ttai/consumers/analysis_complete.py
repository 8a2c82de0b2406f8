"""analysis_complete: the user is told on every channel their preferences name (seed 000's handleAnalysisComplete);
an analysis workflow of several symbols is one message, so one notification per channel."""

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
        message,
        channels=channels,
        title=f"Analysis Complete: {_subject(message)}",
        body=f"Recommendation: {message.recommendation}",
        data={
            "symbol": message.symbol,
            "workflowId": message.workflow_id,
            **({"symbols": message.symbols} if message.symbols else {}),
        },
    )
    return {"notifications": len(sent)}


def _subject(message: AnalysisComplete) -> str:
    symbols = message.symbols or [message.symbol]
    return symbols[0] if len(symbols) == 1 else f"{len(symbols)} symbols"
