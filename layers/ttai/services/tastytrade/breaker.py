"""A circuit breaker around TastyTrade whose open state every Lambda container sees.

The state lives in one KV item (``circuit:tastytrade``), because a breaker held in a container's memory protects only
that container: during an outage each new or idle container would still send its own failing requests. The healthy
path writes nothing: consecutive failures are counted in the container that sees them, and only the transition to
open writes the item (one PutItem per trip). Every call through the breaker reads it (one GetItem) unless this
container already knows it is open, in which case it answers from memory until the open period ends.

After the open period the item stays a while longer, so the next caller knows it is making a trial call (half-open):
a trial that fails reopens the breaker at once for twice as long (up to a cap); one that succeeds deletes the item.
A 429 TastyTrade sends and we cannot wait out opens it too, for the time TastyTrade asked for: every container then
holds off, not only the one that was told.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ttai.bindings.kv import KVNamespace
from ttai.services.tastytrade.errors import TastyTradeUnavailable

FAILURE_THRESHOLD = 5  # consecutive failed attempts in one container that open the breaker
OPEN_SECONDS = 30  # the first open period; each failed trial doubles it
MAX_OPEN_SECONDS = 300
REMEMBER_SECONDS = 600  # how long after its open period a trip is remembered (the next call is a trial)
MIN_KV_TTL = 60  # Cloudflare KV's minimum expiration TTL, which the binding enforces


@dataclass(frozen=True, slots=True)
class BreakerState:
    opened_at: float
    until: float
    trips: int  # openings since the last success: sets the next open period
    reason: str  # "failures" or "throttled"


class BreakerStore(Protocol):
    def read(self, name: str) -> BreakerState | None: ...

    def write(self, name: str, state: BreakerState) -> None: ...

    def clear(self, name: str) -> None: ...


class KVBreakerStore:
    """The breaker's state as one JSON item in the KV namespace, expiring once the trip is no longer remembered."""

    def __init__(self, kv: KVNamespace, *, clock: Callable[[], float] | None = None) -> None:
        self._kv = kv
        self._clock = clock or _now

    @staticmethod
    def key(name: str) -> str:
        return f"circuit:{name}"

    def read(self, name: str) -> BreakerState | None:
        value = self._kv.get(self.key(name), "json")
        if not isinstance(value, dict):
            return None
        try:
            return BreakerState(
                opened_at=float(value["opened_at"]),
                until=float(value["until"]),
                trips=int(value["trips"]),
                reason=str(value["reason"]),
            )
        except (KeyError, TypeError, ValueError):
            return None  # an item of another shape is no trip of ours: the breaker counts as closed

    def write(self, name: str, state: BreakerState) -> None:
        remembered = math.ceil(state.until - self._clock()) + REMEMBER_SECONDS
        document = {"opened_at": state.opened_at, "until": state.until, "trips": state.trips, "reason": state.reason}
        self._kv.put(self.key(name), json.dumps(document), expiration_ttl=max(MIN_KV_TTL, remembered))

    def clear(self, name: str) -> None:
        self._kv.delete(self.key(name))


@dataclass(frozen=True, slots=True)
class Admission:
    """A call the breaker let through; ``trial`` when it follows a trip (half-open)."""

    trial: bool
    trips: int


class CircuitBreaker:
    def __init__(
        self,
        store: BreakerStore,
        name: str = "tastytrade",
        *,
        failure_threshold: int = FAILURE_THRESHOLD,
        open_seconds: int = OPEN_SECONDS,
        max_open_seconds: int = MAX_OPEN_SECONDS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self._store = store
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._max_open_seconds = max_open_seconds
        self._clock = clock or _now
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0  # known in this container without reading the store

    def admit(self) -> Admission:
        """Let a call through, or raise TastyTradeUnavailable with the seconds left while the breaker is open."""
        now = self._clock()
        if now < self._open_until:
            raise self._refusal(self._open_until - now)
        state = self._store.read(self.name)
        if state is not None and now < state.until:
            with self._lock:
                self._open_until = state.until
            raise self._refusal(state.until - now)
        return Admission(trial=state is not None, trips=state.trips if state else 0)

    def succeeded(self, admission: Admission) -> None:
        with self._lock:
            self._failures = 0
        if admission.trial:
            self._store.clear(self.name)

    def failed(self, admission: Admission) -> int | None:
        """Count a failed attempt; returns the open period in seconds if this one opened the breaker."""
        with self._lock:
            self._failures += 1
            opening = admission.trial or self._failures >= self._threshold
            if opening:
                self._failures = 0
        if not opening:
            return None
        trips = admission.trips + 1 if admission.trial else 1
        period: int = min(self._open_seconds << (trips - 1), self._max_open_seconds)
        self._open(period, trips, "failures")
        return period

    def throttled(self, admission: Admission, retry_after: float) -> int:
        """TastyTrade asked us to wait longer than a request can: hold every container off for that long."""
        period = max(1, math.ceil(retry_after))
        self._open(period, admission.trips, "throttled")
        return period

    def _open(self, period: int, trips: int, reason: str) -> None:
        now = self._clock()
        with self._lock:
            self._open_until = now + period
        self._store.write(self.name, BreakerState(opened_at=now, until=now + period, trips=trips, reason=reason))

    @staticmethod
    def _refusal(remaining: float) -> TastyTradeUnavailable:
        return TastyTradeUnavailable(
            # whole seconds, from milliseconds: float noise in until - now must not add a second
            "TastyTrade is unavailable (circuit breaker open); retry later",
            retry_after=math.ceil(round(remaining, 3)),
        )


def _now() -> float:
    """``time.time()`` looked up at each call, so a test that moves the clock moves ours too."""
    return time.time()
