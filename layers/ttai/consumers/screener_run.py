"""screener_run: evaluate a screener, store the run in screener_results, and announce it as screener_complete.

The run row carries the task's id (unique), so a retry after the announcement failed finds the stored run and
announces it again (same derived id, dropped by the consumer's idempotency if the first one got through) instead
of evaluating and storing a second time. screener_complete goes to ANALYSIS_QUEUE, the queue of results the
system produced (analysis_complete, alert_triggered); TASK_QUEUE is for work someone asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ttai.consumers.fanout import derived_id
from ttai.env import Env
from ttai.errors import InvalidField
from ttai.messages import ScreenerComplete, ScreenerRunRequested
from ttai.observability import PowertoolsCacheMetrics, logger, metrics
from ttai.services.cache import CacheService
from ttai.services.market import MarketDataService
from ttai.services.screeners.evaluation import ScreenerEvaluator, parse_criteria

# The screener, and the run an earlier delivery of this task stored (if any).
_LOAD = """
SELECT s.id, s.criteria, r.id AS run_id, r.candidates_found
FROM screeners s LEFT JOIN screener_results r ON r.message_id = ?3 AND r.user_id = ?1
WHERE s.id = ?2 AND s.user_id = ?1
"""
_STORE = """
WITH stored AS (
    INSERT INTO screener_results (user_id, screener_id, criteria, results, candidates_found, message_id, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING id, candidates_found
)
SELECT id, candidates_found FROM stored
UNION ALL
SELECT id, candidates_found FROM screener_results WHERE message_id = ?6 AND user_id = ?1
"""


@cache
def _market(env: Env) -> MarketDataService:
    return MarketDataService(CacheService(env.KV, metrics=PowertoolsCacheMetrics()))


def handle(env: Env, message: ScreenerRunRequested) -> dict[str, Any]:
    row = env.DB.prepare(_LOAD).bind(message.user_id, message.screener_id, message.id).first()
    if row is None:
        logger.info("screener deleted before it ran", extra={"screener_id": message.screener_id})
        return {"stored": False, "reason": "screener not found"}
    run_id, found = row["run_id"], row["candidates_found"]
    if run_id is None:
        try:
            criteria = parse_criteria(row["criteria"])
        except InvalidField as exc:
            # Its criteria were changed after the run was asked for: no retry will make them runnable.
            logger.warning("screener criteria cannot be evaluated", extra={"reason": str(exc)})
            metrics.add_metric(name="ScreenerRunsRefused", unit=MetricUnit.Count, value=1)
            return {"stored": False, "reason": str(exc)}
        results = ScreenerEvaluator(env.DB, _market(env)).evaluate(message.user_id, criteria)
        stored = (
            env.DB.prepare(_STORE)
            .bind(
                message.user_id,
                message.screener_id,
                row["criteria"],
                results,
                len(results),
                message.id,
                datetime.now(UTC),
            )
            .first()
        )
        assert stored is not None  # inserted now, or found from an earlier delivery
        run_id, found = stored["id"], stored["candidates_found"]
    complete = ScreenerComplete(
        id=derived_id(message.id, "complete"),
        user_id=message.user_id,
        screener_id=message.screener_id,
        result_count=found,
    )
    env.ANALYSIS_QUEUE.send(complete.to_wire())
    return {"stored": True, "run_id": run_id, "candidates_found": found}
