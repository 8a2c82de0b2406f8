"""Admitting an authorized request: one conditional UpdateItem takes a token from the caller's bucket and refuses a
revoked session, and a refusal costs that same call (the condition fails, and the item it failed on says why).

Buckets. Each user has one per scope: their own tokens draw on ``user``, service tokens (scope ``service``) on
``service``; ``burst`` tokens each, refilled in whole at the start of every window of burst / rate_per_second
seconds. A continuous refill (min(burst, tokens + elapsed x rate), or GCRA's max(tat, now)) cannot be one call:
DynamoDB's update expressions add and subtract only, its conditions do no arithmetic, and the one branch an
update has is ``if_not_exists``. So the window's counter is an attribute named after the window, absent (a full
bucket) until the window's first request: ``ADD`` takes a token, the condition refuses the one past ``burst``.
Within a window nobody gets more than ``burst`` requests and over time no more than rate_per_second; a burst at
the end of one window and one at the start of the next can meet (2 x burst in a moment), which API Gateway's stage
throttle, the outer wall, still bounds. A refusal's Retry-After is the time left in the window.

Revocation. Ending a session (sign-out, erasure) deletes its record, which the authorizer checks, and marks
``r:<session id>`` on the user's items for as long as an answer of the authorizer's may still be in use
(``revocation_seconds``: API Gateway's cache of its answers, none today since it has no identity source, plus a
margin for requests in flight); the admission's condition requires no mark for the caller's session, so a request
that passed the authorizer before the session ended is refused too, whatever a cache holds.

Items: one per user and period (``<user id>#<period>``, a minute by storage.json), holding the windows' counters
(``u:<n>``, ``s:<n>``) and the marks, expired by TTL after the period. A mark must outlive the authorizer's cache
only, and the counters their window, so nothing grows: a minute's item holds at most 60 counters per scope.
"""

from __future__ import annotations

import json
import math
import time
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ttai.bindings.common import error_code, reports_unavailable
from ttai.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ttai.env import Env
    from ttai.layout import LimitsLayout

DEPENDENCY = "the request limits"
SERVICE_SCOPE = "service"
MARK_PREFIX = "r:"
# Past the authorizer's cache, a mark also covers the gap between the gateway's clock and ours.
MARK_MARGIN_SECONDS = 5
# An UpdateExpression holds at most 4 KB; a mark is about 12 characters of it.
MARKS_PER_UPDATE = 100


class Bucket(NamedTuple):
    rate_per_second: float
    burst: int

    @property
    def window_seconds(self) -> float:
        return self.burst / self.rate_per_second


class Limits(NamedTuple):
    """cdk.json's ``limits`` for this environment, and how long a revocation must hold (the authorizer's cache)."""

    user: Bucket
    service: Bucket
    revocation_seconds: int

    @classmethod
    def parse(cls, text: str) -> Limits:
        """TTAI_LIMITS, as infra.constructs.limits writes it; a ConfigurationError says what is wrong."""
        try:
            raw = json.loads(text)
            buckets = {
                scope: Bucket(float(raw[scope]["rate_per_second"]), int(raw[scope]["burst"]))
                for scope in ("user", SERVICE_SCOPE)
            }
            revocation = int(raw["revocation_seconds"])
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigurationError(f"TTAI_LIMITS is not the limits' JSON: {exc!r}") from None
        for scope, bucket in buckets.items():
            if bucket.rate_per_second <= 0 or bucket.burst < 1:
                raise ConfigurationError(f"TTAI_LIMITS: the {scope} bucket needs a positive rate and burst")
        if revocation < 0:
            raise ConfigurationError("TTAI_LIMITS: revocation_seconds cannot be negative")
        return cls(user=buckets["user"], service=buckets[SERVICE_SCOPE], revocation_seconds=revocation)


class Verdict(NamedTuple):
    outcome: Literal["admitted", "limited", "revoked"]
    retry_after: int = 0  # seconds, when limited
    bucket: Bucket | None = None  # the bucket that refused, when limited


