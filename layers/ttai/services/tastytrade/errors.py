"""What calling TastyTrade can fail with, by kind: unavailable (retry later), refused (our request or the caller's
grant), not found, or an answer we cannot use. Messages are written here; TastyTrade's own text never reaches them."""

from __future__ import annotations

from ttai.auth.oauth import PROVIDER_NAME
from ttai.errors import NotFound, TtaiError, Unavailable

DEPENDENCY = PROVIDER_NAME  # as the 503's message names it, the same for sign-in and the REST API


class TastyTradeError(TtaiError):
    """Base of every error calling TastyTrade raises."""


class TastyTradeUnavailable(TastyTradeError, Unavailable):
    """TastyTrade is failing, throttling us, or the circuit breaker is open: a 503 with ``Retry-After``."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        Unavailable.__init__(self, message, dependency=DEPENDENCY, retry_after=retry_after)


class TastyTradeRejected(TastyTradeError):
    """TastyTrade answered a 4xx other than throttling: ``status`` and its error ``code`` (an identifier, kept)."""

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TastyTradeNotFound(TastyTradeRejected, NotFound):
    """TastyTrade has no such instrument, chain or account (its 404)."""


class TastyTradeUnusable(TastyTradeError):
    """A 2xx whose body is not the documented shape: retrying will not help, and nothing of it is used."""
