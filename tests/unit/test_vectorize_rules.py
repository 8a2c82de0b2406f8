"""Vectorize's rules on the binding's pure functions: values, metadata, options, filters and request batching."""

from __future__ import annotations

import json
import math
from array import array
from typing import Any

import pytest

from ttai.bindings.vectorize import (
    InvalidFilter,
    InvalidOption,
    InvalidVector,
    VectorizeError,
    VectorizeLimitExceeded,
    VectorizeQueryOptions,
)
from ttai.bindings.vectorize.filters import compile_filter, sql_literal
from ttai.bindings.vectorize.index import REQUEST_BUDGET, _batches, _id_batches
from ttai.bindings.vectorize.model import (
    MAX_FILTER_BYTES,
    check_index_name,
    check_property,
    decode_values,
    encode_metadata,
    encode_values,
    encode_vector,
    indexed_metadata,
    indexed_string,
    query_options,
)
from ttai.errors import BindingError


def test_every_vectorize_error_is_a_binding_error() -> None:
    for error in (InvalidFilter, InvalidOption, InvalidVector, VectorizeError, VectorizeLimitExceeded):
        assert issubclass(error, BindingError)


def test_values_become_pgvector_text_with_float32_precision() -> None:
    assert encode_values([0.1, -2, 3.4e38, 1e-50], 4, "euclidean", "v") == "[0.100000001,-2,3.39999995e+38,0]"
    assert encode_values(array("d", [1.5, 2.5]), 2, "cosine", "v") == "[1.5,2.5]"
    assert encode_values(iter([1, 2]), 2, "cosine", "v") == "[1,2]"
    assert decode_values("[0.1,-2,3]") == [0.10000000149011612, -2.0, 3.0]


@pytest.mark.parametrize(
    ("values", "metric", "message"),
    [
        ([1, 2], "cosine", "2 dimensions, but the index has 3"),
        ("abc", "cosine", "list of numbers"),
        ({"a": 1}, "cosine", "list of numbers"),
        ([1, "2", 3], "cosine", "numbers"),
        ([1, None, 3], "cosine", "numbers"),
        ([1, True, 3], "cosine", "booleans"),
        ([1, math.inf, 3], "cosine", "finite"),
        ([1, 1e39, 3], "cosine", "float32"),
        ([1, 10**400, 3], "cosine", "float32"),
        ([0, 0, 0], "cosine", "zero vector"),
        ([0, 1e-46, 0], "cosine", "zero vector"),  # zero once stored as float32
    ],
)
def test_values_vectorize_cannot_store_are_refused(values: object, metric: Any, message: str) -> None:
    with pytest.raises(InvalidVector, match=message):
        encode_values(values, 3, metric, "v")


def test_a_zero_vector_is_fine_where_the_metric_has_a_score_for_it() -> None:
    assert encode_values([0, 0, 0], 3, "euclidean", "v") == "[0,0,0]"
    assert encode_values([0, 0, 0], 3, "dot-product", "v") == "[0,0,0]"


def test_metadata_is_checked_as_vectorize_checks_it() -> None:
    assert encode_metadata(None, "m") is None
    assert encode_metadata({"a": {"b": [1, "é"]}}, "m") == '{"a":{"b":[1,"é"]}}'
    for bad, message in [
        ([1], "object"),
        ({"": 1}, "metadata key"),
        ({"a": {"b.c": 1}}, "metadata key"),  # dots nest, at every level
        ({'q"': 1}, "metadata key"),
        ({"$a": 1}, "metadata key"),
        ({"a": 10**400}, "float64"),
        ({"a": {1, 2}}, "JSON"),
    ]:
        with pytest.raises(InvalidVector, match=message):
            encode_metadata(bad, "m")
    exactly = {"k": "x" * (10 * 1024 - len('{"k":""}'))}
    assert encode_metadata(exactly, "m") is not None
    with pytest.raises(VectorizeLimitExceeded, match="10 KiB"):
        encode_metadata({"k": exactly["k"] + "x"}, "m")
    with pytest.raises(VectorizeLimitExceeded):  # bytes, not characters
        encode_metadata({"k": "é" * (5 * 1024)}, "m")


def test_an_encoded_vector_is_one_json_record_and_knows_its_request_cost() -> None:
    vector = encode_vector({"id": 'a"b', "values": [1, 2], "namespace": "n", "metadata": {"k": "v"}}, 2, "cosine", 0)
    record = json.loads(vector.record)
    assert record == {"id": 'a"b', "namespace": "n", "embedding": "[1,2]", "metadata": {"k": "v"}}
    assert vector.request_bytes == len(json.dumps(vector.record)) - 1  # escaped once more, plus a comma


def test_index_names_and_properties() -> None:
    assert check_index_name("ttai-knowledge") == "ttai-knowledge"
    for bad in ("Upper", "-lead", "under_score", "x" * 65, "", "quote'"):
        with pytest.raises(VectorizeError):
            check_index_name(bad)
    assert check_property("pandas.nice") == "pandas.nice"
    for bad in ("", "a..b", "a.", 'q"', "$x"):
        with pytest.raises(VectorizeError):
            check_property(bad)
    with pytest.raises(VectorizeLimitExceeded):
        check_property("p" * 513)


def test_indexed_strings_keep_64_bytes_ending_on_a_character() -> None:
    assert indexed_string("x" * 70) == "x" * 64
    assert indexed_string("x" * 63 + "é") == "x" * 63
    assert indexed_string("é" * 40) == "é" * 32
    assert indexed_string("short") == "short"


