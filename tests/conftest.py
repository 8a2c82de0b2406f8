"""Fixtures every test tier shares: a clock tests can move, and key prefixes that keep tests apart."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings

# make test is the gate for landing: its property tests draw the same examples on every run (a failure found once is
# found again, and CI never fails on a draw nobody has seen). HYPOTHESIS_PROFILE=explore draws new ones each run,
# for hunting; what it finds becomes an @example.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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


@pytest.fixture(autouse=True)
def _invocations_settled(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test's asynchronous invocations on a local stack (the api's quote hand-offs to the realtime function) end
    with it, so none of their AWS calls or messages lands in the next test."""
    yield
    if "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        settle = getattr(stack, "settle", None)
        if callable(settle) and getattr(stack, "lambda_api", None) is not None:
            settle()
