"""How often each simulated user of ``make load`` sends a request, derived from the usage profile (no locust here).

infra/cost/usage.json says what one active user causes in a month. The load run simulates the profile's busiest
hour, the market open, when every user of the run has the dashboard or assistant open at once:

- a user sends ``per_user_month.api_requests`` a month (seed 002's ~10 million requests for 1,000 users), of which
  ``requests_by_period.open`` fall while the market_hours schedule keeps the database up (prod's open and close
  crons in cdk.json: 08:00-18:00 New York time, on 21.75 weekdays a month);
- those requests come from a connected client, and a client is connected ``websocket_connection_minutes`` a month
  (the profile's "1 hour a trading day"), so while connected a user sends the open's requests at
  ``open requests / connected seconds``;
- the peak factor is that rate over the open period's mean rate (open minutes / connected minutes): at the open
  every user is in their connected hour at once.

The users' requests arrive as a Poisson process at that rate (exponential gaps), split among request types by the
profile's ``database_share_of_requests`` (locustfile.Trader's task weights). ``--stress`` keeps the old pacing (a
request every 0.5-1.5 s per user, about ten times the profile), which saturates the dev server and so measures its
throughput rather than the latency users would see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
USAGE_FILE = ROOT / "infra" / "cost" / "usage.json"
CDK_FILE = ROOT / "cdk.json"
WEEKDAYS_PER_MONTH = 21.75  # as infra/cost/model.py counts them
STRESS_WAIT_S = (0.5, 1.5)  # the pacing make load had before it was derived: a stress test's, kept for --stress
STRESS_INGEST = (1.0, 4)  # and its streamer: an ingest of 4 quotes every second


def _figure(usage: dict[str, Any], section: str, name: str) -> float:
    return float(usage[section][name]["value"])


def _cron_hour(cron: str) -> int:
    """The hour of a daily 'minute hour * * days' cron (prod's market_hours crons are on the hour)."""
    minute, hour = cron.split()[:2]
    if minute != "0" or not hour.isdigit():
        raise ValueError(f"market_hours cron {cron!r} is not on the hour")
    return int(hour)


@dataclass(frozen=True)
class Pacing:
    """Requests per second per user, and every figure it came from (printed with the run)."""

    requests_per_user_month: float
    open_share: float
    open_hours_per_month: float
    connected_minutes_per_month: float
    database_share: float
    quote_ingest_seconds: float  # one PUT /api/v1/quotes this often (per environment)
    symbols_per_ingest: int
    stress: bool = False

    @property
    def open_mean_per_user_s(self) -> float:
        """A user's mean rate over the whole open period."""
        return self.requests_per_user_month * self.open_share / (self.open_hours_per_month * 3600)

    @property
    def peak_factor(self) -> float:
        """The busiest hour's rate over the open period's mean: open minutes per connected minute."""
        return self.open_hours_per_month * 60 / self.connected_minutes_per_month

    @property
    def per_user_s(self) -> float:
        """Requests per second one user offers (the stress pacing's mean wait is 1 s, plus the request's time)."""
        if self.stress:
            return 1 / (sum(STRESS_WAIT_S) / 2)
        return self.open_mean_per_user_s * self.peak_factor

    def offered_s(self, users: int) -> float:
        """What ``users`` offer in total, the quote streamer included."""
        return users * self.per_user_s + 1 / self.quote_ingest_seconds

    def describe(self, users: int) -> list[str]:
        """How the offered rate was derived, as printed before the run's table."""
        if self.stress:
            low, high = STRESS_WAIT_S
            return [
                f"pacing --stress: each user waits {low:g}-{high:g} s between tasks (about {self.per_user_s:.2f}"
                f" requests/s, ~{self.per_user_s / (self.open_mean_per_user_s * self.peak_factor):.0f}x the profile's"
                f" busiest hour); {users} users offer about {self.offered_s(users):.0f} requests/s: where that is more"
                " than the dev server serves, the table's throughput is its saturation throughput and its latencies a"
                " queue's (the latency budgets hold for the profile's pacing, not this)",
            ]
        return [
            "pacing from infra/cost/usage.json, at its busiest hour (the market open, every user connected):",
            f"  {self.requests_per_user_month:,.0f} requests per user a month x {self.open_share:.2f} in the open"
            f" period / {self.open_hours_per_month:g} open hours = {self.open_mean_per_user_s * 3600:.1f} per user-hour"
            " on average",
            f"  peak factor {self.peak_factor:.1f} = {self.open_hours_per_month * 60:,.0f} open minutes /"
            f" {self.connected_minutes_per_month:,.0f} connected minutes a month (a user's requests come while their"
            " client is connected)",
            f"  -> {self.per_user_s:.4f} requests/s per user (Poisson: a mean gap of {1 / self.per_user_s:.1f} s),"
            f" {self.database_share:.0%} of them tenant reads and writes; {users} users offer"
            f" {self.offered_s(users):.1f} requests/s, with one {self.symbols_per_ingest}-symbol quote ingest every"
            f" {self.quote_ingest_seconds:g} s",
        ]


def from_profile(*, stress: bool = False, usage_file: Path = USAGE_FILE, cdk_file: Path = CDK_FILE) -> Pacing:
    usage = json.loads(usage_file.read_text())
    hours = json.loads(cdk_file.read_text())["context"]["environments"]["prod"]["database"]["market_hours"]
    open_hours = (_cron_hour(hours["close_cron"]) - _cron_hour(hours["open_cron"])) * WEEKDAYS_PER_MONTH
    ingests = _figure(usage, "per_environment_month", "quote_ingests")
    ingest_seconds, ingest_symbols = (
        STRESS_INGEST
        if stress
        else (
            # The profile's ingests are one a minute while NYSE trades (390 minutes a trading day).
            round(390 * 60 * WEEKDAYS_PER_MONTH / ingests),
            int(_figure(usage, "per_environment_month", "symbols_per_ingest")),
        )
    )
    return Pacing(
        requests_per_user_month=_figure(usage, "per_user_month", "api_requests"),
        open_share=_figure(usage, "requests_by_period", "open"),
        open_hours_per_month=open_hours,
        connected_minutes_per_month=_figure(usage, "per_user_month", "websocket_connection_minutes"),
        database_share=_figure(usage, "per_user_month", "database_share_of_requests"),
        quote_ingest_seconds=ingest_seconds,
        symbols_per_ingest=ingest_symbols,
        stress=stress,
    )
