"""The Vectorize binding's errors, in a module of their own so the HTTP layer can map them without the binding.

Every ``VectorizeError`` is raised before anything is written: input outside Cloudflare's contract or limits is
refused before any SQL runs, and the few rules only the database can check (a metadata index that already exists,
the eleventh one) are refused by the statement that would have written, which then writes nothing.
"""

from __future__ import annotations

from ttai.errors import BindingError, ConfigurationError


class VectorizeError(BindingError):
    """A call Vectorize would refuse; the message says which rule it broke."""


class VectorizeLimitExceeded(VectorizeError):
    """Over one of Vectorize's documented limits (dimensions, id and metadata sizes, topK, batch, filter size,
    namespace length, metadata indexes per index); the message names the limit."""


class InvalidVector(VectorizeError):
    """A vector (or query vector) Vectorize cannot store: wrong dimensions, non-numbers, NaN or infinity, values
    beyond float32, a zero vector on a cosine index, a bad id, namespace or metadata."""


class InvalidFilter(VectorizeError):
    """A metadata filter outside Vectorize's grammar: an unknown operator, a value of the wrong type, a range
    combination it does not allow, a malformed key."""


class InvalidOption(VectorizeError):
    """An unknown query option, or a known one with a value of the wrong type."""


class VectorizeIndexExists(VectorizeError):
    """A Vectorize index of that name already exists (its configuration cannot change)."""


class MetadataIndexExists(VectorizeError):
    """A metadata index on that property already exists."""


class MetadataIndexNotFound(VectorizeError):
    """No metadata index on that property."""


class VectorizeIndexNotFound(ConfigurationError):
    """The database has no Vectorize index of that name, or has it with other dimensions or another metric than
    the binding was configured with (a deployment fault, never the caller's)."""