ADMITTED = Verdict("admitted")
REVOKED = Verdict("revoked")


class Admission:
    """The limits table of one function: admit requests, mark ended sessions."""

    def __init__(self, table: str, limits: Limits, client: Any, layout: LimitsLayout) -> None:
        self.table = table
        self.limits = limits
        self._client = client
        self._layout = layout

    @classmethod
    def from_env(cls, env: Env) -> Admission:
        return _admission(env)

    def _key(self, user_id: str, period: int) -> dict[str, Any]:
        return {self._layout.key_attr: {"S": f"{user_id}#{period}"}}

    def _expires(self, period: int) -> str:
        # A period after the item's own: DynamoDB's TTL is housekeeping (keys are by period, never read stale).
        return str((period + 2) * self._layout.period_seconds)

    @reports_unavailable(DEPENDENCY)
    def admit(self, user_id: str, session_id: str, *, service: bool) -> Verdict:
        """Take a token of the caller's bucket, unless their session is marked revoked: one UpdateItem."""
        now = time.time()
        span = self._layout.period_seconds
        period = int(now // span)
        bucket = self.limits.service if service else self.limits.user
        window = int((now - period * span) // bucket.window_seconds)
        counter = f"{'s' if service else 'u'}:{window}"
        mark = MARK_PREFIX + session_id
        try:
            self._client.update_item(
                TableName=self.table,
                Key=self._key(user_id, period),
                UpdateExpression="SET #exp = if_not_exists(#exp, :exp) ADD #taken :one",
                ConditionExpression="(attribute_not_exists(#taken) OR #taken < :burst) AND attribute_not_exists(#mark)",
                ExpressionAttributeNames={"#exp": self._layout.ttl_attr, "#taken": counter, "#mark": mark},
                ExpressionAttributeValues={
                    ":exp": {"N": self._expires(period)},
                    ":one": {"N": "1"},
                    ":burst": {"N": str(bucket.burst)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = getattr(exc, "response", {}).get("Item") or {}
            if mark in old:
                return REVOKED
            ends = period * span + min((window + 1) * bucket.window_seconds, span)
            return Verdict("limited", retry_after=max(1, math.ceil(ends - now)), bucket=bucket)
        return ADMITTED

    @reports_unavailable(DEPENDENCY)
    def revoke(self, user_id: str, session_ids: Iterable[str]) -> int:
        """Mark the sessions revoked on every item the authorizer's cache may still answer for them; returns the
        UpdateItems made (one per period and hundred sessions)."""
        ids = sorted(set(session_ids))
        if not ids:
            return 0
        now = time.time()
        span = self._layout.period_seconds
        first, last = int(now // span), int((now + self.limits.revocation_seconds + MARK_MARGIN_SECONDS) // span)
        calls = 0
        for period in range(first, last + 1):
            for start in range(0, len(ids), MARKS_PER_UPDATE):
                chunk = ids[start : start + MARKS_PER_UPDATE]
                names = {f"#m{i}": MARK_PREFIX + session_id for i, session_id in enumerate(chunk)}
                self._client.update_item(
                    TableName=self.table,
                    Key=self._key(user_id, period),
                    UpdateExpression="SET #exp = if_not_exists(#exp, :exp), " + ", ".join(f"{n} = :one" for n in names),
                    ExpressionAttributeNames={"#exp": self._layout.ttl_attr, **names},
                    ExpressionAttributeValues={":exp": {"N": self._expires(period)}, ":one": {"N": "1"}},
                )
                calls += 1
        return calls


@cache
def _admission(env: Env) -> Admission:
    from ttai.layout import storage_layout  # noqa: PLC0415 - parsed once per container, on the first request

    table, limits = env.settings.limits_table, env.settings.limits
    if not table or not limits:
        raise ConfigurationError("request limits need TTAI_LIMITS_TABLE and TTAI_LIMITS (a LIMITS binding)")
    return Admission(table, Limits.parse(limits), env.client("dynamodb"), storage_layout().limits)
