"""One run of a saved screener, in the stages a queue task and a workflow both go through: load the screener,
evaluate its criteria, store the run once per run key, announce it as screener_complete.

The run key (a task's message id, a workflow's instance id) is unique in screener_results, so a stage repeated
after a later one failed finds the stored run instead of storing a second; the announcement's id derives from the
key, so a repeated one is dropped by the consumer's idempotency. screener_complete goes to ANALYSIS_QUEUE, the queue
of results the system produced (analysis_complete, alert_triggered); TASK_QUEUE is for work someone asked for.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

from ttai.consumers.fanout import derived_id
from ttai.env import Env
from ttai.messages import ScreenerComplete
from ttai.observability import PowertoolsCacheMetrics
from ttai.services.cache import CacheService
from ttai.services.market import MarketDataService
from ttai.services.screeners.evaluation import ScreenerEvaluator, parse_criteria

RUN_KEY_MAX = 64  # screener_results.message_id
# The screener, and the run an earlier attempt with this key stored (if any).
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


class LoadedScreener(NamedTuple):
    criteria: Any  # as stored: the run keeps a snapshot of them
    run_id: int | None  # the run this key already stored, if any
    candidates_found: int | None


class StoredRun(NamedTuple):
    run_id: int
    candidates_found: int


def run_key(key: str) -> str:
    """``key`` itself when it fits screener_results.message_id, else a digest of it."""
    return key if len(key) <= RUN_KEY_MAX else hashlib.sha256(key.encode()).hexdigest()


@cache
def _market(env: Env) -> MarketDataService:
    return MarketDataService(CacheService(env.KV, metrics=PowertoolsCacheMetrics()))


def load(env: Env, user_id: str, screener_id: int, key: str) -> LoadedScreener | None:
    """The user's screener and any run stored under ``key``; None if the screener is gone."""
    row = env.DB.prepare(_LOAD).bind(user_id, screener_id, run_key(key)).first()
    if row is None:
        return None
    return LoadedScreener(row["criteria"], row["run_id"], row["candidates_found"])


def evaluate(env: Env, user_id: str, criteria: Any) -> list[dict[str, Any]]:
    """The matches of the stored criteria; InvalidField if they cannot be evaluated (no retry will change that)."""
    return ScreenerEvaluator(env.DB, _market(env)).evaluate(user_id, parse_criteria(criteria))


def store(
    env: Env, user_id: str, screener_id: int, criteria: Any, results: list[dict[str, Any]], key: str
) -> StoredRun:
    """The run stored under ``key``, or the one an earlier attempt stored there."""
    stored = (
        env.DB.prepare(_STORE)
        .bind(user_id, screener_id, criteria, results, len(results), run_key(key), datetime.now(UTC))
        .first()
    )
    assert stored is not None  # inserted now, or found from an earlier attempt
    return StoredRun(int(stored["id"]), int(stored["candidates_found"]))


def announce(env: Env, user_id: str, screener_id: int, found: int, key: str) -> str:
    complete = ScreenerComplete(
        id=derived_id(run_key(key), "complete"), user_id=user_id, screener_id=screener_id, result_count=found
    )
    env.ANALYSIS_QUEUE.send(complete.to_wire())
    return complete.id
