"""screener_run: evaluate a screener, store the run in screener_results, and announce it as screener_complete.

The stages are those of ``ttai.services.screeners.runs``, keyed by the task's id: a retry after the announcement failed
finds the stored run and announces it again (same derived id, dropped by the consumer's idempotency if the first
one got through) instead of evaluating and storing a second time.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ttai.env import Env
from ttai.errors import InvalidField
from ttai.messages import ScreenerRunRequested
from ttai.observability import logger, metrics
from ttai.services.screeners import runs as screener_runs


def handle(env: Env, message: ScreenerRunRequested) -> dict[str, Any]:
    loaded = screener_runs.load(env, message.user_id, message.screener_id, message.id)
    if loaded is None:
        logger.info("screener deleted before it ran", extra={"screener_id": message.screener_id})
        return {"stored": False, "reason": "screener not found"}
    run_id, found = loaded.run_id, loaded.candidates_found
    if run_id is None:
        try:
            results = screener_runs.evaluate(env, message.user_id, loaded.criteria)
        except InvalidField as exc:
            # Its criteria were changed after the run was asked for: no retry will make them runnable.
            logger.warning("screener criteria cannot be evaluated", extra={"reason": str(exc)})
            metrics.add_metric(name="ScreenerRunsRefused", unit=MetricUnit.Count, value=1)
            return {"stored": False, "reason": str(exc)}
        run_id, found = screener_runs.store(
            env, message.user_id, message.screener_id, loaded.criteria, results, message.id
        )
    assert found is not None  # stored now, or found with the run an earlier delivery stored
    screener_runs.announce(env, message.user_id, message.screener_id, found, message.id)
    return {"stored": True, "run_id": run_id, "candidates_found": found}
