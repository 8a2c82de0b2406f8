"""A user's watchlists (seed 000's table), by name; symbols validated, de-duplicated and capped at the edge."""

from __future__ import annotations

from ttai.cursors import CursorKind, TextField
from ttai.models.watchlists import Watchlist, WatchlistIn
from ttai.services.named import NamedRepository, NamedTable

WATCHLISTS = CursorKind("watchlists", (TextField(100),), ("name",))  # by name (WatchlistName: at most 100 characters)
TABLE = NamedTable("watchlists", "watchlist", ("description", "symbols"), WATCHLISTS)


class WatchlistRepository(NamedRepository[Watchlist, WatchlistIn]):
    table = TABLE
    model = Watchlist
