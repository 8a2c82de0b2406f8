"""What routes need, built once per container from the environment."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from ttai.env import Env
from ttai.http.principal import current_principal
from ttai.secret_names import (
    CURSOR_SECRET,
    TASTYTRADE_CLIENT_ID,
    TASTYTRADE_CLIENT_SECRET,
    TASTYTRADE_SERVICE_REFRESH_TOKEN,
)

# Services are imported where they are built: the auth function signs in without loading the market or tenant
# modules, and the api function loads them with the first route that needs them.
if TYPE_CHECKING:
    from ttai.cursors import CursorCodec
    from ttai.realtime.tickets import TicketOffice
    from ttai.services.broker_positions import BrokerPositionSync
    from ttai.services.market import MarketDataService
    from ttai.services.signin import SignInService
    from ttai.services.tastytrade.breaker import CircuitBreaker
    from ttai.services.tastytrade.market import TastyTradeMarketData
    from ttai.services.tenancy import Tenant


@cache
def _market(env: Env) -> MarketDataService:
    from ttai.observability import PowertoolsCacheMetrics  # noqa: PLC0415
    from ttai.services.cache import CacheService  # noqa: PLC0415
    from ttai.services.market import MarketDataService  # noqa: PLC0415

    # Where TastyTrade is configured, misses are read through it; elsewhere they are reported missing.
    source = _tastytrade_market(env) if env.settings.tastytrade_api_url else None
    # Where the realtime function is bound (the api), every ingested batch is handed to it.
    realtime = None
    if env.settings.functions.get("REALTIME"):
        from ttai.realtime.deployed import quote_hand_off  # noqa: PLC0415

        realtime = quote_hand_off(env)
    return MarketDataService(CacheService(env.KV, metrics=PowertoolsCacheMetrics()), source, realtime=realtime)


def _tastytrade_market(env: Env) -> TastyTradeMarketData:
    from ttai.auth.oauth import OAuthClient  # noqa: PLC0415
    from ttai.services.tastytrade.client import TastyTradeClient  # noqa: PLC0415
    from ttai.services.tastytrade.market import TastyTradeMarketData  # noqa: PLC0415
    from ttai.services.tastytrade.tokens import ServiceTokens  # noqa: PLC0415

    # The grant whose session pays for market data is the stack's own, never a user's: the cache it fills is
    # everyone's. Its secrets are read with the first miss, not by a container serving hits.
    def grant() -> tuple[OAuthClient, str]:
        oauth = OAuthClient(
            env.oauth_settings(), env.secret(TASTYTRADE_CLIENT_ID), env.secret(TASTYTRADE_CLIENT_SECRET)
        )
        return oauth, env.secret(TASTYTRADE_SERVICE_REFRESH_TOKEN)

    return TastyTradeMarketData(TastyTradeClient(env.tastytrade_api_url(), ServiceTokens(grant), breaker(env)))


@cache
def breaker(env: Env) -> CircuitBreaker:
    """This container's view of the TastyTrade circuit breaker, whose open state every container shares in KV."""
    from ttai.services.tastytrade.breaker import CircuitBreaker, KVBreakerStore  # noqa: PLC0415

    return CircuitBreaker(KVBreakerStore(env.KV))


def market() -> MarketDataService:
    return _market(Env.from_environ())


def env() -> Env:
    return Env.from_environ()


def tenant(router: BaseRouter) -> Tenant:
    """The verified caller of the current request, with the request id its writes are audited under."""
    from ttai.services.tenancy import Tenant  # noqa: PLC0415

    principal = current_principal(router)
    request_id = router.current_event.raw_event.get("requestContext", {}).get("requestId")
    return Tenant(user_id=principal.user_id, request_id=request_id if isinstance(request_id, str) else None)


@cache
def _cursors(env: Env) -> CursorCodec:
    from ttai.cursors import CursorCodec  # noqa: PLC0415

    # The secret is read with the first cursor a container encodes or decodes, not by routes that never page.
    return CursorCodec(lambda: env.secret_versions(CURSOR_SECRET))


def cursors() -> CursorCodec:
    """The codec of every cursor the API issues, keyed by the CURSOR_SECRET secret (its previous version too)."""
    return _cursors(Env.from_environ())


@cache
def _signin(env: Env) -> SignInService:
    from ttai.services.signin import SignInService  # noqa: PLC0415 - only the functions with cryptography load it

    return SignInService.from_env(env)


def signin() -> SignInService:
    return _signin(Env.from_environ())


@cache
def _broker_positions(env: Env) -> BrokerPositionSync:
    from ttai.services.broker_positions import BrokerPositionSync  # noqa: PLC0415

    return BrokerPositionSync.from_env(env, signin=_signin(env), breaker=breaker(env))


def broker_positions() -> BrokerPositionSync:
    """Syncs a user's positions from TastyTrade with their own session (the auth function)."""
    return _broker_positions(Env.from_environ())


@cache
def _tickets(env: Env) -> TicketOffice:
    from ttai.realtime.deployed import ticket_office  # noqa: PLC0415 - only the ticket route needs it

    return ticket_office(env)


def tickets() -> TicketOffice:
    """Where real-time connect tickets are issued: the connections table and the WebSocket API's URL."""
    return _tickets(Env.from_environ())
