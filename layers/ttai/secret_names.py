"""The names of the stack's secrets (storage.json's ``secrets``), as code reads them with ``env.secret(name)``."""

# Names, not values (hence the S105 waivers).
JWT_SECRET = "JWT_SECRET"  # noqa: S105 - HS256 key of session tokens
CURSOR_SECRET = "CURSOR_SECRET"  # noqa: S105 - HMAC key of the API's paging cursors
TOKEN_ENCRYPTION_KEY = "TOKEN_ENCRYPTION_KEY"  # noqa: S105 - key material sealing stored TastyTrade tokens
TASTYTRADE_CLIENT_ID = "TASTYTRADE_CLIENT_ID"  # the OAuth client TastyTrade issued
TASTYTRADE_CLIENT_SECRET = "TASTYTRADE_CLIENT_SECRET"  # noqa: S105
# The refresh token of the stack's own grant, whose session fetches market data for the cache (never a user's).
TASTYTRADE_SERVICE_REFRESH_TOKEN = "TASTYTRADE_SERVICE_REFRESH_TOKEN"  # noqa: S105

SECRET_NAMES = (
    JWT_SECRET,
    CURSOR_SECRET,
    TOKEN_ENCRYPTION_KEY,
    TASTYTRADE_CLIENT_ID,
    TASTYTRADE_CLIENT_SECRET,
    TASTYTRADE_SERVICE_REFRESH_TOKEN,
)
