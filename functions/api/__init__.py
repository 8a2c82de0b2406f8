"""The api function (HTTP API integration)."""
