"""A user's positions synced from TastyTrade (seeds 000 and 002): their open accounts' positions, pulled with their own
session and nobody else's, applied as a full sync (``ttai.services.positions``: open ones upserted, the ones the
broker no longer lists closed, one transaction). Runs on ``POST /api/v1/positions/sync``, after signing in, and for
every signed-in user in the pre-market job.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from ttai.env import Env
from ttai.errors import Conflict
from ttai.models.positions import MAX_SYNC_POSITIONS, BrokerSyncResult, PositionSync, SkippedBrokerPosition
from ttai.observability import logger
from ttai.services.positions import PositionRepository
from ttai.services.signin import SignInService
from ttai.services.tastytrade import convert
from ttai.services.tastytrade.breaker import CircuitBreaker, KVBreakerStore
from ttai.services.tastytrade.client import RetryPolicy, TastyTradeClient
from ttai.services.tastytrade.tokens import UserTokens
from ttai.services.tenancy import Tenant


@dataclass(frozen=True, slots=True)
class BrokerPositionSync:
    """Syncs positions for one tenant at a time; holds nothing of any user between calls."""

    env: Env
    signin: SignInService
    breaker: CircuitBreaker
    api_url: str
    policy: RetryPolicy | None = None

    @classmethod
    def from_env(
        cls, env: Env, *, signin: SignInService | None = None, breaker: CircuitBreaker | None = None
    ) -> BrokerPositionSync:
        return cls(
            env,
            signin or SignInService.from_env(env),
            breaker or CircuitBreaker(KVBreakerStore(env.KV)),
            env.tastytrade_api_url(),
        )

    def sync(self, tenant: Tenant) -> BrokerSyncResult:
        """Pull the tenant's accounts and positions from TastyTrade with the tenant's tokens and apply them.

        Raises NotFound (never connected a TastyTrade account), Unauthorized (the connection needs signing in
        again), TastyTradeUnavailable (retry later) and Conflict (more open positions than a sync takes); nothing
        is written then."""
        env = self.env
        tokens = UserTokens(self.signin, tenant.user_id)
        client = TastyTradeClient(self.api_url, tokens, self.breaker, policy=self.policy)
        accounts = [a.account.account_number for a in client.accounts() if not a.account.is_closed]
        pulled = convert.positions_from(p for number in accounts for p in client.positions(number))
        if len(pulled.positions) > MAX_SYNC_POSITIONS:
            count = len(pulled.positions)
            raise Conflict(f"TastyTrade lists {count} open positions; a sync takes at most {MAX_SYNC_POSITIONS}")
        try:
            body = PositionSync(positions=pulled.positions, full_sync=True)
        except ValidationError as exc:  # two broker positions our key cannot tell apart
            raise Conflict(f"TastyTrade's positions do not fit ours: {exc.error_count()} problem(s)") from exc
        result = PositionRepository(env.DB, tenant, env.KV).sync(body)
        if pulled.skipped:
            logger.info("positions left out of a sync", extra={"skipped": len(pulled.skipped)})
        return BrokerSyncResult(
            accounts=accounts,
            positions=result.positions,
            upserted=result.upserted,
            closed=result.closed,
            skipped=[
                SkippedBrokerPosition(account_number=s.account_number, symbol=s.symbol, reason=s.reason)
                for s in pulled.skipped
            ],
        )
