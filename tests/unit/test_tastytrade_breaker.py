"""The circuit breaker's states on an in-memory store and a clock we move: closed, open (refusing with the seconds
left), half-open after the open period (one trial), reopened for twice as long or closed again."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ttai.services.tastytrade.breaker import BreakerState, CircuitBreaker
from ttai.services.tastytrade.errors import TastyTradeUnavailable


@dataclass
class Clock:
    now: float = 10_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryStore:
    states: dict[str, BreakerState] = field(default_factory=dict)
    reads: int = 0
    writes: int = 0

    def read(self, name: str) -> BreakerState | None:
        self.reads += 1
        return self.states.get(name)

    def write(self, name: str, state: BreakerState) -> None:
        self.writes += 1
        self.states[name] = state

    def clear(self, name: str) -> None:
        self.states.pop(name, None)


def breaker(store: MemoryStore, clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(store, failure_threshold=3, open_seconds=30, max_open_seconds=100, clock=clock)


def test_the_healthy_path_reads_once_per_call_and_writes_nothing() -> None:
    store, clock = MemoryStore(), Clock()
    gate = breaker(store, clock)
    for _ in range(5):
        admission = gate.admit()
        assert not admission.trial
        gate.succeeded(admission)
    assert (store.reads, store.writes) == (5, 0)


def test_consecutive_failures_open_it_and_a_success_in_between_resets_the_count() -> None:
    store, clock = MemoryStore(), Clock()
    gate = breaker(store, clock)
    assert gate.failed(gate.admit()) is None
    assert gate.failed(gate.admit()) is None
    gate.succeeded(gate.admit())
    assert gate.failed(gate.admit()) is None
    assert gate.failed(gate.admit()) is None
    assert gate.failed(gate.admit()) == 30
    state = store.states["tastytrade"]
    assert (state.until - clock.now, state.trips, state.reason) == (30, 1, "failures")


def test_while_open_every_container_refuses_with_the_seconds_left_and_this_one_from_memory() -> None:
    store, clock = MemoryStore(), Clock()
    gate, other = breaker(store, clock), breaker(store, clock)
    for _ in range(3):
        gate.failed(gate.admit())
    reads = store.reads
    clock.now += 12.5
    with pytest.raises(TastyTradeUnavailable) as here:
        gate.admit()
    assert here.value.retry_after == 18  # 17.5 s left, rounded up
    assert store.reads == reads  # known open: no read
    with pytest.raises(TastyTradeUnavailable) as there:
        other.admit()
    assert there.value.retry_after == 18
    assert store.reads == reads + 1


def test_after_the_open_period_one_trial_closes_it_on_success() -> None:
    store, clock = MemoryStore(), Clock()
    gate = breaker(store, clock)
    for _ in range(3):
        gate.failed(gate.admit())
    clock.now += 30
    trial = gate.admit()
    assert trial.trial
    gate.succeeded(trial)
    assert store.states == {}
    assert not gate.admit().trial


def test_a_failed_trial_reopens_at_once_for_twice_as_long_up_to_the_cap() -> None:
    store, clock = MemoryStore(), Clock()
    gate = breaker(store, clock)
    for _ in range(3):
        gate.failed(gate.admit())
    periods = []
    for _ in range(4):
        clock.now += store.states["tastytrade"].until - clock.now
        periods.append(gate.failed(gate.admit()))
    assert periods == [60, 100, 100, 100]
    assert store.states["tastytrade"].trips == 5


def test_a_throttle_opens_it_for_what_tastytrade_asked_and_keeps_the_trip_count() -> None:
    store, clock = MemoryStore(), Clock()
    gate = breaker(store, clock)
    assert gate.throttled(gate.admit(), 42.2) == 43
    state = store.states["tastytrade"]
    assert (state.reason, state.trips, state.until - clock.now) == ("throttled", 0, 43)
    with pytest.raises(TastyTradeUnavailable) as refused:
        breaker(store, clock).admit()
    assert refused.value.retry_after == 43
