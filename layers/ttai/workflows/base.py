"""What the workflows share: params checked as they start, step configurations, services' stages run as steps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ttai.bindings.workflows import NonRetryableError, WorkflowStep

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# Reads and writes of our own database, cache, bucket and queues: a few quick retries ride out a throttle or a
# resuming database; a step that still fails is reported by the workflow (or fails it), not retried for minutes.
IO_STEP: dict[str, Any] = {
    "retries": {"limit": 4, "delay": "2 seconds", "backoff": "exponential"},
    "timeout": "5 minutes",
}
# A step that writes a part of a file (up to about 6 MiB read, encoded and uploaded).
PART_STEP: dict[str, Any] = {
    "retries": {"limit": 4, "delay": "2 seconds", "backoff": "exponential"},
    "timeout": "10 minutes",
}


class InvalidParams(NonRetryableError):
    """The params an instance was created with are not what its workflow takes; it errors without retrying."""


def parse_params(model: type[M], payload: Any) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'params'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise InvalidParams(f"invalid params: {problems}") from None


def as_stages(step: WorkflowStep, config: Mapping[str, Any]) -> Callable[[str, Callable[[], T]], T]:
    """A service's named stages (``stage(name, work)``) run as steps of this workflow, each with ``config``."""

    def stage(name: str, work: Callable[[], T]) -> T:
        @step.do(name, config=config)
        def run_stage() -> T:
            return work()

        return run_stage()

    return stage
