"""What every binding shares: one hierarchy of error kinds, key checks, list cursors, and AWS failures reported as
the contract's ``Unavailable`` / ``Throttled``.

- Error kinds (``InvalidKey``, ``KeyTooLong``, ``ValueTooLarge``, ``UnsupportedValue``, ``InvalidMetadata``,
  ``MetadataTooLarge``, ``InvalidListOptions``, ``TooManyKeys``), all under ``BindingError``. Each binding keeps its
  own classes under their names (``kv.InvalidKey``, ``r2.InvalidKey``...), each a subclass of its binding's base and
  of the kind here, so ``except InvalidKey`` catches a bad key from any binding and ``except KVError`` still catches
  everything KV raises. Like every ``BindingError`` they are the code's misuse of a binding (a 500 unless a service
  translates them into a ``BadRequest``), raised before any request is sent.
- ``KeyRules``: one binding's key limit in UTF-8 bytes (as Cloudflare counts), reserved names and error classes. A
  Python ``str`` can hold what has no UTF-8 form (a lone surrogate): such a key is refused here, not inside
  botocore's encoder. ``successor`` bounds a prefix range.
- ``worker_options``: the option mappings Worker code passes (``{"onlyIf": {...}}``, ``{"cacheTtl": 60}``), in
  Cloudflare's camelCase or in snake_case, merged with the binding's Python keywords into one snake_case dict; a name
  the call does not take, or one option given twice, is an ``InvalidOption`` naming it, never ignored.
- ``ListCursors``: KV's and R2's opaque list cursors, the base64url (unpadded) of compact JSON holding a position
  (the last key listed, S3's continuation token) and the options it was issued for; reading one back checks both,
  so a cursor from another prefix or a hand-made one is an ``InvalidListOptions``, never a list that silently starts
  elsewhere. Nothing is signed: such a cursor only moves a caller within what it may already list. The API's own
  cursors, which cross to callers and are authenticated, are ``ttai.cursors``.
- AWS failures: ``error_code`` / ``http_status`` of a botocore error, and ``unavailable``, which gives the ones a
  retry may cure (throttling, a service failing for now, an endpoint that cannot be reached) as ``Throttled`` /
  ``Unavailable``: a 503 with Retry-After at the edge. botocore has already retried them by then. Everything else
  (a refused request, a missing resource, our own bad call) is left alone: the binding translates the codes it
  expects into its own errors and lets the rest rise. ``reports_unavailable`` does this for a binding's methods;
  ``retry_unprocessed`` drives DynamoDB's batch calls.

One module, not a package, so that a function that imports a binding at cold start pays for one more file only.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, NamedTuple, ParamSpec, TypeVar

from ttai.errors import BindingError, Throttled, Unavailable

# ------------------------------------------------------------------------------------- error kinds


class InvalidKey(BindingError):
    """A key, prefix or bound that is not text the binding can store: not a string, empty or reserved, or holding
    a lone surrogate (no UTF-8 form)."""


class KeyTooLong(InvalidKey):
    """A key (or list prefix) over the binding's limit in UTF-8 bytes."""


class ValueTooLarge(BindingError):
    """A value over the size the binding (or where it was sent) takes."""


class UnsupportedValue(BindingError):
    """A value of a type the binding cannot store and read back unchanged."""


class InvalidMetadata(BindingError):
    """Metadata of the wrong shape or type."""


class MetadataTooLarge(InvalidMetadata):
    """Metadata over the binding's size limit."""


class InvalidListOptions(BindingError):
    """A list limit, bound or option the binding does not take, or a cursor it did not issue for these options."""


class TooManyKeys(BindingError):
    """More keys in one call than the binding takes."""


class InvalidOption(BindingError):
    """An option a call does not take (named in the message), one given twice, or options that are not a mapping."""


# ----------------------------------------------------------------------------------- Worker options


