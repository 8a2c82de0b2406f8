"""Typed errors shared by bindings, services and the HTTP edge (mapped to statuses in one place)."""

from __future__ import annotations


class TtaiError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(TtaiError):
    """A setting the code needs is missing or malformed: a deployment fault, never the caller's."""


class BindingError(TtaiError, ValueError):
    """A binding was used outside the limits of the Cloudflare API it mirrors."""


class NotFound(TtaiError):
    """The thing asked for does not exist (or does not exist for this caller)."""


class Forbidden(TtaiError):
    """The caller is known but may not do this."""


class Unauthorized(TtaiError):
    """The caller could not be identified: no token, or a token that does not verify."""


class Conflict(TtaiError):
    """The request is valid but the stored state forbids it now (closing what is closed, cancelling a fired alert)."""


class InvalidField(TtaiError):
    """Input that passed its model but breaks a rule only stored data can check; names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
