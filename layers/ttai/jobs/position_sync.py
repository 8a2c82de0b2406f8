"""The pre-market job's first step: every user connected to TastyTrade gets their positions synced, a few users at a
time. A user whose sync fails (tokens refused, TastyTrade failing, a bug) is skipped and counted, never holding up
the others. The job's record says how many and of which kind, not who: any signed-in user may read job history, so
user ids go to the log only.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ttai.errors import describe_error
from ttai.observability import logger
from ttai.services.broker_positions import BrokerPositionSync
from ttai.services.tenancy import Tenant

MAX_CONCURRENT_USERS = 4  # TastyTrade publishes no rate; four sessions at once stays well clear of a 429
_CONNECTED = "SELECT user_id FROM user_oauth_tokens WHERE provider = 'tastytrade' ORDER BY user_id"


@dataclass
class PositionSyncReport:
    users: int = 0
    synced: int = 0
    upserted: int = 0
    closed: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # by kind of error

    def as_metadata(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "synced": self.synced,
            "failed": sum(self.failures.values()),
            "upserted": self.upserted,
            "closed": self.closed,
            "failures": dict(sorted(self.failures.items())),
        }


def sync_every_user(syncer: BrokerPositionSync, *, concurrency: int = MAX_CONCURRENT_USERS) -> PositionSyncReport:
    """Sync each connected user's positions, ``concurrency`` users at a time."""
    users = [row["user_id"] for row in syncer.env.DB.prepare(_CONNECTED).all().results]
    report = PositionSyncReport(users=len(users))

    def sync(user_id: str) -> tuple[str, Any]:
        try:
            return user_id, syncer.sync(Tenant(user_id=user_id, request_id=None))
        except Exception as exc:  # noqa: BLE001 - one user's failure, whatever it is, must not stop the others
            logger.warning("position sync failed for a user", extra={"user_id": user_id, "error": describe_error(exc)})
            return user_id, exc

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for _, outcome in pool.map(sync, users):
            if isinstance(outcome, Exception):
                report.failures[type(outcome).__name__] += 1
            else:
                report.synced += 1
                report.upserted += outcome.upserted
                report.closed += outcome.closed
    return report