def camel_case(name: str) -> str:
    """Cloudflare's spelling of a snake_case option name: ``only_if`` -> ``onlyIf``."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def worker_options(
    call: str,
    names: Collection[str],
    *given: Mapping[str, Any] | None,
    error: type[InvalidOption] = InvalidOption,
) -> dict[str, Any]:
    """The options of one call as ``{snake_case name: value}``, from every mapping in ``given`` (the Worker's options
    object, the Python keywords, the camelCase keywords caught by ``**``), each spelled in snake_case or camelCase.

    A value of None is an option not given (JavaScript's ``undefined``). A name outside ``names`` raises ``error``
    naming it and listing what the call takes; so does one option given twice (in two spellings or two places).
    """
    spelled: dict[str, str] = {}
    for name in names:
        spelled[name] = name
        spelled[camel_case(name)] = name
    merged: dict[str, Any] = {}
    for source in given:
        if source is None:
            continue
        if not isinstance(source, Mapping):
            raise error(f"{call}: options must be a mapping (a dict), got {type(source).__name__}")
        for key, value in source.items():
            name = spelled.get(key, "") if isinstance(key, str) else ""
            if not name:
                takes = ", ".join(camel_case(n) for n in names) or "no options"
                raise error(f"{call}: unknown option {key!r}; it takes {takes} (camelCase or snake_case)")
            if value is None:
                continue
            if name in merged:
                raise error(f"{call}: option {camel_case(name)} / {name} given twice")
            merged[name] = value
    return merged


# -------------------------------------------------------------------------------------------- keys

_SURROGATES = range(0xD800, 0xE000)


class KeyRules(NamedTuple):  # a NamedTuple: cheaper than a dataclass to define at cold start
    """One binding's key rules, raising that binding's own ``InvalidKey`` / ``KeyTooLong`` classes."""

    max_bytes: int
    invalid: type[InvalidKey] = InvalidKey
    too_long: type[KeyTooLong] = KeyTooLong
    reserved: Collection[str] = ("",)  # names no key may have ("" is an empty key)
    why_limit: str = ""  # said after the limit when it differs from Cloudflare's

    def encode(self, text: object, what: str = "key") -> bytes:
        """``text`` as UTF-8; the binding's InvalidKey if it is not a string or has no UTF-8 form."""
        if not isinstance(text, str):
            raise self.invalid(f"a {what} must be a string, got {type(text).__name__}")
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise self.invalid(f"the {what} {text!r} is not valid Unicode text (it holds a lone surrogate)") from exc

    def check_prefix(self, prefix: object, what: str = "prefix") -> None:
        """A list prefix (or a bound compared with keys): text within the key limit; it may be empty."""
        size = len(self.encode(prefix, what))
        if size > self.max_bytes:
            raise self.too_long(
                f"the {what} is {size} bytes; keys are at most {self.max_bytes} bytes of UTF-8{self.why_limit}"
            )

    def check_key(self, key: object) -> None:
        """A key: text within the limit and none of the reserved names."""
        if isinstance(key, str) and key in self.reserved:
            names = ["empty" if name == "" else repr(name) for name in self.reserved]
            listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
            raise self.invalid(f"invalid key {key!r}: a key cannot be {listed}")
        self.check_prefix(key, "key")


def successor(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix`` (None: there is none).

    In UTF-8 byte order, which is code point order: the last character that can grow grows by one, skipping the
    surrogates (they have no UTF-8 form, so no stored key holds them), and what follows it is dropped.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code in _SURROGATES:
            code = _SURROGATES.stop
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None  # the prefix is all U+10FFFF: no upper bound exists, so a range over it runs open-ended


# ------------------------------------------------------------------------------------ list cursors


class ListCursors(NamedTuple):  # a NamedTuple: cheaper than a dataclass to define at cold start
    """The cursors of one binding's ``list``.

    ``position`` is the JSON field of the position, ``options`` maps each JSON field of a bound option to the option's
    name (said in errors); ``issuer`` is what the binding is called in errors ("namespace", "bucket").
    """

    issuer: str
    position: str
    options: Mapping[str, str]
    error: type[InvalidListOptions] = InvalidListOptions

    def encode(self, position: str, **options: str | None) -> str:
        """A cursor resuming at ``position`` for a list with these ``options`` (by field)."""
        payload = json.dumps({self.position: position, **options}, separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode("ascii")).decode("ascii").rstrip("=")

    def decode(self, cursor: str, **options: str | None) -> str:
        """The position ``cursor`` holds, if this binding issued it for a list with these ``options``."""
        refused = f"list cursor is not one this {self.issuer} issued"
        try:
            payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            position = payload[self.position]
            issued = {field: payload[field] for field in self.options}
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as exc:
            raise self.error(refused) from exc
        if not isinstance(position, str):
            raise self.error(refused)
        if issued != options:
            names = " or ".join(self.options.values())
            raise self.error(f"list cursor was issued for a different {names}")
        try:
            position.encode("utf-8")  # every key and token is UTF-8 text: a lone surrogate is none of them
        except UnicodeEncodeError as exc:
            raise self.error(refused) from exc
        return position


# ------------------------------------------------------------------------------------ AWS failures


# Codes AWS services use for "too many requests" (the union botocore's standard retry mode treats as throttling,
# less LimitExceededException, which several services use for quotas that waiting does not lift).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
# Codes and HTTP statuses of a service that is down or failing for now (botocore's transient ones, and the names
# services give their 503).
UNAVAILABLE_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceUnavailableError",
        "InternalServerError",
        "InternalError",
        "InternalFailure",
    }
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
THROTTLED_RETRY_AFTER = 1  # seconds: botocore's own backoff has already waited this long between attempts
UNAVAILABLE_RETRY_AFTER = 5

_P = ParamSpec("_P")
_R = TypeVar("_R")


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for any other exception)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def http_status(exc: BaseException) -> int:
    """The HTTP status of a ``ClientError``'s response (0 when there is none)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def unavailable(exc: BaseException, dependency: str) -> Unavailable | None:
    """``Throttled`` for an AWS throttling error, ``Unavailable`` for a service failing for now or an endpoint that
    could not be reached, None for anything else. ``dependency`` names the service in the caller's words."""
    from botocore.exceptions import ClientError, HTTPClientError  # noqa: PLC0415 - classified on failure only
    from botocore.exceptions import ConnectionError as EndpointUnreachable  # noqa: PLC0415

    if isinstance(exc, ClientError):
        code, status = error_code(exc), http_status(exc)
        if code in THROTTLING_CODES or status == 429:
            return Throttled(
                f"{dependency}: throttled ({code or status})", dependency=dependency, retry_after=THROTTLED_RETRY_AFTER
            )
        if code in UNAVAILABLE_CODES or status in TRANSIENT_STATUSES:
            return Unavailable(
                f"{dependency}: failing for now ({code or status})",
                dependency=dependency,
                retry_after=UNAVAILABLE_RETRY_AFTER,
            )
        return None
    if isinstance(exc, EndpointUnreachable | HTTPClientError):
        return Unavailable(
            f"{dependency}: unreachable ({type(exc).__name__})",
            dependency=dependency,
            retry_after=UNAVAILABLE_RETRY_AFTER,
        )
    return None


