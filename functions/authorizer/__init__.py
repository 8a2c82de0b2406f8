"""The authorizer function (HTTP API Lambda REQUEST authorizer)."""
