"""TastyTrade as the source of what the cache holds: a REST client (User-Agent, token refresh, retries, a circuit
breaker shared by every container), TastyTrade's documented shapes, and their translation into ours.

Nothing is re-exported here: a caller imports the module it needs (``errors`` alone stays cheap for sign-in)."""
