"""Fixtures every test tier shares: a clock tests can move, key prefixes that keep tests apart, and the functions'
log lines as CloudWatch would receive them."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from ttai.observability import logger

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


class LogLines(logging.Handler):
    """The shared logger's lines, each rendered by its JSON formatter when it is written (so with the correlation id
    and keys in force then, as CloudWatch receives it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(logger.registered_formatter.format(record)))

    def with_message(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["message"] == message]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Every line the shared logger writes during the test, DEBUG and up."""
    handler = LogLines()
    shared = logging.getLogger(logger.name)  # the standard logger behind Powertools'
    level = shared.level
    shared.addHandler(handler)
    shared.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        shared.removeHandler(handler)
        shared.setLevel(level)
