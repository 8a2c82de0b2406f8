"""The local runner's clock: wall time for ``make dev``, virtual time for tests.

The durable SDK's runner asks its clock for "now" and how long to really wait before a timer fires (``arm``).
``VirtualClock`` starts at a given instant and moves only when told: ``advance()`` by hand, or by itself to the
next timer when ``skip`` is on (a 3-day sleep then takes milliseconds and its history still says 3 days). While a
timer waits for a manual ``advance`` the runner re-checks it every ``POLL_SECONDS`` of real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

POLL_SECONDS = 0.02


class WallClock:
    """Real time: timers wait as long as they say."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def arm(self, wake: datetime) -> float:
        return max((wake - self.now()).total_seconds(), 0.0)

    def time(self) -> float:
        return time.time()


class VirtualClock:
    """Time that moves when told; ``skip=True`` jumps to each timer as it is armed."""

    def __init__(self, start: datetime | None = None, *, skip: bool = False) -> None:
        self._now = start or datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
        self.skip = skip
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def time(self) -> float:
        return self.now().timestamp()

    def arm(self, wake: datetime) -> float:
        with self._lock:
            if wake <= self._now:
                return 0.0
            if not self.skip:
                return POLL_SECONDS
            self._now = wake
        self._moved()
        return 0.0

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move time forward by ``delta`` (or ``timedelta(**parts)``); timers now due fire."""
        step = delta if delta is not None else timedelta(**parts)
        if step < timedelta(0):
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += step
            now = self._now
        self._moved()
        return now

    def on_move(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _moved(self) -> None:
        for listener in list(self._listeners):
            listener()
