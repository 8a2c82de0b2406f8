"""The Powertools logger and metrics every function shares, and the cache's metrics recorder."""

from __future__ import annotations

import warnings
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