def reports_unavailable(dependency: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a binding method: an AWS error it lets out that a retry may cure rises as ``Unavailable`` /
    ``Throttled`` (from the botocore error), every other exception as it is."""

    def decorate(method: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(method)
        def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(*args, **kwargs)
            except Unavailable:
                raise
            except Exception as exc:
                translated = unavailable(exc, dependency)
                if translated is None:
                    raise
                raise translated from exc

        return call

    return decorate


def throttled(dependency: str, message: str) -> Throttled:
    """The error for work AWS accepted only in part, still unfinished after the binding's own retries."""
    return Throttled(f"{dependency}: {message}", dependency=dependency, retry_after=THROTTLED_RETRY_AFTER)


def retry_unprocessed(
    send: Callable[[dict[str, Any]], dict[str, Any]],
    request: dict[str, Any],
    *,
    leftover: str,
    dependency: str,
    attempts: int = 7,
    sleep: Callable[[float], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Each response of a DynamoDB batch call (BatchGetItem, BatchWriteItem), the part it left unprocessed
    (``leftover``: "UnprocessedKeys" / "UnprocessedItems") sent again with exponential backoff, as AWS advises;
    ``Throttled`` once ``attempts`` calls leave some still unprocessed. A generator: iterate it to the end."""
    pause = sleep or time.sleep
    for attempt in range(attempts):
        response = send(request)
        yield response
        request = response.get(leftover) or {}
        if not request:
            return
        if attempt + 1 < attempts:
            pause(min(0.05 * 2**attempt, 1.0))
    raise throttled(dependency, f"DynamoDB left work unprocessed after {attempts - 1} retries")
