"""The Powertools logger and metrics every function shares, the correlation id its log lines carry, and the
cache's metrics recorder.

One correlation id follows a piece of work: the api function takes API Gateway's request id (Powertools'
``correlation_id_path``), every message a function sends while it is set carries it (the queue binding's
``correlationId`` attribute), and the consumer logs each message's handling under the id it came with.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:  # every function imports this module; only those that cache load the cache
    from ttai.services.cache import CacheTier

METRICS_NAMESPACE = "TTAI"

# Service name and level come from POWERTOOLS_* variables set per function by the stack. The namespace is fixed
# here: Metrics reads its variable when constructed, and a module imported before the variable is set (a test,
# a script) would otherwise flush into no namespace at all.
logger = Logger()
# Requests that touch no cache (health, auth failures) flush no metrics; that is expected, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
metrics = Metrics(namespace=METRICS_NAMESPACE)


_CORRELATION_KEY = "correlation_id"


def correlation_id() -> str | None:
    """The correlation id the function's log lines carry now, if any: this thread's (``correlated``), else the
    invocation's (Powertools' ``correlation_id_path``, ``set_correlation_id``)."""
    mine = logger.thread_safe_get_current_keys()
    if _CORRELATION_KEY in mine:
        value = mine[_CORRELATION_KEY]
        return str(value) if value else None
    return logger.get_correlation_id()


@contextmanager
def correlated(value: str | None) -> Iterator[None]:
    """Log under ``value`` (None: no correlation id) inside the block, then as before.

    Kept per thread (Powertools' thread-safe keys win over the invocation's), so a workflow step or a message handled
    on another thread of the same process (the local runner, the dev server) neither takes nor leaves another's id.
    """
    before = logger.thread_safe_get_current_keys()
    had, previous = _CORRELATION_KEY in before, before.get(_CORRELATION_KEY)
    logger.thread_safe_append_keys(**{_CORRELATION_KEY: value})
    try:
        yield
    finally:
        if had:
            logger.thread_safe_append_keys(**{_CORRELATION_KEY: previous})
        else:
            logger.thread_safe_remove_keys([_CORRELATION_KEY])


class PowertoolsCacheMetrics:
    """Emits cache hits and misses per tier as EMF metrics (flushed by the handler's ``log_metrics``)."""

    def __init__(self, sink: Metrics = metrics) -> None:
        self._sink = sink

    def record(self, tier: CacheTier, *, hits: int, misses: int) -> None:
        name = tier.label.capitalize()
        if hits:
            self._sink.add_metric(name=f"{name}CacheHits", unit=MetricUnit.Count, value=hits)
        if misses:
            self._sink.add_metric(name=f"{name}CacheMisses", unit=MetricUnit.Count, value=misses)
