"""The Durable Object binding's errors: what a stub call raises (with Cloudflare's flags) and what misuse raises."""

from __future__ import annotations

from ttai.bindings import common
from ttai.errors import BindingError, ConfigurationError, TtaiError


class DurableObjectError(TtaiError):
    """A stub call that failed, as Cloudflare reports it to the caller.

    ``name`` is the class name of the exception (``ValueError``, ``KeyTooLong``...); ``remote`` is True when the
    object's own code raised it; ``retryable`` when the failure was transient and the call may be sent again (it
    did not take effect); ``overloaded`` when the object had more work queued than it could take (do not retry at
    once).
    """

    def __init__(
        self,
        message: str,
        *,
        name: str = "Error",
        remote: bool = False,
        retryable: bool = False,
        overloaded: bool = False,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.remote = remote
        self.retryable = retryable
        self.overloaded = overloaded

    def __repr__(self) -> str:
        flags = ", ".join(f for f in ("remote", "retryable", "overloaded") if getattr(self, f))
        return f"DurableObjectError({self.name}: {self.message!r}{', ' + flags if flags else ''})"


class DurableBindingError(BindingError):
    """Base of the errors a misuse of the binding raises, before any AWS call."""


class InvalidId(DurableBindingError):
    """Not a 64-hex-digit object id, or an id of another namespace."""


class InvalidNamespace(DurableBindingError):
    """A namespace name the host does not know, or one that is not a binding name."""


class InvalidKey(DurableBindingError, common.InvalidKey):
    """A storage key that is not a string of valid Unicode."""


class KeyTooLong(InvalidKey, common.KeyTooLong):
    """A storage key over the length DynamoDB's sort key leaves (Cloudflare allows 2 KiB)."""


class ValueTooLarge(DurableBindingError, common.ValueTooLarge):
    """A stored value over 128 KiB once encoded, or an RPC payload over Lambda's 6 MB."""


class TooManyKeys(DurableBindingError, common.TooManyKeys):
    """A get, put or delete of more than 128 keys."""


class UnsupportedValue(DurableBindingError, common.UnsupportedValue):
    """A value the binding cannot store or send and read back unchanged (Cloudflare's DataCloneError)."""


class InvalidListOptions(DurableBindingError, common.InvalidListOptions):
    """``start`` with ``start_after``, a limit that is not a positive integer, or an unknown option."""


class InvalidAlarm(DurableBindingError):
    """An alarm time that is not milliseconds since the epoch or an aware datetime, or a class with no alarm()."""


class InvalidTransaction(DurableBindingError):
    """A transaction inside a transaction, an operation after rollback(), or one too large for DynamoDB."""


class TransactionTooLarge(InvalidTransaction):
    """A transaction whose writes do not fit in one DynamoDB transaction (100 actions, 4 MB)."""


class WebSocketsUnavailable(ConfigurationError):
    """The hibernation WebSocket API was used on a host that has no WebSocket gateway wired in."""


class InvalidWebSocket(DurableBindingError):
    """A hibernation WebSocket used outside Cloudflare's rules: more than 10 tags or one over 256 characters, a socket
    accepted twice by one object, one its object does not hold, or a connection that has closed."""


class AttachmentTooLarge(InvalidWebSocket):
    """``serialize_attachment`` of a value over 2,048 bytes once serialized (Cloudflare's limit)."""


class MessageTooLarge(InvalidWebSocket):
    """A ``send`` over API Gateway's 128 KB message quota (Cloudflare sends up to 32 MiB)."""


class UnsupportedClose(InvalidWebSocket):
    """A ``close`` with a code other than 1000 or a reason: API Gateway's DeleteConnection takes neither."""