def test_indexed_metadata_nests_dotted_properties_again() -> None:
    projection: dict[str, dict[str, Any]] = {
        "string": {"a.b": "x", "c": "y"},
        "number": {"a.d": 1.5},
        "boolean": {"e": True},
    }
    assert indexed_metadata(projection) == {"a": {"b": "x", "d": 1.5}, "c": "y", "e": True}


# --------------------------------------------------------------------- options


def test_query_options_from_each_form_and_their_defaults() -> None:
    defaults = VectorizeQueryOptions()
    assert (defaults.top_k, defaults.return_values, defaults.return_metadata) == (5, False, "none")
    assert query_options(None, {}) == defaults
    camel = query_options({"topK": 7, "returnValues": True, "returnMetadata": "indexed", "namespace": "n"}, {})
    assert camel == VectorizeQueryOptions(top_k=7, namespace="n", return_values=True, return_metadata="indexed")
    assert (
        query_options({"top_k": 7, "return_values": True, "return_metadata": "indexed", "namespace": "n"}, {}) == camel
    )
    assert (
        query_options(None, {"top_k": 7, "return_values": True, "return_metadata": "indexed", "namespace": "n"})
        == camel
    )
    assert query_options({"topK": None}, {}) == defaults  # undefined in JavaScript
    assert query_options({"returnMetadata": True}, {}).return_metadata == "all"  # V1's boolean
    assert query_options({"returnMetadata": False}, {}).return_metadata == "none"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"topK": 2, "top_k": 2}, InvalidOption, "twice"),
        ({"returnvalues": True}, InvalidOption, "'returnvalues'"),
        ({"topK": "5"}, InvalidOption, "whole number"),
        ({"topK": True}, InvalidOption, "whole number"),
        ({"returnValues": "yes"}, InvalidOption, "true or false"),
        ({"filter": [1]}, InvalidOption, "object"),
        ({"topK": 100}, None, ""),
        ({"topK": 101}, VectorizeLimitExceeded, "100"),
        ({"topK": 20, "returnValues": True}, None, ""),
        ({"topK": 21, "returnValues": True}, VectorizeLimitExceeded, "20"),
        ({"topK": 21, "returnMetadata": "all"}, VectorizeLimitExceeded, "20"),
        ({"topK": 100, "returnMetadata": "indexed"}, None, ""),  # indexed metadata is not 'all'
        ({"namespace": ""}, InvalidVector, "non-empty"),
    ],
)
def test_query_option_rules(options: dict[str, Any], error: type[Exception] | None, message: str) -> None:
    if error is None:
        query_options(options, {})
        return
    with pytest.raises(error, match=message):
        query_options(options, {})


# --------------------------------------------------------------------- filters


def test_filters_compile_to_the_expressions_metadata_indexes_cover() -> None:
    sql, params = compile_filter({"genre": "drama", "year": {"$gte": 2000, "$lt": 2010}})
    assert "((v.indexed -> 'string' ->> 'genre') COLLATE \"C\") IN (CAST(? AS text))" in sql
    assert "((v.indexed -> 'number' ->> 'year')::float8) >= CAST(? AS float8)" in sql
    assert "((v.indexed -> 'number' ->> 'year')::float8) < CAST(? AS float8)" in sql
    assert params == ["drama", 2000.0, 2010.0]
    sql, params = compile_filter({"k": {"$in": ["a", 1, True, None]}})
    assert params == ["a", 1.0, True]  # grouped by type; null matches nothing
    assert sql.count(" IN (") == 3
    assert compile_filter({"k": None}) == ("FALSE", [])
    long = "é" * 40
    assert compile_filter({"k": long})[1] == ["é" * 32]  # compared on what the index keeps


def test_property_names_are_quoted_whatever_the_server_does_with_backslashes() -> None:
    assert sql_literal("plain") == "'plain'"
    assert sql_literal("it's") == "'it''s'"
    assert sql_literal("a\\b'c") == "E'a\\\\b''c'"


def test_the_filter_size_limit_is_on_its_compact_json() -> None:
    base = {"k": ""}
    room = MAX_FILTER_BYTES - 1 - len(json.dumps(base, separators=(",", ":")))
    compile_filter({"k": "x" * room})
    with pytest.raises(VectorizeLimitExceeded, match="2048"):
        compile_filter({"k": "x" * (room + 1)})


# --------------------------------------------------------------------- batching


def test_batches_fill_requests_without_passing_the_budget() -> None:
    vector = encode_vector({"id": "v", "values": [0.123456789] * 1024}, 1024, "cosine", 0)
    batches = list(_batches([vector] * 1000))
    assert sum(len(b) for b in batches) == 1000
    assert all(2 + sum(v.request_bytes for v in b) <= REQUEST_BUDGET for b in batches)
    per_batch = (REQUEST_BUDGET - 2) // vector.request_bytes
    assert [len(b) for b in batches[:-1]] == [per_batch] * (len(batches) - 1)


def test_id_batches_split_only_past_the_request_budget() -> None:
    assert list(_id_batches(["a", "b"])) == [["a", "b"]]
    many = [f"{n:064d}" for n in range(70_000)]  # about 4.7 MB of ids as JSON in JSON
    parts = list(_id_batches(many))
    assert len(parts) == 2
    assert sum(len(p) for p in parts) == len(many)
    assert all(len(json.dumps(json.dumps(p, separators=(",", ":")))) <= REQUEST_BUDGET for p in parts)
