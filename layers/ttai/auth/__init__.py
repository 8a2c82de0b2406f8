"""Session tokens, the session records behind them, and the HTTP API's Lambda authorizer."""
