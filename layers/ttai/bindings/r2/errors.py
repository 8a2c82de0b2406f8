"""The R2 binding's errors: each a subclass of ``R2Error`` and, where there is one, of the kind all bindings share."""

from __future__ import annotations

from ttai.bindings import common
from ttai.errors import BindingError

DEPENDENCY = "object storage"  # what a 503 calls S3 when it throttles or is away


class R2Error(BindingError):
    """Base of the R2 binding's errors."""


class InvalidKey(R2Error, common.InvalidKey):
    """An empty key, or one that is not text."""


class KeyTooLong(InvalidKey, common.KeyTooLong):
    """A key (or list prefix) over 1,024 UTF-8 bytes."""


class InvalidMetadata(R2Error, common.InvalidMetadata):
    """HTTP or custom metadata of the wrong shape (custom metadata maps strings to strings)."""


class MetadataTooLarge(InvalidMetadata, common.MetadataTooLarge):
    """Custom metadata over 2,048 bytes, or whose stored (encoded) form is over S3's 2 KB."""


class InvalidRange(R2Error):
    """A range that is not one of {offset, length?}, {offset?, length}, {suffix}, or one S3 cannot express."""


class RangeNotSatisfiable(R2Error):
    """The range starts at or past the end of the object (R2's error 10039, HTTP 416)."""


class InvalidCondition(R2Error):
    """An ``only_if`` of the wrong shape."""


class UnsupportedCondition(R2Error):
    """A condition R2 evaluates that S3 cannot evaluate atomically for this operation."""


class InvalidListOptions(R2Error, common.InvalidListOptions):
    """A limit outside 1..1000, an unknown include, or a cursor this binding did not issue for these options."""


class UnknownListCursor(InvalidListOptions):
    """A list cursor whose continuation token S3 refused: S3 did not issue it (InvalidArgument, "The continuation
    token provided is incorrect")."""


class TooManyKeys(R2Error, common.TooManyKeys):
    """A delete of more than 1,000 keys."""


class ValueTooLarge(R2Error, common.ValueTooLarge):
    """A value over the size one upload or one part may have."""


class UnsupportedValue(R2Error, common.UnsupportedValue):
    """A value the binding cannot store (not text, bytes, a binary file or an iterable of bytes)."""


class InvalidPart(R2Error):
    """A part number outside 1..10000, a part below 5 MiB that is not the last, or parts S3 does not know."""


class NoSuchUpload(R2Error):
    """The multipart upload was completed, aborted, or never existed."""


class InvalidOption(R2Error, common.InvalidOption):
    """An option R2's Worker API does not have (named in the message), one given twice, or options not a mapping."""


class UnsupportedOption(R2Error):
    """An option R2 has that S3 cannot honour through this binding (extra checksums, SSE-C keys, storage classes)."""
