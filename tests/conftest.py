"""Fixtures every test tier shares: a clock tests can move, and key prefixes that keep tests apart."""

from __future__ import annotations

import time
import uuid

import pytest


class Clock:
    """``time.time()`` frozen at a whole second; ``travel`` moves it. Code under test reads "now" only there."""

    def __init__(self, now: float) -> None:
        self.now = now

    def travel(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    # A whole second, so expirations computed from it (int(now) + ttl) are exact.
    frozen = Clock(float(int(time.time())))
    monkeypatch.setattr(time, "time", frozen)
    return frozen


@pytest.fixture
def key_prefix() -> str:
    """A prefix no other test uses, so tests can share one namespace (and one moto server) without seeing each other."""
    return f"t{uuid.uuid4().hex[:12]}:"
