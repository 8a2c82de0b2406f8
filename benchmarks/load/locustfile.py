"""The load's clients, paced and mixed as infra/cost/usage.json's profile says (benchmarks.load.pacing): cached quote
reads, then tenant lists, a few writes (each with an Idempotency-Key, a fifth of them retried as a phone on a flaky
network would), and one quote streamer ingesting with a service token.

Imported only by the load process: importing locust patches the standard library for gevent.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from dataclasses import dataclass, field

import gevent  # type: ignore[import-untyped]  # locust's own dependency, without stubs
from locust import HttpUser, task

from benchmarks.load.pacing import STRESS_WAIT_S, Pacing, from_profile

SYMBOLS = ("AAPL", "MSFT", "SPY", "TSLA")  # the symbols the traders read; the streamer ingests these first
RETRIED_SHARE = 0.2
MAX_ATTEMPTS = 6


@dataclass
class Shared:
    """What the runner hands the users and reads back: tokens to use, and the ids of writes answered 201."""

    user_tokens: list[str] = field(default_factory=list)
    service_token: str = ""
    pacing: Pacing = field(default_factory=from_profile)
    quote_misses: int = 0  # quote reads that found a symbol missing (between a quote's expiry and the next ingest)
    ends_at: float = float("inf")  # time.monotonic() when the run stops
    written: dict[str, set[int]] = field(default_factory=dict)  # journal ids answered 201, by Idempotency-Key
    unanswered: int = 0  # writes still not answered 201 after every attempt

    def record(self, key: str, entry_id: int) -> None:
        self.written.setdefault(key, set()).add(entry_id)


SHARED = Shared()
_NEXT_TOKEN = itertools.count()


def quotes_body(count: int = len(SYMBOLS)) -> dict[str, object]:
    """An ingest of ``count`` quotes: the traders' symbols, then made-up ones (S005, S006 ...)."""
    symbols = [*SYMBOLS, *(f"S{i:03d}" for i in range(len(SYMBOLS) + 1, count + 1))][:count]
    return {
        "quotes": [
            {"symbol": symbol, "last": round(random.uniform(90, 110), 2), "updated_at": "2026-11-20T15:00:00-05:00"}  # noqa: S311
            for symbol in symbols
        ]
    }


class Trader(HttpUser):
    """A signed-in user of the assistant: reads quotes and their own lists, records a trade now and then.

    Task weights follow the profile's database share: 15 of 25 requests are cached quote reads, 10 (40%) read or
    write PostgreSQL.
    """

    weight = 100

    def on_start(self) -> None:
        self.token = SHARED.user_tokens[next(_NEXT_TOKEN) % len(SHARED.user_tokens)]
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.next_start = time.monotonic()
        if SHARED.pacing.stress:
            # Every user writes at least once, so even a short run (the smoke test's) checks its writes.
            self.record_trade()
        else:
            # At the profile's pacing a user's first request, too, comes an exponential gap after it starts (locust
            # would run it at once: 200 users starting in four seconds would send 200 requests, 200 first sessions for
            # the authorizer, in a burst the profile never offers), and the writes come as the profile has them.
            # Not past the run's end: stopping waits for a user still starting, and would stretch the run.
            gevent.sleep(min(self.wait_time(), max(0.0, SHARED.ends_at - time.monotonic())))

    def wait_time(self) -> float:
        pacing = SHARED.pacing
        if pacing.stress:
            return random.uniform(*STRESS_WAIT_S)  # noqa: S311
        # Poisson arrivals at the profile's rate: the next task starts an exponential gap after the last one
        # started, so a slow answer does not lower the rate offered (open-loop, as people do not wait for others).
        self.next_start += random.expovariate(pacing.per_user_s)
        return max(0.0, self.next_start - time.monotonic())

    @task(15)
    def read_quotes(self) -> None:
        path = f"/api/v1/quotes?symbols={','.join(SYMBOLS[:3])}"
        with self.client.get(path, headers=self.headers, name="quotes (cached)", catch_response=True) as response:
            if response.status_code == 200 and response.json().get("missing"):
                SHARED.quote_misses += 1

    @task(4)
    def list_journal(self) -> None:
        self.client.get("/api/v1/journal?limit=20", headers=self.headers, name="journal list")

    @task(2)
    def list_watchlists(self) -> None:
        self.client.get("/api/v1/watchlists", headers=self.headers, name="watchlists list")

    @task(2)
    def record_trade(self) -> None:
        body = {
            "symbol": random.choice(SYMBOLS),  # noqa: S311
            "strategy": "long stock",
            "legs": [{"type": "stock", "side": "buy"}],
            "quantity": random.randint(1, 100),  # noqa: S311
            "entry_date": "2025-03-03",
            "entry_price": 100,
        }
        key = str(uuid.uuid4())
        headers = {**self.headers, "Idempotency-Key": key}
        # A client on a flaky network: a fifth of the writes are sent again at once, and any answer that is not a
        # 201 (a timeout, a 409 while the first still runs) is retried with the same key until one is, so every
        # write ends answered and the run can check each is stored exactly once.
        retry_at_once = random.random() < RETRIED_SHARE  # noqa: S311
        for attempt in range(MAX_ATTEMPTS):
            name = "journal write" if attempt == 0 else "journal write (retried)"
            with self.client.post("/api/v1/journal", json=body, headers=headers, name=name, catch_response=True) as r:
                if r.status_code == 201:
                    SHARED.record(key, int(r.json()["id"]))
                    if not (retry_at_once and attempt == 0):
                        return
                elif r.status_code == 409 and attempt > 0:
                    r.success()
            gevent.sleep(0.2 * attempt)
        SHARED.unanswered += 1

    @task(2)
    def save_watchlist(self) -> None:
        self.client.put(
            f"/api/v1/watchlists/load-{random.randint(1, 3)}",  # noqa: S311
            json={"symbols": list(SYMBOLS[:2])},
            headers=self.headers,
            name="watchlist write",
        )


class Streamer(HttpUser):
    """The quote streamer: one service client keeping the hot tier fresh (the profile's ingests: how often, how many
    symbols)."""

    fixed_count = 1

    def on_start(self) -> None:
        self.next_start = time.monotonic()

    def wait_time(self) -> float:
        # Constant pacing: each ingest starts a period after the last started, so the hot tier's quotes (kept as long
        # as that period) are replaced as they expire rather than a request's time later each round.
        self.next_start += SHARED.pacing.quote_ingest_seconds
        return max(0.0, self.next_start - time.monotonic())

    @task
    def ingest(self) -> None:
        headers = {"Authorization": f"Bearer {SHARED.service_token}"}
        body = quotes_body(SHARED.pacing.symbols_per_ingest)
        self.client.put("/api/v1/quotes", json=body, headers=headers, name="quote ingest")
