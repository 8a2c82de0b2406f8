"""ScreenerWorkflow: one run of a user's saved screener, each stage (``ttai.services.screeners.runs``) a step.

Evaluate (its criteria over cached quotes, company information, chains and the user's latest analyses), store the
run (keyed by the instance id, so it is stored once however often a step repeats), announce it as
``screener_complete``: the results and the announcement a queued ``screener_run`` task produces. A failed step is
retried, and a run that stops part-way (a crash, a timeout, a new process) resumes after its last completed step.

Params: ``{"user": "<user id>", "screener_id": 42}``. Output: ``{"screener_id", "run_id", "candidates_found",
"announced"}``. A screener deleted before it ran, or whose criteria cannot be evaluated any more, errors the
instance (ScreenerNotFound / ScreenerNotRunnable) without retries.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ttai.bindings.workflows import NonRetryableError, WorkflowEntrypoint, WorkflowEvent, WorkflowStep
from ttai.env import Env
from ttai.errors import InvalidField
from ttai.messages import UserId
from ttai.services.screeners import runs as screener_runs
from ttai.workflows.base import IO_STEP, parse_params


class ScreenerNotFound(NonRetryableError):
    """The screener was deleted before the run reached it."""


class ScreenerNotRunnable(NonRetryableError):
    """The screener's criteria were changed into ones a run cannot evaluate after the run was asked for."""


class ScreenerParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: UserId
    screener_id: Annotated[int, Field(ge=1)]


class ScreenerWorkflow(WorkflowEntrypoint):
    env: Env

    def run(self, event: WorkflowEvent, step: WorkflowStep) -> Any:
        params = parse_params(ScreenerParams, event.payload)
        user, screener_id, key = params.user, params.screener_id, event.instance_id

        @step.do("evaluate", config=IO_STEP)
        def evaluated() -> dict[str, Any]:
            loaded = screener_runs.load(self.env, user, screener_id, key)
            if loaded is None:
                raise ScreenerNotFound(f"screener {screener_id} no longer exists")
            if loaded.run_id is not None:  # stored by an earlier run of this instance (a restart)
                return {"criteria": loaded.criteria, "stored": [loaded.run_id, loaded.candidates_found]}
            try:
                results = screener_runs.evaluate(self.env, user, loaded.criteria)
            except InvalidField as exc:
                raise ScreenerNotRunnable(str(exc)) from None
            return {"criteria": loaded.criteria, "results": results}

        evaluation = evaluated()

        @step.do("store", config=IO_STEP)
        def stored() -> list[int]:
            if "stored" in evaluation:
                return list(evaluation["stored"])
            run = screener_runs.store(self.env, user, screener_id, evaluation["criteria"], evaluation["results"], key)
            return [run.run_id, run.candidates_found]

        run_id, found = stored()

        @step.do("announce", config=IO_STEP)
        def announced() -> str:
            return screener_runs.announce(self.env, user, screener_id, found, key)

        return {"screener_id": screener_id, "run_id": run_id, "candidates_found": found, "announced": announced()}
