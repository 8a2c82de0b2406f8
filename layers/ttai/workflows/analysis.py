"""AnalysisWorkflow: a user's analysis of a list of symbols, one symbol at a time, each stage a checkpointed step.

Per symbol: a step reads its recent daily bars and computes the indicators (``ttai.jobs.analysis``: the same call
the scheduled job makes), and a step stores the analysis in the user's analyses (``workflow_id`` = the instance id)
and caches it as their latest. Then one step announces the whole run as one ``analysis_complete``, so the user is
told once. A symbol whose bars cannot be read after the step's retries, or that has too few of them, is reported in
the output with why; the other symbols complete. A completed step is never run again: a later failure, a retry or
a new invocation replays its checkpointed result.

Params: ``{"user": "<user id>", "symbols": ["AAPL", ...]}`` (1 to 500 symbols). Output: ``{"market_date",
"analyses": [{"symbol", "analysis_id", "recommendation", "direction", "sentiment", "confidence"}], "failed":
{symbol: reason}, "announced": message id}``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ttai.bindings.workflows import WorkflowEntrypoint, WorkflowEvent, WorkflowStep, WorkflowStepError
from ttai.env import Env
from ttai.jobs.analysis import LOOKBACK_BARS, call_text, symbol_result
from ttai.jobs.calendar import market_date
from ttai.jobs.data import recent_closes
from ttai.jobs.reports import clip, message_id
from ttai.messages import ANALYSIS_SYMBOLS_MAX, RECOMMENDATION_MAX, AnalysisComplete, UserId
from ttai.models.analyses import AnalysisIn, Recommendation, WorkflowId
from ttai.models.jobs import AnalysisResultIn
from ttai.models.market import Symbol
from ttai.services.analyses import AnalysisRepository
from ttai.services.cache import CacheService
from ttai.services.tenancy import Tenant
from ttai.workflows.base import IO_STEP, InvalidParams, parse_params

ANALYSIS_TYPE = "chart"  # what the indicators are, among the analyses table's types
RECOMMENDATIONS: dict[str | None, Recommendation] = {"buy": "select", "sell": "reject", "hold": "neutral"}


def _distinct(symbols: list[str]) -> list[str]:
    return list(dict.fromkeys(symbols))


class AnalysisParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: UserId
    symbols: Annotated[list[Symbol], Field(min_length=1, max_length=ANALYSIS_SYMBOLS_MAX), AfterValidator(_distinct)]


def assess_symbol(env: Env, symbol: str, day: date) -> AnalysisResultIn:
    """The symbol's call from its last bars on or before ``day`` (or why there is none): one Data API call."""
    closes = recent_closes(env.DB, [symbol], day, LOOKBACK_BARS).get(symbol, [])
    return symbol_result(symbol, closes, day)


def store_analysis(env: Env, user_id: str, workflow_id: str, day: date, result: AnalysisResultIn) -> dict[str, Any]:
    """The call stored as the user's analysis of the symbol (once per workflow) and cached as their latest."""
    repository = AnalysisRepository(env.DB, Tenant(user_id, request_id=workflow_id), CacheService(env.KV))
    analysis = repository.create_once(
        AnalysisIn(
            symbol=result.symbol,
            type=ANALYSIS_TYPE,
            params={"market_date": day.isoformat(), "lookback_bars": LOOKBACK_BARS},
            result={
                "sentiment": result.sentiment,
                "confidence": result.confidence,
                "direction": result.direction,
                "signals": result.signals,
                "technical_data": result.technical_data,
                "reasoning": result.reasoning,
            },
            recommendation=RECOMMENDATIONS.get(result.direction),
            workflow_id=workflow_id,
        )
    )
    return {
        "symbol": result.symbol,
        "analysis_id": analysis.id,
        "recommendation": analysis.recommendation,
        "direction": result.direction,
        "sentiment": result.sentiment,
        "confidence": result.confidence,
        "call": call_text(result),
    }


def announce(
    env: Env, user_id: str, workflow_id: str, symbols: list[str], analyses: list[dict[str, Any]], failed: dict[str, str]
) -> str:
    """One analysis_complete for the run (its id derived from the instance id, so a repeat is dropped)."""
    calls = [f"{a['symbol']} {a['call']}" for a in analyses]
    summary = "; ".join(calls) if len(symbols) > 1 else (calls[0] if calls else "")
    if failed:
        summary += ("; " if summary else "") + f"{len(failed)} not analysed: {', '.join(failed)}"
    message = AnalysisComplete(
        id=message_id("analysis-workflow", workflow_id),
        user_id=user_id,
        symbol=analyses[0]["symbol"] if analyses else symbols[0],
        recommendation=clip(summary or "no symbol could be analysed", RECOMMENDATION_MAX),
        workflow_id=workflow_id,
        symbols=symbols if len(symbols) > 1 else None,
    )
    env.ANALYSIS_QUEUE.send(message.to_wire())
    return message.id


class AnalysisWorkflow(WorkflowEntrypoint):
    env: Env

    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        params = parse_params(AnalysisParams, event.payload)
        if not _valid_workflow_id(event.instance_id):
            raise InvalidParams(f"instance id {event.instance_id!r} cannot be an analysis's workflow_id")
        day = market_date(event.timestamp)
        analyses: list[dict[str, Any]] = []
        failed: dict[str, str] = {}
        for symbol in params.symbols:

            @step.do(f"assess {symbol}", config=IO_STEP)
            def assess(symbol: str = symbol) -> dict[str, Any]:
                return assess_symbol(self.env, symbol, day).to_record()

            try:
                record = assess()
            except WorkflowStepError as error:
                failed[symbol] = f"{error.name}: {error.message}"
                continue
            if record["error_message"] is not None:
                failed[symbol] = record["error_message"]
                continue

            @step.do(f"store {symbol}", config=IO_STEP)
            def store(record: dict[str, Any] = record) -> dict[str, Any]:
                return store_analysis(self.env, params.user, event.instance_id, day, AnalysisResultIn(**record))

            try:
                analyses.append(store())
            except WorkflowStepError as error:
                failed[symbol] = f"{error.name}: {error.message}"

        @step.do("announce", config=IO_STEP)
        def announced() -> str:
            return announce(self.env, params.user, event.instance_id, params.symbols, analyses, failed)

        return {
            "market_date": day.isoformat(),
            "analyses": [{k: v for k, v in a.items() if k != "call"} for a in analyses],
            "failed": failed,
            "announced": announced(),
        }


def _valid_workflow_id(instance_id: str) -> bool:
    from pydantic import TypeAdapter, ValidationError  # noqa: PLC0415 - once per run

    try:
        TypeAdapter(WorkflowId).validate_python(instance_id)
    except ValidationError:
        return False
    return True
