"""``/api/v1/watchlists``: the caller's watchlists by name."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import TypeAdapter

from ttai.http import deps
from ttai.http.named import Collection, add_named_routes
from ttai.models.watchlists import Watchlist, WatchlistIn, WatchlistName
from ttai.services.watchlists import WatchlistRepository

router = Router()  # type: ignore[no-untyped-call]
WATCHLISTS = Collection("/watchlists", "watchlist", Watchlist, WatchlistIn, TypeAdapter(WatchlistName))


def _repository() -> WatchlistRepository:
    return WatchlistRepository(deps.env().DB, deps.tenant(router), cursors=deps.cursors())


add_named_routes(router, WATCHLISTS, _repository)
