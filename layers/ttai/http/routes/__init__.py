"""Route modules: parse, call one service, return a model."""
