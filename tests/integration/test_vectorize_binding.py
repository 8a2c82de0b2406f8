"""Vectorize's contract on pgvector: the binding over the real embedded PostgreSQL, through the local Data API.

Each test makes an index of its own (a fresh name) and drops it after; calls are counted on the Data API client.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.d1 import D1Database
from ttai.bindings.vectorize import (
    InvalidFilter,
    InvalidOption,
    InvalidVector,
    MetadataIndexExists,
    MetadataIndexNotFound,
    VectorizeIndex,
    VectorizeIndexExists,
    VectorizeIndexNotFound,
    VectorizeLimitExceeded,
    VectorizeQueryOptions,
    VectorizeVector,
    create_vector_index,
    delete_vector_index,
)
from ttai.bindings.vectorize.filters import compile_filter
from ttai.bindings.vectorize.model import Metric, indexed_string
from ttai.errors import BindingError
from ttai.migrations import apply as apply_migrations
from ttai.services.backups import backup_prefix, restore, write_backup

MakeIndex = Callable[..., VectorizeIndex]


@pytest.fixture
def db(stack: LocalStack) -> D1Database:
    return stack.env.DB


@pytest.fixture
def rds_calls(stack: LocalStack) -> Iterator[CallCounter]:
    with CallCounter(stack.env.client("rds-data")) as counter:
        yield counter


@pytest.fixture
def make_index(db: D1Database) -> Iterator[MakeIndex]:
    made: list[str] = []

    def make(dimensions: int = 4, metric: Metric = "cosine", **options: Any) -> VectorizeIndex:
        name = f"t-{uuid.uuid4().hex[:12]}"
        made.append(name)
        return create_vector_index(db, name, dimensions=dimensions, metric=metric, **options)

    yield make
    for name in made:
        delete_vector_index(db, name)


@pytest.fixture
def index(make_index: MakeIndex) -> VectorizeIndex:
    return make_index()


def ids(result: dict[str, Any]) -> list[str]:
    return [match["id"] for match in result["matches"]]


# --------------------------------------------------------------------- writes


def test_insert_keeps_the_first_version_and_upsert_replaces_the_whole_vector(index: VectorizeIndex) -> None:
    first = index.insert([{"id": "a", "values": [1, 0, 0, 0], "namespace": "n1", "metadata": {"v": 1, "keep": True}}])
    assert first["count"] == 1
    uuid.UUID(first["mutation_id"])

    again = index.insert(
        [{"id": "a", "values": [0, 1, 0, 0], "metadata": {"v": 2}}, {"id": "b", "values": [0, 0, 1, 0]}]
    )
    assert again["count"] == 1  # only b was new
    assert index.get_by_ids(["a"]) == [
        {"id": "a", "values": [1.0, 0.0, 0.0, 0.0], "namespace": "n1", "metadata": {"v": 1, "keep": True}}
    ]

    replaced = index.upsert([{"id": "a", "values": [0, 1, 0, 0], "metadata": {"v": 3}}])
    assert replaced["count"] == 1
    assert replaced["mutation_id"] != first["mutation_id"]
    # Whole: the namespace and the metadata key not given are gone, nothing is merged.
    assert index.get_by_ids(["a"]) == [{"id": "a", "values": [0.0, 1.0, 0.0, 0.0], "metadata": {"v": 3}}]


def test_an_id_given_twice_in_one_call_is_written_once_first_for_insert_last_for_upsert(index: VectorizeIndex) -> None:
    twice = [
        {"id": "x", "values": [1, 0, 0, 0], "metadata": {"n": 1}},
        {"id": "x", "values": [0, 1, 0, 0], "metadata": {"n": 2}},
    ]
    assert index.insert(twice)["count"] == 1
    assert index.get_by_ids(["x"])[0]["metadata"] == {"n": 1}
    assert index.upsert(twice)["count"] == 1
    assert index.get_by_ids(["x"])[0]["metadata"] == {"n": 2}


def test_values_are_stored_as_float32_and_returned_widened_as_vectorize_does(index: VectorizeIndex) -> None:
    index.upsert([VectorizeVector(id="f", values=[0.1, -2.5, 1e-7, 3.0000001])])
    stored = index.get_by_ids(["f"])[0]["values"]
    assert stored == [0.10000000149011612, -2.5, 1.0000000116860974e-07, 3.0]


def test_describe_counts_vectors_and_reports_the_last_mutation(index: VectorizeIndex) -> None:
    assert index.describe() == {
        "vector_count": 0,
        "dimensions": 4,
        "processed_up_to_datetime": None,
        "processed_up_to_mutation": None,
    }
    written = index.upsert([{"id": str(i), "values": [1, i, 0, 0]} for i in range(5)])
    described = index.describe()
    assert (described["vector_count"], described["processed_up_to_mutation"]) == (5, written["mutation_id"])
    assert described["processed_up_to_datetime"].endswith("Z")

    deleted = index.delete_by_ids(["1", "3", "not-there"])
    assert deleted["count"] == 2
    assert index.describe()["vector_count"] == 3
    assert index.describe()["processed_up_to_mutation"] == deleted["mutation_id"]
    assert sorted(ids(index.query([1, 1, 0, 0], top_k=10))) == ["0", "2", "4"]
    assert index.get_by_ids(["1", "2"]) == [{"id": "2", "values": [1.0, 2.0, 0.0, 0.0]}]


def test_get_by_ids_keeps_the_order_asked_and_leaves_out_missing_ids(index: VectorizeIndex) -> None:
    index.upsert([{"id": i, "values": [1, 0, 0, n]} for n, i in enumerate("abc")])
    assert [v["id"] for v in index.get_by_ids(["c", "missing", "a", "c"])] == ["c", "a"]
    assert index.get_by_ids([]) == []


def test_get_by_ids_reads_as_many_vectors_a_call_as_fit_the_response_limit(
    make_index: MakeIndex, rds_calls: CallCounter
) -> None:
    index = make_index(dimensions=1024, approximate=False)
    rng = random.Random(1)
    index.upsert([{"id": f"v{i}", "values": [rng.uniform(-1, 1) for _ in range(1024)]} for i in range(60)])
    rds_calls.calls.clear()
    got = index.get_by_ids([f"v{i}" for i in range(60)])
    assert [v["id"] for v in got] == [f"v{i}" for i in range(60)]
    # A 1,024-dimension vector with the most metadata allowed is under 37 KB of text: 26 fit in 960 KiB.
    assert rds_calls.by_operation() == {"ExecuteStatement": 3}


# --------------------------------------------------------------------- scores


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot-product"])
def test_scores_are_vectorizes_for_each_metric_and_ordered_closest_first(make_index: MakeIndex, metric: Metric) -> None:
    index = make_index(dimensions=3, metric=metric)
    rng = random.Random(7)
    vectors = {f"v{i}": [rng.uniform(-1, 1) for _ in range(3)] for i in range(30)}
    index.upsert([{"id": k, "values": v} for k, v in vectors.items()])
    query = [0.3, -0.2, 0.9]

    def expected(values: list[float]) -> float:
        stored = [float(f"{x:.9g}") for x in values]
        dot = sum(a * b for a, b in zip(query, stored, strict=True))
        if metric == "cosine":
            return dot / (math.hypot(*query) * math.hypot(*stored))
        if metric == "euclidean":
            return math.dist(query, stored)
        return -dot

    result = index.query(query, top_k=10)
    scores = [m["score"] for m in result["matches"]]
    assert result["count"] == len(result["matches"]) == 10
    higher_is_closer = metric == "cosine"
    assert scores == sorted(scores, reverse=higher_is_closer)
    ranked = sorted(vectors, key=lambda k: expected(vectors[k]), reverse=higher_is_closer)
    assert ids(result) == ranked[:10]
    for match in result["matches"]:
        assert match["score"] == pytest.approx(expected(vectors[match["id"]]), abs=1e-5)
    if metric == "cosine":
        assert all(-1.0 <= s <= 1.0 for s in scores)
    if metric == "euclidean":
        assert all(s >= 0 for s in scores)


def test_a_query_returns_top_k_or_every_eligible_vector(index: VectorizeIndex) -> None:
    index.upsert([{"id": str(i), "values": [1, i, 0, 0]} for i in range(3)])
    assert index.query([1, 0, 0, 0])["count"] == 3  # topK defaults to 5
    assert index.query([1, 0, 0, 0], top_k=2)["count"] == 2
    assert index.query([1, 0, 0, 0], top_k=1)["matches"][0]["id"] == "0"


def test_query_by_id_searches_with_the_stored_vector_and_finds_nothing_for_an_unknown_id(index: VectorizeIndex) -> None:
    index.upsert(
        [
            {"id": "a", "values": [1, 0, 0, 0]},
            {"id": "b", "values": [0.9, 0.1, 0, 0]},
            {"id": "c", "values": [0, 0, 1, 0]},
        ]
    )
    result = index.query_by_id("b", top_k=2)
    assert ids(result) == ["b", "a"]
    assert result["matches"][0]["score"] == pytest.approx(1.0)
    assert index.query_by_id("nope") == {"count": 0, "matches": []}


# --------------------------------------------------------------------- return modes


def test_return_values_and_the_three_metadata_levels(index: VectorizeIndex) -> None:
    index.create_metadata_index("title", "string")
    index.create_metadata_index("info.year", "number")
    title = "é" * 40  # 80 bytes: an index keeps the first 64, 32 characters
    metadata = {"title": title, "info": {"year": 1999, "note": "kept whole"}, "other": [1, 2]}
    index.upsert([{"id": "m", "values": [1, 0, 0, 0], "metadata": metadata}])
    vector = [1, 0, 0, 0]

    bare = index.query(vector, top_k=1)["matches"][0]
    assert set(bare) == {"id", "score"}
    assert index.query(vector, top_k=1, return_values=True)["matches"][0]["values"] == [1.0, 0.0, 0.0, 0.0]
    assert index.query(vector, top_k=1, return_metadata="all")["matches"][0]["metadata"] == metadata
    indexed = index.query(vector, top_k=1, return_metadata="indexed")["matches"][0]["metadata"]
    assert indexed == {"title": "é" * 32, "info": {"year": 1999}}
    assert index.query(vector, {"topK": 1, "returnMetadata": "none"})["matches"][0].keys() == {"id", "score"}


# --------------------------------------------------------------------- filters


@pytest.fixture
def films(index: VectorizeIndex) -> VectorizeIndex:
    index.create_metadata_index("genre", "string")
    index.create_metadata_index("year", "number")
    index.create_metadata_index("seen", "boolean")
    index.create_metadata_index("cast.lead", "string")
    rows = [
        ("a", "drama", 1999, True, "Ann"),
        ("b", "comedy", 2005, False, "Bob"),
        ("c", "drama", 2010, False, "Cy"),
        ("d", "Horror", 2020, True, "Dee"),
        ("e", "épique", 2001, None, None),
    ]
    index.upsert(
        [
            {
                "id": i,
                "values": [1, n, 0, 0],
                "metadata": {"genre": g, "year": y, **({"seen": s} if s is not None else {}), "cast": {"lead": lead}},
            }
            for n, (i, g, y, s, lead) in enumerate(rows)
        ]
    )
    # Not filterable: written before any metadata index on "studio" existed, and never indexed.
    index.upsert([{"id": "f", "values": [1, 9, 0, 0], "metadata": {"genre": 42, "studio": "X"}}])
    return index


@pytest.mark.parametrize(
    ("query_filter", "expected"),
    [
        ({"genre": "drama"}, {"a", "c"}),
        ({"genre": {"$eq": "drama"}}, {"a", "c"}),
        ({"genre": {"$ne": "drama"}}, {"b", "d", "e"}),  # f's genre is a number: not in the string index
        ({"genre": {"$in": ["comedy", "Horror", 42]}}, {"b", "d"}),
        ({"genre": {"$nin": ["comedy", "drama"]}}, {"d", "e"}),
        ({"year": 2005}, {"b"}),
        ({"year": 2005.0}, {"b"}),
        ({"year": {"$gt": 2005}}, {"c", "d"}),
        ({"year": {"$gte": 2005}}, {"b", "c", "d"}),
        ({"year": {"$lt": 2005}}, {"a", "e"}),
        ({"year": {"$lte": 2005}}, {"a", "b", "e"}),
        ({"year": {"$gte": 2000, "$lt": 2011}}, {"b", "c", "e"}),
        ({"genre": {"$gte": "d", "$lt": "e"}}, {"a", "c"}),  # a prefix search on "d"
        ({"genre": {"$lt": "a"}}, {"d"}),  # byte order: "H" sorts before "a"
        ({"genre": {"$gt": "z"}}, {"e"}),  # and "é" after "z"
        ({"seen": True}, {"a", "d"}),
        ({"seen": {"$ne": True}}, {"b", "c"}),  # e has no value for seen
        ({"cast.lead": "Cy"}, {"c"}),  # dots nest
        ({"genre": "drama", "year": {"$gt": 2000}}, {"c"}),  # keys are ANDed
        ({"genre": 2005}, set()),  # a number never equals what a string index holds
        ({"year": "2005"}, set()),
        ({"year": {"$gt": "1"}}, set()),
        ({"genre": None}, set()),  # null is never an indexed value
        ({"genre": {"$ne": None}}, {"a", "b", "c", "d", "e"}),
        ({"studio": "X"}, set()),  # no metadata index on studio
        ({"genre": {"$in": []}}, set()),
    ],
)
def test_filter_operators_and_their_type_rules(
    films: VectorizeIndex, query_filter: dict[str, Any], expected: set[str]
) -> None:
    assert set(ids(films.query([1, 0, 0, 0], top_k=100, filter=query_filter))) == expected


def test_the_filter_applies_before_top_k(index: VectorizeIndex) -> None:
    index.create_metadata_index("kind", "string")
    near = [{"id": f"near{i}", "values": [1, 0.01 * i, 0, 0], "metadata": {"kind": "other"}} for i in range(50)]
    far = [{"id": f"far{i}", "values": [0, 1, 0.1 * i, 0], "metadata": {"kind": "wanted"}} for i in range(3)]
    index.upsert(near + far)
    result = index.query([1, 0, 0, 0], top_k=2, filter={"kind": "wanted"})
    assert result["count"] == 2
    assert all(i.startswith("far") for i in ids(result))


def test_strings_filter_on_their_first_64_bytes(index: VectorizeIndex) -> None:
    index.create_metadata_index("path", "string")
    shared = "x" * 63 + "é"  # 65 bytes: the index keeps the 63 x (the é does not fit whole)
    index.upsert(
        [
            {"id": "one", "values": [1, 0, 0, 0], "metadata": {"path": shared + "one"}},
            {"id": "two", "values": [0, 1, 0, 0], "metadata": {"path": shared + "two"}},
            {"id": "short", "values": [0, 0, 1, 0], "metadata": {"path": "x" * 62}},
        ]
    )
    assert set(ids(index.query([1, 0, 0, 0], filter={"path": shared + "whatever"}))) == {"one", "two"}
    assert set(ids(index.query([1, 0, 0, 0], filter={"path": "x" * 63}))) == {"one", "two"}


def test_a_metadata_index_covers_vectors_written_after_it_and_deleting_it_stops_filtering(
    index: VectorizeIndex,
) -> None:
    index.upsert([{"id": "before", "values": [1, 0, 0, 0], "metadata": {"tag": "t"}}])
    created = index.create_metadata_index("tag", "string")
    uuid.UUID(created["mutation_id"])
    assert index.describe()["processed_up_to_mutation"] == created["mutation_id"]
    index.upsert([{"id": "after", "values": [0, 1, 0, 0], "metadata": {"tag": "t"}}])
    assert ids(index.query([1, 0, 0, 0], filter={"tag": "t"})) == ["after"]

    index.upsert([{"id": "before", "values": [1, 0, 0, 0], "metadata": {"tag": "t"}}])  # written again: indexed now
    assert set(ids(index.query([1, 0, 0, 0], filter={"tag": "t"}))) == {"before", "after"}

    index.delete_metadata_index("tag")
    assert index.list_metadata_indexes() == {"metadata_indexes": []}
    assert index.query([1, 0, 0, 0], filter={"tag": "t"}) == {"count": 0, "matches": []}
    with pytest.raises(MetadataIndexNotFound):
        index.delete_metadata_index("tag")


def test_metadata_indexes_are_listed_unique_and_at_most_ten(index: VectorizeIndex, rds_calls: CallCounter) -> None:
    for n in range(10):
        index.create_metadata_index(f"p{n}", "number" if n % 2 else "string")
    listed = index.list_metadata_indexes()["metadata_indexes"]
    assert listed[:2] == [
        {"property_name": "p0", "index_type": "string"},
        {"property_name": "p1", "index_type": "number"},
    ]
    assert len(listed) == 10
    with pytest.raises(MetadataIndexExists):
        index.create_metadata_index("p3", "boolean")
    with pytest.raises(VectorizeLimitExceeded, match="10 metadata indexes"):
        index.create_metadata_index("p10", "boolean")
    assert len(index.list_metadata_indexes()["metadata_indexes"]) == 10


# --------------------------------------------------------------------- namespaces


def test_a_namespace_isolates_query_and_query_by_id(index: VectorizeIndex) -> None:
    index.upsert(
        [
            {"id": "a1", "values": [1, 0, 0, 0], "namespace": "a"},
            {"id": "a2", "values": [0.9, 0.1, 0, 0], "namespace": "a"},
            {"id": "b1", "values": [1, 0.05, 0, 0], "namespace": "b"},
            {"id": "none", "values": [1, 0.02, 0, 0]},
        ]
    )
    assert ids(index.query([1, 0, 0, 0], namespace="a")) == ["a1", "a2"]
    assert ids(index.query([1, 0, 0, 0], {"namespace": "b"})) == ["b1"]
    assert set(ids(index.query([1, 0, 0, 0]))) == {"a1", "a2", "b1", "none"}  # no namespace: the whole index
    assert ids(index.query_by_id("a2", namespace="a")) == ["a2", "a1"]
    assert index.query_by_id("a2", namespace="b") == {"count": 0, "matches": []}  # a2 is not in b
    assert ids(index.query_by_id("b1", namespace="b")) == ["b1"]


# --------------------------------------------------------------------- the shapes Worker code passes


def test_camel_case_mappings_and_typed_objects_are_the_same_query(index: VectorizeIndex) -> None:
    index.create_metadata_index("k", "string")
    index.upsert(
        [
            VectorizeVector(id="a", values=(1.0, 0.0, 0.0, 0.0), metadata={"k": "v"}),
            {"id": "b", "values": [0, 1, 0, 0], "metadata": {"k": "v"}},
        ]
    )
    camel = index.query([1, 0, 0, 0], {"topK": 1, "returnValues": True, "returnMetadata": "all", "filter": {"k": "v"}})
    snake = index.query(
        [1, 0, 0, 0], {"top_k": 1, "return_values": True, "return_metadata": "all", "filter": {"k": "v"}}
    )
    typed = index.query(
        [1, 0, 0, 0], VectorizeQueryOptions(top_k=1, return_values=True, return_metadata="all", filter={"k": "v"})
    )
    keywords = index.query([1, 0, 0, 0], top_k=1, return_values=True, return_metadata="all", filter={"k": "v"})
    assert camel == snake == typed == keywords
    assert camel["matches"][0]["metadata"] == {"k": "v"}
    assert index.query([1, 0, 0, 0], {"returnMetadata": True, "topK": 1})["matches"][0]["metadata"] == {"k": "v"}


# --------------------------------------------------------------------- refused before any call


def _vector(**fields: Any) -> dict[str, Any]:
    return {"id": "x", "values": [1, 0, 0, 0], **fields}


REFUSED: list[tuple[str, Callable[[VectorizeIndex], object], type[BindingError], str]] = [
    ("dimensions", lambda i: i.upsert([_vector(values=[1, 0, 0])]), InvalidVector, "3 dimensions"),
    ("query dimensions", lambda i: i.query([1, 0]), InvalidVector, "2 dimensions"),
    ("id bytes", lambda i: i.upsert([_vector(id="é" * 33)]), VectorizeLimitExceeded, "64-byte id"),
    ("empty id", lambda i: i.upsert([_vector(id="")]), InvalidVector, "non-empty"),
    ("metadata size", lambda i: i.upsert([_vector(metadata={"m": "x" * 10_240})]), VectorizeLimitExceeded, "10 KiB"),
    ("metadata key", lambda i: i.upsert([_vector(metadata={"a.b": 1})]), InvalidVector, "metadata key"),
    ("metadata NaN", lambda i: i.upsert([_vector(metadata={"a": math.nan})]), InvalidVector, "JSON"),
    ("batch", lambda i: i.upsert([_vector(id=str(n)) for n in range(1001)]), VectorizeLimitExceeded, "at most 1000"),
    ("empty batch", lambda i: i.insert([]), BindingError, "at least one"),
    ("unknown field", lambda i: i.upsert([_vector(vals=[1])]), InvalidVector, "vals"),
    ("namespace", lambda i: i.upsert([_vector(namespace="n" * 65)]), VectorizeLimitExceeded, "64-byte"),
    ("query namespace", lambda i: i.query([1, 0, 0, 0], namespace="n" * 65), VectorizeLimitExceeded, "64-byte"),
    ("NaN", lambda i: i.upsert([_vector(values=[1, math.nan, 0, 0])]), InvalidVector, "finite"),
    ("float32", lambda i: i.query([1e39, 0, 0, 0]), InvalidVector, "float32"),
    ("boolean", lambda i: i.query([True, 0, 0, 0]), InvalidVector, "booleans"),
    ("zero cosine", lambda i: i.upsert([_vector(values=[0, 0, 0, 0])]), InvalidVector, "zero vector"),
    ("top_k", lambda i: i.query([1, 0, 0, 0], top_k=101), VectorizeLimitExceeded, "limit of 100"),
    ("top_k values", lambda i: i.query([1, 0, 0, 0], top_k=21, return_values=True), VectorizeLimitExceeded, "of 20"),
    ("top_k all", lambda i: i.query([1, 0, 0, 0], {"topK": 21, "returnMetadata": "all"}), VectorizeLimitExceeded, "20"),
    ("top_k zero", lambda i: i.query([1, 0, 0, 0], top_k=0), InvalidOption, "at least 1"),
    ("unknown option", lambda i: i.query([1, 0, 0, 0], {"topk": 3}), InvalidOption, "'topk'"),
    ("both forms", lambda i: i.query([1, 0, 0, 0], {"topK": 3}, top_k=3), InvalidOption, "not both"),
    ("metadata level", lambda i: i.query([1, 0, 0, 0], return_metadata="some"), InvalidOption, "returnMetadata"),
    (
        "filter size",
        lambda i: i.query([1, 0, 0, 0], filter={"k": {"$in": ["v" * 100] * 20}}),
        VectorizeLimitExceeded,
        "2048",
    ),
    ("operator", lambda i: i.query([1, 0, 0, 0], filter={"k": {"$regex": "x"}}), InvalidFilter, r"\$regex"),
    ("combination", lambda i: i.query([1, 0, 0, 0], filter={"k": {"$eq": 1, "$ne": 2}}), InvalidFilter, "combined"),
    ("two lower", lambda i: i.query([1, 0, 0, 0], filter={"k": {"$gt": 1, "$gte": 2}}), InvalidFilter, "combined"),
    ("range bool", lambda i: i.query([1, 0, 0, 0], filter={"k": {"$lt": True}}), InvalidFilter, "string or a number"),
    ("in scalar", lambda i: i.query([1, 0, 0, 0], filter={"k": {"$in": "a"}}), InvalidFilter, "a list"),
    ("eq object", lambda i: i.query([1, 0, 0, 0], filter={"k": {"$eq": [1]}}), InvalidFilter, "strings, numbers"),
    ("empty filter", lambda i: i.query([1, 0, 0, 0], filter={}), InvalidFilter, "non-empty"),
    ("filter key", lambda i: i.query([1, 0, 0, 0], filter={"$k": 1}), InvalidFilter, "start with"),
    ("property type", lambda i: i.create_metadata_index("p", "date"), BindingError, "string, number, boolean"),  # type: ignore[arg-type]
    ("query_by_id id", lambda i: i.query_by_id("x" * 65), VectorizeLimitExceeded, "64-byte"),
    ("delete ids", lambda i: i.delete_by_ids([""]), InvalidVector, "non-empty"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), REFUSED, ids=[case[0] for case in REFUSED])
def test_every_limit_and_malformed_input_is_refused_before_any_call(
    index: VectorizeIndex,
    rds_calls: CallCounter,
    case: str,
    call: Callable[[VectorizeIndex], object],
    error: type[BindingError],
    message: str,
) -> None:
    rds_calls.calls.clear()
    with pytest.raises(error, match=message):
        call(index)
    assert rds_calls.total == 0, case


def test_an_unknown_or_differently_configured_index_is_a_configuration_error(
    db: D1Database, index: VectorizeIndex
) -> None:
    with pytest.raises(VectorizeIndexNotFound, match="no Vectorize index"):
        VectorizeIndex(db, "never-made", dimensions=4, metric="cosine").query([1, 0, 0, 0])
    other = VectorizeIndex(db, index.name, dimensions=4, metric="euclidean")
    with pytest.raises(VectorizeIndexNotFound, match="cosine metric"):
        other.upsert([_vector()])
    assert index.describe()["vector_count"] == 0  # nothing was written through the misconfigured binding
    with pytest.raises(VectorizeIndexExists):
        create_vector_index(db, index.name, dimensions=4, metric="cosine")


# --------------------------------------------------------------------- calls


def test_a_query_is_one_call_whatever_its_options(index: VectorizeIndex, rds_calls: CallCounter) -> None:
    index.create_metadata_index("k", "string")
    index.upsert([{"id": "a", "values": [1, 0, 0, 0], "namespace": "n", "metadata": {"k": "v"}}])
    runs: list[Callable[[], object]] = [
        lambda: index.query([1, 0, 0, 0]),
        lambda: index.query(
            [1, 0, 0, 0],
            top_k=20,
            namespace="n",
            return_values=True,
            return_metadata="all",
            filter={"k": {"$in": ["v", "w"]}},
        ),
        lambda: index.query_by_id("a", namespace="n", return_metadata="indexed", filter={"k": "v"}),
        index.describe,
    ]
    for run in runs:
        rds_calls.calls.clear()
        run()
        assert rds_calls.by_operation() == {"ExecuteStatement": 1}


def test_an_upsert_of_1000_vectors_of_1024_dimensions_is_four_requests_in_one_transaction(
    make_index: MakeIndex, rds_calls: CallCounter
) -> None:
    index = make_index(dimensions=1024, approximate=False)  # no HNSW upkeep: this counts calls, not speed
    rng = random.Random(3)
    vectors = [{"id": f"v{i}", "values": [rng.uniform(-1, 1) for _ in range(1024)]} for i in range(1000)]
    rds_calls.calls.clear()
    assert index.upsert(vectors)["count"] == 1000
    # ~12.8 KB a vector as text: 1000 of them need four requests under the 4 MiB limit, applied together.
    assert rds_calls.by_operation() == {"BeginTransaction": 1, "ExecuteStatement": 4, "CommitTransaction": 1}
    assert index.describe()["vector_count"] == 1000
    rds_calls.calls.clear()
    assert index.upsert(vectors[:100])["count"] == 100
    assert rds_calls.by_operation() == {"ExecuteStatement": 1}  # one batch: no transaction needed


def test_a_property_with_quotes_and_backslashes_filters_like_any_other(index: VectorizeIndex) -> None:
    name = "it's a \\ path"
    index.create_metadata_index(name, "string")
    index.upsert(
        [
            {"id": "yes", "values": [1, 0, 0, 0], "metadata": {name: "v"}},
            {"id": "no", "values": [0, 1, 0, 0], "metadata": {name: "w"}},
        ]
    )
    assert ids(index.query([1, 0, 0, 0], filter={name: "v"})) == ["yes"]
    assert ids(index.query([1, 0, 0, 0], filter={name: {"$ne": "v"}})) == ["no"]


@pytest.mark.parametrize(
    "text", ["", "short", "x" * 64, "x" * 65, "x" * 63 + "é", "x" * 62 + "é", "x" * 61 + "😀", "x" * 60 + "😀" + "y"]
)
def test_the_database_cuts_indexed_strings_where_the_binding_cuts_filter_strings(db: D1Database, text: str) -> None:
    assert db.prepare("SELECT vectorize_indexed_string(?) AS cut").bind(text).first("cut") == indexed_string(text)
    assert len(indexed_string(text).encode()) <= 64


def test_a_backup_restores_the_vectors_and_their_search_indexes(stack: LocalStack) -> None:
    source = stack.create_database(f"vb_{uuid.uuid4().hex[:8]}")
    apply_migrations(source)
    index = create_vector_index(source, "kb", dimensions=3, metric="euclidean")
    index.create_metadata_index("topic", "string")
    index.upsert(
        [
            {"id": "a", "values": [0.5, 0, 0], "namespace": "n", "metadata": {"topic": "options", "x": [1, 2]}},
            {"id": "b", "values": [1, 1, 1], "metadata": {"topic": "stocks"}},
        ]
    )
    scheduled = datetime(2026, 11, 22, 3, 0, tzinfo=UTC).replace(second=uuid.uuid4().int % 60)
    write_backup(source, stack.env.R2, scheduled)

    target = stack.create_database(f"vr_{uuid.uuid4().hex[:8]}")
    restore(target, stack.env.R2, backup_prefix(scheduled))
    restored = VectorizeIndex(target, "kb", dimensions=3, metric="euclidean")
    assert restored.get_by_ids(["a", "b"]) == index.get_by_ids(["a", "b"])
    assert ids(restored.query([0, 0, 0], filter={"topic": "stocks"})) == ["b"]
    assert restored.describe() == index.describe()
    # The registry's triggers made the HNSW graph and the metadata B-tree again as the rows were restored.
    search_indexes = target.prepare(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'vectors' AND indexname ~ '^vectors_(ann|meta)_'"
    ).raw()
    assert sorted(row[0].split(" USING ")[1].split(" ")[0] for row in search_indexes) == ["btree", "hnsw"]


def test_a_filtered_search_through_the_hnsw_graph_still_fills_top_k(make_index: MakeIndex, db: D1Database) -> None:
    # Given an index large enough for PostgreSQL to search its HNSW graph, and a binding that keeps a single
    # candidate per step: without iterative scans the graph would stop after top_k candidates, most filtered out.
    index = make_index(dimensions=16, metric="euclidean")
    index.create_metadata_index("bucket", "number")
    rng = random.Random(5)
    vectors = [
        {"id": f"v{i}", "values": [rng.uniform(-1, 1) for _ in range(16)], "metadata": {"bucket": i % 10}}
        for i in range(3000)
    ]
    for start in range(0, len(vectors), 1000):
        index.upsert(vectors[start : start + 1000])
    db.exec("ANALYZE vectors")
    narrow = VectorizeIndex(db, index.name, dimensions=16, metric="euclidean", ef_search=1)
    # $nin cannot use the B-tree, so only 1 vector in 10 passes the filter as the graph is walked.
    only = {"bucket": {"$nin": list(range(1, 10))}}
    condition, params = compile_filter(only)
    search = narrow._sql.search(
        by_id=False, in_namespace=False, condition=condition, top_k=3, values=False, metadata="none"
    )
    plan = db.prepare("EXPLAIN (FORMAT JSON) " + search).bind("3", "[" + ",".join(["0.1"] * 16) + "]", *params).first()
    assert "vectors_ann_" in json.dumps(plan)  # the graph, not an exact scan

    # When queried, every answer has its three matches, all from the one bucket the filter lets through.
    for _ in range(20):
        result = narrow.query([rng.uniform(-1, 1) for _ in range(16)], top_k=3, filter=only)
        assert result["count"] == 3
        assert all(int(match["id"][1:]) % 10 == 0 for match in result["matches"])
