"""Step configuration as Cloudflare resolves it, and the retry decision it implies for the durable SDK.

Cloudflare's defaults: 5 retries, 10 seconds apart at first, doubling (exponential); each attempt may run 10
minutes. After attempt n fails the next waits ``delay`` (constant), ``delay * n`` (linear) or
``delay * 2 ** (n - 1)`` (exponential), and attempt ``limit + 1`` is the last. The SDK backs off in whole seconds
(at least 1), so a delay is rounded up to the next second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

from ttai.bindings.workflows.durations import to_milliseconds, whole_seconds
from ttai.bindings.workflows.errors import NonRetryableError, WorkflowFatalError

Backoff = Literal["constant", "linear", "exponential"]
BACKOFFS: tuple[Backoff, ...] = ("constant", "linear", "exponential")
DEFAULT_LIMIT = 5
DEFAULT_DELAY_MS = 10_000
DEFAULT_BACKOFF: Backoff = "exponential"
DEFAULT_TIMEOUT_MS = 600_000
# One attempt runs inside one Lambda invocation, which lasts at most 15 minutes.
MAX_TIMEOUT_MS = 900_000
_CONFIG_KEYS = frozenset({"retries", "timeout"})
_RETRY_KEYS = frozenset({"limit", "delay", "backoff"})


class StepConfig(NamedTuple):
    limit: int = DEFAULT_LIMIT
    delay_ms: int = DEFAULT_DELAY_MS
    backoff: Backoff = DEFAULT_BACKOFF
    timeout_ms: int = DEFAULT_TIMEOUT_MS

    def delay_after(self, attempt: int) -> int:
        """Milliseconds to wait after attempt ``attempt`` (1-based) failed, by Cloudflare's formula."""
        if self.backoff == "exponential":
            return int(self.delay_ms * 2 ** (attempt - 1))
        if self.backoff == "linear":
            return self.delay_ms * attempt
        return self.delay_ms

    def as_dict(self) -> dict[str, Any]:
        """The resolved config as a step's ``ctx["config"]`` shows it."""
        return {
            "retries": {"limit": self.limit, "delay": self.delay_ms, "backoff": self.backoff},
            "timeout": self.timeout_ms,
        }


def resolve(step_name: str, config: Mapping[str, Any] | None) -> StepConfig:
    """Cloudflare's defaults overlaid with ``config``; a malformed config is a WorkflowFatalError, as there."""
    if config is None:
        return StepConfig()
    invalid = f'Step config for "{step_name}" is in a invalid format'
    if not isinstance(config, Mapping) or not set(config) <= _CONFIG_KEYS:
        raise WorkflowFatalError(f"{invalid}: only 'retries' and 'timeout' are allowed")
    resolved = StepConfig()
    retries = config.get("retries")
    if retries is not None:
        if (
            not isinstance(retries, Mapping)
            or not set(retries) <= _RETRY_KEYS
            or not {"limit", "delay"} <= set(retries)
        ):
            raise WorkflowFatalError(f"{invalid}: retries needs 'limit' and 'delay', and may have 'backoff'")
        limit, delay, backoff = retries["limit"], retries["delay"], retries.get("backoff", DEFAULT_BACKOFF)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise WorkflowFatalError(f"{invalid}: retries.limit must be a whole number of at least 0")
        if callable(delay):
            raise WorkflowFatalError(
                f"{invalid}: a delay function cannot be replayed deterministically by Lambda "
                "durable functions; give milliseconds or a duration string"
            )
        if backoff not in BACKOFFS:
            raise WorkflowFatalError(f"{invalid}: retries.backoff must be one of {', '.join(BACKOFFS)}")
        resolved = resolved._replace(limit=limit, delay_ms=_milliseconds(delay, invalid), backoff=backoff)
    if "timeout" in config:
        timeout_ms = _milliseconds(config["timeout"], invalid)
        if timeout_ms == 0:
            raise WorkflowFatalError(f"{invalid}: timeout must be more than 0")
        if timeout_ms > MAX_TIMEOUT_MS:
            raise WorkflowFatalError(
                f"{invalid}: a step timeout over 15 minutes cannot be honoured, as one attempt "
                "runs within one Lambda invocation (15 minutes at most)"
            )
        resolved = resolved._replace(timeout_ms=timeout_ms)
    return resolved


def _milliseconds(value: Any, invalid: str) -> int:
    try:
        return to_milliseconds(value)
    except ValueError as exc:
        raise WorkflowFatalError(f"{invalid}: {exc}") from exc


def retry_strategy(config: StepConfig) -> Callable[[Exception, int], Any]:
    """The SDK retry strategy for ``config``: ``(error, attempt that failed) -> RetryDecision``."""
    from aws_durable_execution_sdk_python.config import Duration  # noqa: PLC0415 - the SDK loads with the first step
    from aws_durable_execution_sdk_python.retries import RetryDecision  # noqa: PLC0415

    def decide(error: Exception, attempt: int) -> RetryDecision:
        if isinstance(error, NonRetryableError | WorkflowFatalError) or attempt > config.limit:
            return RetryDecision.no_retry()
        return RetryDecision.retry(Duration.from_seconds(max(1, whole_seconds(config.delay_after(attempt)))))

    return decide
