"""Vectorize's limits and the shapes Worker code passes, checked before any SQL runs.

Vectors and query options arrive as plain mappings (Cloudflare's camelCase or snake_case keys) or as the typed
objects here; an unknown key is refused by name. Values become the text pgvector reads (``[v1,v2,...]``, float32
precision, as Vectorize stores them) and come back widened from float32 as Vectorize returns them.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any, Literal, get_args

from ttai.bindings.vectorize.errors import InvalidOption, InvalidVector, VectorizeError, VectorizeLimitExceeded

# Cloudflare's documented limits (vectorize/platform/limits, reference/metadata-filtering, reference/client-api).
MAX_DIMENSIONS = 1536
MAX_ID_BYTES = 64
MAX_NAMESPACE_BYTES = 64
MAX_INDEX_NAME_BYTES = 64
MAX_METADATA_BYTES = 10 * 1024
MAX_TOP_K = 100
MAX_TOP_K_WITH_DATA = 20  # with returnValues, or returnMetadata 'all'
DEFAULT_TOP_K = 5
MAX_BATCH = 1000  # vectors per insert or upsert from a Worker
MAX_FILTER_BYTES = 2048  # a filter's compact JSON must be shorter than this
MAX_FILTER_KEY_CHARS = 512
MAX_METADATA_INDEXES = 10
INDEXED_STRING_BYTES = 64  # what a string metadata index keeps of a value
FLOAT32_MAX = 3.4028234663852886e38

Metric = Literal["cosine", "euclidean", "dot-product"]
MetadataType = Literal["string", "number", "boolean"]
MetadataLevel = Literal["none", "indexed", "all"]
METRICS: tuple[str, ...] = get_args(Metric)
METADATA_TYPES: tuple[str, ...] = get_args(MetadataType)
METADATA_LEVELS: tuple[str, ...] = get_args(MetadataLevel)

_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_VECTOR_KEYS = frozenset({"id", "values", "namespace", "metadata"})
# Query option spellings: Cloudflare's camelCase and the snake_case of this API.
_QUERY_OPTIONS = {
    "topK": "top_k",
    "top_k": "top_k",
    "namespace": "namespace",
    "returnValues": "return_values",
    "return_values": "return_values",
    "returnMetadata": "return_metadata",
    "return_metadata": "return_metadata",
    "filter": "filter",
}


@dataclass(frozen=True, slots=True)
class VectorizeVector:
    """A vector to insert or upsert (Cloudflare's ``VectorizeVector``)."""

    id: str
    values: Sequence[float] | array[float]
    namespace: str | None = None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class VectorizeQueryOptions:
    """Options of ``query`` and ``query_by_id`` (Cloudflare's ``VectorizeQueryOptions``), defaults as documented."""

    top_k: int = DEFAULT_TOP_K
    namespace: str | None = None
    return_values: bool = False
    return_metadata: MetadataLevel = "none"
    filter: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class EncodedVector:
    """A checked vector as the write statement reads it: one JSON object of a batch."""

    id: str
    record: str  # {"id", "namespace", "embedding", "metadata"} as compact JSON
    request_bytes: int  # what it adds to a Data API request, once escaped inside the batch's string parameter


# --------------------------------------------------------------------- names and configuration


def check_index_name(name: object) -> str:
    if not isinstance(name, str) or not _INDEX_NAME.match(name) or len(name) > MAX_INDEX_NAME_BYTES:
        raise VectorizeError(
            f"index name {name!r}: use 1 to {MAX_INDEX_NAME_BYTES} lower-case letters, digits and dashes, "
            "starting with a letter or digit"
        )
    return name


def check_dimensions(dimensions: object) -> int:
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not 1 <= dimensions <= MAX_DIMENSIONS:
        raise VectorizeLimitExceeded(
            f"dimensions must be a whole number from 1 to {MAX_DIMENSIONS}, not {dimensions!r}"
        )
    return dimensions


def check_metric(metric: object) -> Metric:
    if metric not in METRICS:
        raise VectorizeError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    return metric  # type: ignore[return-value]  # checked against Metric's values just above


def check_metadata_type(kind: object) -> MetadataType:
    if kind not in METADATA_TYPES:
        raise VectorizeError(f"a metadata index's type is one of {', '.join(METADATA_TYPES)}, not {kind!r}")
    return kind  # type: ignore[return-value]  # checked against MetadataType's values just above


def check_property(name: object, what: str = "property") -> str:
    """A metadata property path as filters and metadata indexes name it: dots nest."""
    if not isinstance(name, str) or not name:
        raise VectorizeError(f"{what} {name!r}: must be a non-empty string")
    if len(name) > MAX_FILTER_KEY_CHARS:
        raise VectorizeLimitExceeded(f"{what} {name[:40]!r}...: over {MAX_FILTER_KEY_CHARS} characters")
    if '"' in name or "\x00" in name or name.startswith("$") or "" in name.split("."):
        raise VectorizeError(
            f"{what} {name!r}: may not contain '\"', start with '$', or have an empty part between dots"
        )
    return name


# --------------------------------------------------------------------- ids, namespaces, values, metadata


def _utf8_size(text: str, what: str) -> int:
    if "\x00" in text:
        raise InvalidVector(f"{what}: PostgreSQL text cannot hold NUL characters")
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidVector(f"{what}: not valid Unicode text ({exc.reason})") from exc


def check_id(value: object, what: str = "id") -> str:
    if not isinstance(value, str) or not value:
        raise InvalidVector(f"{what}: a vector id is a non-empty string, not {value!r}")
    if _utf8_size(value, what) > MAX_ID_BYTES:
        raise VectorizeLimitExceeded(f"{what} {value[:20]!r}...: over Vectorize's {MAX_ID_BYTES}-byte id limit")
    return value


def check_namespace(value: object, what: str = "namespace") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidVector(f"{what}: a namespace is a non-empty string (leave it out for none), not {value!r}")
    if _utf8_size(value, what) > MAX_NAMESPACE_BYTES:
        raise VectorizeLimitExceeded(f"{what} {value[:20]!r}...: over Vectorize's {MAX_NAMESPACE_BYTES}-byte limit")
    return value


def encode_values(values: object, dimensions: int, metric: Metric, what: str) -> str:
    """The values as pgvector's text (``[v1,v2,...]``), each to the 9 significant digits that keep a float32."""
    if isinstance(values, str | bytes | bytearray | Mapping) or not isinstance(values, Iterable):
        raise InvalidVector(f"{what}: values must be a list of numbers, not {type(values).__name__}")
    items = values if isinstance(values, Sequence | array) else list(values)
    if any(isinstance(v, bool) for v in items):
        raise InvalidVector(f"{what}: values must be numbers, not booleans")
    try:
        floats = array("f", items)
    except (TypeError, OverflowError) as exc:
        raise InvalidVector(f"{what}: values must be numbers within float32's range ({exc})") from exc
    if len(floats) != dimensions:
        raise InvalidVector(f"{what}: {len(floats)} dimensions, but the index has {dimensions}")
    if not math.isfinite(sum(floats)):  # NaN, infinity, or a value past float32's ±3.4e38 (stored as infinity)
        raise InvalidVector(f"{what}: values must be finite numbers within float32's range (±{FLOAT32_MAX:.4g})")
    if metric == "cosine" and not any(floats):
        raise InvalidVector(f"{what}: a zero vector has no direction, so no cosine score; the index is cosine")
    return "[" + ",".join(["%.9g" % v for v in floats]) + "]"  # noqa: UP031 - %-format is the fastest here


def decode_values(text: str) -> list[float]:
    """pgvector's text of a vector as Vectorize returns values: float32 widened to float64 (0.1 -> 0.100000001...)."""
    return array("f", json.loads(text)).tolist()


def encode_metadata(metadata: object, what: str) -> str | None:
    """Metadata as compact JSON (None for none), checked as Vectorize checks it."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise InvalidVector(f"{what}: metadata is an object of key-value pairs, not {type(metadata).__name__}")
    _check_metadata_value(metadata, what)
    try:
        text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidVector(f"{what}: metadata must be JSON ({exc})") from exc
    size = _utf8_size(text, what)
    if size > MAX_METADATA_BYTES:
        raise VectorizeLimitExceeded(f"{what}: metadata is {size} bytes as JSON; Vectorize's limit is 10 KiB")
    return text


def _check_metadata_value(value: object, what: str) -> None:
    """Keys as Vectorize requires them at every level (dots nest, so a key holds none), numbers within float64."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key or "." in key or '"' in key or key.startswith("$"):
                raise InvalidVector(
                    f"{what}: metadata key {key!r} must be a non-empty string without '.' or '\"', not starting "
                    "with '$'"
                )
            _check_metadata_value(item, what)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_metadata_value(item, what)
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError as exc:
            raise InvalidVector(f"{what}: metadata number {value} is beyond float64") from exc


def encode_vector(item: object, dimensions: int, metric: Metric, position: int) -> EncodedVector:
    """One vector of an insert or upsert, checked and encoded (``position`` names it in errors)."""
    if isinstance(item, VectorizeVector):
        fields: Mapping[str, Any] = _fields_of(item)
    elif isinstance(item, Mapping):
        unknown = sorted(str(k) for k in item if k not in _VECTOR_KEYS)
        if unknown:
            raise InvalidVector(
                f"vectors[{position}]: unknown field(s) {', '.join(unknown)} (id, values, namespace, metadata)"
            )
        fields = item
    else:
        raise InvalidVector(
            f"vectors[{position}]: a vector is a mapping or a VectorizeVector, not {type(item).__name__}"
        )
    what = f"vectors[{position}]"
    vector_id = check_id(fields.get("id"), f"{what}.id")
    if "values" not in fields:
        raise InvalidVector(f"{what}: values are missing")
    record = {
        "id": vector_id,
        "namespace": check_namespace(fields.get("namespace"), f"{what}.namespace"),
        "embedding": encode_values(fields["values"], dimensions, metric, f"{what}.values"),
    }
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    metadata = encode_metadata(fields.get("metadata"), f"{what}.metadata")
    if metadata is not None:
        text = f'{text[:-1]},"metadata":{metadata}}}'
    # The batch crosses as one string parameter: JSON-escaped again, plus the comma between records.
    return EncodedVector(vector_id, text, len(json.dumps(text)) - 1)


def check_ids(ids: object, what: str = "ids") -> list[str]:
    """Vector ids for get_by_ids and delete_by_ids, duplicates dropped, order kept."""
    if isinstance(ids, str) or not isinstance(ids, Iterable):
        raise InvalidVector(f"{what}: a list of vector ids, not {type(ids).__name__}")
    return list(dict.fromkeys(check_id(value, f"{what}[{i}]") for i, value in enumerate(ids)))


# --------------------------------------------------------------------- query options


def query_options(options: object, overrides: Mapping[str, Any]) -> VectorizeQueryOptions:
    """The options of one query, from a mapping (camelCase or snake_case), a VectorizeQueryOptions, or keywords."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if options is not None and given:
        raise InvalidOption("pass query options as one mapping (or VectorizeQueryOptions) or as keywords, not both")
    if isinstance(options, VectorizeQueryOptions):
        chosen: dict[str, Any] = _fields_of(options)
    elif isinstance(options, Mapping):
        chosen = {}
        for key, value in options.items():
            field = _QUERY_OPTIONS.get(key)
            if field is None:
                raise InvalidOption(
                    f"unknown query option {key!r}: Vectorize's are topK, namespace, returnValues, returnMetadata, "
                    "filter (or their snake_case)"
                )
            if field in chosen:
                raise InvalidOption(f"query option {field} is given twice (camelCase and snake_case)")
            if value is not None:  # undefined in JavaScript: the default
                chosen[field] = value
    elif options is None:
        chosen = given
    else:
        raise InvalidOption(f"query options are a mapping or VectorizeQueryOptions, not {type(options).__name__}")
    return _checked_options(chosen)


def _checked_options(chosen: Mapping[str, Any]) -> VectorizeQueryOptions:
    top_k = chosen.get("top_k", DEFAULT_TOP_K)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidOption(f"topK must be a whole number of at least 1, not {top_k!r}")
    return_values = chosen.get("return_values", False)
    if not isinstance(return_values, bool):
        raise InvalidOption(f"returnValues must be true or false, not {return_values!r}")
    level = chosen.get("return_metadata", "none")
    if isinstance(level, bool):  # the legacy boolean form: true asked for all metadata
        level = "all" if level else "none"
    if level not in METADATA_LEVELS:
        raise InvalidOption(f"returnMetadata must be one of {', '.join(METADATA_LEVELS)}, not {level!r}")
    limit = MAX_TOP_K_WITH_DATA if return_values or level == "all" else MAX_TOP_K
    if top_k > limit:
        reason = "with returnValues or returnMetadata 'all'" if limit == MAX_TOP_K_WITH_DATA else "at most"
        raise VectorizeLimitExceeded(f"topK {top_k} is over Vectorize's limit of {limit} ({reason})")
    namespace = check_namespace(chosen.get("namespace"), "namespace")
    query_filter = chosen.get("filter")
    if query_filter is not None and not isinstance(query_filter, Mapping):
        raise InvalidOption(f"filter must be an object, not {type(query_filter).__name__}")
    return VectorizeQueryOptions(top_k, namespace, return_values, level, query_filter)


# --------------------------------------------------------------------- metadata indexes


def indexed_string(value: str) -> str:
    """What a string metadata index keeps: the longest prefix of at most 64 bytes that ends on a character."""
    return value.encode("utf-8")[:INDEXED_STRING_BYTES].decode("utf-8", "ignore")


def indexed_metadata(projection: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The stored projection ({"string": {"a.b": ...}, ...}) as ``returnMetadata: 'indexed'`` shows it: nested."""
    nested: dict[str, Any] = {}
    for properties in projection.values():
        for path, value in properties.items():
            *parents, leaf = path.split(".")
            node = nested
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
    return nested


def _fields_of(value: VectorizeVector | VectorizeQueryOptions) -> dict[str, Any]:
    """A typed vector or options object as the mapping Worker code would pass (its fields, not copied)."""
    return {field.name: getattr(value, field.name) for field in dataclass_fields(value)}
