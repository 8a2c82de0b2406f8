"""Typed errors shared by bindings, services and the HTTP edge (mapped to statuses in one place)."""

from __future__ import annotations

import traceback


class TtaiError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigurationError(TtaiError):
    """A setting the code needs is missing or malformed: a deployment fault, never the caller's."""


class BindingError(TtaiError, ValueError):
    """A binding was used outside the limits of the Cloudflare API it mirrors.

    Our code's fault unless a service says otherwise: an untranslated one is a 500. A service turns the ones a
    caller's input can cause into :class:`BadRequest`.
    """


class BadRequest(TtaiError, ValueError):
    """What the caller caused (a cursor, a key, a list option they sent): a 400 whose message is written for them.

    The message reaches the caller as it is, so it never carries backend text (AWS or PostgreSQL messages, ARNs).
    """


class Unavailable(TtaiError):
    """A dependency cannot serve now and a retry later may succeed: a 503 with ``Retry-After``.

    ``dependency`` names it for a caller ("the database", "the cache"), since the 503's message is built from it
    and ``retry_after`` (whole seconds) rather than from the exception's own text, which is for the log and may
    quote AWS.
    """

    def __init__(self, message: str, *, dependency: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.dependency = dependency
        self.retry_after = max(1, int(retry_after))


class Throttled(Unavailable):
    """AWS refused the call for its rate (ProvisionedThroughputExceeded, ThrottlingException, SlowDown...)."""


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


def describe_error(error: BaseException) -> str:
    """An error as a log line may carry it: what kind, where it was raised, and the same for each cause.

    The package's own errors (``TtaiError``) keep their message: it is written here to name no secret. Any other
    error is described by its class and frames only, because its message can quote what it was given (http.client's
    ``InvalidURL`` quotes the URL, and a Discord webhook URL is a credential).
    """
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < _CAUSES_SHOWN:
        kind = type(current).__name__
        what = f"{kind}: {current}" if isinstance(current, TtaiError) else kind
        frames = traceback.extract_tb(current.__traceback__)[-_FRAMES_SHOWN:]
        where = " < ".join(f"{_short(frame.filename)}:{frame.lineno} {frame.name}" for frame in reversed(frames))
        parts.append(f"{what} at {where}" if where else what)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "; caused by ".join(parts)


_CAUSES_SHOWN = 4
_FRAMES_SHOWN = 6


def _short(filename: str) -> str:
    """The last two parts of a source path (``notify/discord.py``): enough to find it, without the machine's layout."""
    return "/".join(filename.replace("\\", "/").rsplit("/", 2)[-2:])
