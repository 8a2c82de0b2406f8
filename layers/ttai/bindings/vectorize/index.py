"""Cloudflare Vectorize (V2) over pgvector in Aurora PostgreSQL, reached through the D1 binding (the Data API).

``VectorizeIndex(db, name, dimensions=, metric=)`` is a Worker's ``env.YOUR_INDEX``, in snake_case and synchronous:
``insert``, ``upsert``, ``query``, ``query_by_id``, ``get_by_ids``, ``delete_by_ids``, ``describe``, and wrangler's
metadata index commands (``create_metadata_index``, ``list_metadata_indexes``, ``delete_metadata_index``).
``create_vector_index`` / ``delete_vector_index`` are ``wrangler vectorize create`` / ``delete``.

Calls: a query is one Data API call (the index's existence, the search settings and the search in one statement);
a write is one call per batch that fits the Data API's 4 MiB request (1,000 vectors of 1,024 dimensions are about
13 MB, so four), in one transaction when there are several; get_by_ids reads as many vectors a call as fit the
1 MiB response. Everything ``model`` and ``filters`` check is refused before any call.

Differences from Cloudflare, deliberate: writes are synchronous, so a mutation is visible, and described as
processed, when its call returns; scores are always exact (computed from the stored values), where Vectorize's are
approximate unless values are returned. Where the search walks the HNSW graph (pgvector >= 0.8), a filter is applied
as it goes (an iterative scan) for up to pgvector's hnsw.max_scan_tuples (20,000) vectors: a filter that rare is
normally served from its metadata index's B-tree instead (an exact search), which PostgreSQL picks by cost.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ttai.bindings.d1 import DATA_API_REQUEST_MAX_BYTES, DATA_API_RESPONSE_MAX_BYTES
from ttai.bindings.d1_errors import D1ConstraintError
from ttai.bindings.vectorize.errors import (
    MetadataIndexExists,
    MetadataIndexNotFound,
    VectorizeError,
    VectorizeIndexExists,
    VectorizeIndexNotFound,
    VectorizeLimitExceeded,
)
from ttai.bindings.vectorize.filters import compile_filter
from ttai.bindings.vectorize.model import (
    MAX_BATCH,
    MAX_METADATA_INDEXES,
    EncodedVector,
    MetadataType,
    Metric,
    VectorizeQueryOptions,
    check_id,
    check_ids,
    check_index_name,
    check_metadata_type,
    check_property,
    decode_values,
    encode_values,
    encode_vector,
    indexed_metadata,
    query_options,
)
from ttai.bindings.vectorize.statements import CREATE_INDEX, DELETE_INDEX, IndexStatements

if TYPE_CHECKING:
    from ttai.bindings.d1 import D1Database, D1PreparedStatement

# The Data API's limits: a request of 4 MiB (the batch crosses as one string parameter; ARNs and SQL take a few
# hundred bytes more), a response of 1 MiB counted on the text PostgreSQL sends.
REQUEST_BUDGET = DATA_API_REQUEST_MAX_BYTES - 32 * 1024
RESPONSE_BUDGET = DATA_API_RESPONSE_MAX_BYTES - 64 * 1024
_VALUE_TEXT_BYTES = 16  # at most, per dimension, in pgvector's text ("-1.23456789e-38,")
_METADATA_TEXT_BYTES = 20 * 1024  # 10 KiB of compact JSON as jsonb prints it (with ", " and ": "), at most
DEFAULT_EF_SEARCH = 100  # HNSW candidates kept while searching (pgvector's default is 40); never under top_k


class VectorizeIndex:
    """One Vectorize index: its name, and the dimensions and metric it was created with (checked on every call)."""

    def __init__(
        self,
        db: D1Database,
        name: str,
        *,
        dimensions: int,
        metric: Metric,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> None:
        self._db = db
        self._sql = IndexStatements(name, dimensions, metric)
        self.name, self.dimensions, self.metric = name, self._sql.dimensions, self._sql.metric
        if isinstance(ef_search, bool) or not isinstance(ef_search, int) or not 1 <= ef_search <= 1000:
            raise VectorizeError(f"ef_search is a whole number from 1 to 1000 (pgvector's range), not {ef_search!r}")
        self.ef_search = ef_search

    def __repr__(self) -> str:
        return f"VectorizeIndex({self.name!r}, dimensions={self.dimensions}, metric={self.metric!r})"

    # ----------------------------------------------------------------- writes

    def insert(self, vectors: Iterable[object]) -> dict[str, Any]:
        """Add the vectors whose ids are new; an id already there keeps its first version. ``count``: added."""
        return self._write("insert", vectors)

    def upsert(self, vectors: Iterable[object]) -> dict[str, Any]:
        """Add or replace vectors whole: values, namespace and metadata (nothing is merged). ``count``: written."""
        return self._write("upsert", vectors)

    def _write(self, mode: Literal["insert", "upsert"], vectors: Iterable[object]) -> dict[str, Any]:
        if isinstance(vectors, Mapping | str | bytes) or not isinstance(vectors, Iterable):
            raise VectorizeError(f"{mode} takes a list of vectors, not {type(vectors).__name__}")
        given = list(vectors)
        if not given:
            raise VectorizeError(f"{mode} needs at least one vector")
        if len(given) > MAX_BATCH:
            raise VectorizeLimitExceeded(f"{len(given)} vectors in one {mode}: Vectorize takes at most {MAX_BATCH}")
        encoded = [encode_vector(item, self.dimensions, self.metric, i) for i, item in enumerate(given)]
        # One write per id, as if written one after another: an insert keeps an id's first, an upsert its last.
        chosen: dict[str, EncodedVector] = {}
        for vector in encoded if mode == "upsert" else reversed(encoded):
            chosen[vector.id] = vector
        unique = [vector for vector in encoded if chosen[vector.id] is vector]
        mutation_id = str(uuid.uuid4())
        sql = self._sql.write(mode)
        statements = [
            self._db.prepare(sql).bind(mutation_id, "[" + ",".join(v.record for v in batch) + "]")
            for batch in _batches(unique)
        ]
        return {"mutation_id": mutation_id, "count": self._mutate(statements)}

    def delete_by_ids(self, ids: Iterable[str]) -> dict[str, Any]:
        """Delete these vectors; ids not in the index are skipped. ``count``: deleted."""
        unique = check_ids(ids)
        if not unique:
            raise VectorizeError("delete_by_ids needs at least one id")
        mutation_id = str(uuid.uuid4())
        sql = self._sql.delete()
        statements = [self._db.prepare(sql).bind(mutation_id, _json_list(part)) for part in _id_batches(unique)]
        return {"mutation_id": mutation_id, "count": self._mutate(statements)}

    def _mutate(self, statements: list[D1PreparedStatement]) -> int:
        """One call for one statement; several in one transaction, so a write applies whole or not at all."""
        if len(statements) == 1:
            rows = [statements[0].first()]
        else:
            with self._db.transaction() as tx:
                rows = [tx.first(statement) for statement in statements]
        if any(not row or not row["found"] for row in rows):
            raise self._not_found()
        return sum(int(row["changed"]) for row in rows)

    # ----------------------------------------------------------------- queries

    def query(
        self,
        vector: object,
        options: VectorizeQueryOptions | Mapping[str, Any] | None = None,
        *,
        top_k: int | None = None,
        namespace: str | None = None,
        return_values: bool | None = None,
        return_metadata: str | bool | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``top_k`` vectors closest to ``vector``, within ``namespace`` and ``filter``, closest first."""
        chosen = query_options(options, _keywords(top_k, namespace, return_values, return_metadata, filter))
        text = encode_values(vector, self.dimensions, self.metric, "query vector")
        return self._search(chosen, by_id=False, probe=[text])

    def query_by_id(
        self,
        vector_id: str,
        options: VectorizeQueryOptions | Mapping[str, Any] | None = None,
        *,
        top_k: int | None = None,
        namespace: str | None = None,
        return_values: bool | None = None,
        return_metadata: str | bool | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``query`` with the stored values of ``vector_id``; no matches when it is not in the index (or, given a
        ``namespace``, not in that namespace)."""
        chosen = query_options(options, _keywords(top_k, namespace, return_values, return_metadata, filter))
        probe: list[Any] = [check_id(vector_id, "vector_id")]
        if chosen.namespace is not None:
            probe.append(chosen.namespace)
        return self._search(chosen, by_id=True, probe=probe)

    def _search(self, chosen: VectorizeQueryOptions, *, by_id: bool, probe: list[Any]) -> dict[str, Any]:
        condition, filter_params = compile_filter(chosen.filter) if chosen.filter is not None else (None, [])
        sql = self._sql.search(
            by_id=by_id,
            in_namespace=chosen.namespace is not None,
            condition=condition,
            top_k=chosen.top_k,
            values=chosen.return_values,
            metadata=chosen.return_metadata,
        )
        params = [str(max(self.ef_search, chosen.top_k)), *probe]
        params += [chosen.namespace] if chosen.namespace is not None else []
        rows = self._db.prepare(sql).bind(*params, *filter_params).all().results
        if not rows:
            raise self._not_found()
        matches = [self._match(row, chosen) for row in rows if row["id"] is not None]
        return {"count": len(matches), "matches": matches}

    def _match(self, row: Mapping[str, Any], chosen: VectorizeQueryOptions) -> dict[str, Any]:
        # Vectorize's scores: cosine similarity (higher is closer), euclidean distance, and the negative dot
        # product that pgvector's <#> already is (lower is closer for both).
        distance = float(row["distance"])
        match: dict[str, Any] = {"id": row["id"], "score": 1.0 - distance if self.metric == "cosine" else distance}
        if chosen.return_values:
            match["values"] = decode_values(row["vector_values"])
        if chosen.return_metadata == "all":
            match["metadata"] = row["metadata"] or {}
        elif chosen.return_metadata == "indexed":
            match["metadata"] = indexed_metadata(row["metadata"])
        return match

    def get_by_ids(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The vectors with these ids (values; namespace and metadata when they have them) in the order asked; ids
        not in the index are left out."""
        unique = check_ids(ids)
        if not unique:
            return []
        per_call = max(1, RESPONSE_BUDGET // (self.dimensions * _VALUE_TEXT_BYTES + _METADATA_TEXT_BYTES + 256))
        sql = self._sql.get_by_ids()
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), per_call):
            rows = self._db.prepare(sql).bind(_json_list(unique[start : start + per_call])).all().results
            if not rows:
                raise self._not_found()
            for row in rows:
                if row["id"] is None:
                    continue
                vector: dict[str, Any] = {"id": row["id"], "values": decode_values(row["vector_values"])}
                if row["namespace"] is not None:
                    vector["namespace"] = row["namespace"]
                if row["metadata"] is not None:
                    vector["metadata"] = row["metadata"]
                found[row["id"]] = vector
        return [found[vector_id] for vector_id in unique if vector_id in found]

    def describe(self) -> dict[str, Any]:
        """Vectorize's index info: vector count, dimensions, and the last mutation (processed once it returned)."""
        row = self._db.prepare(self._sql.describe()).first()
        if row is None:
            raise self._not_found()
        at: datetime | None = row["last_mutation_at"]
        return {
            "vector_count": int(row["vector_count"]),
            "dimensions": int(row["dimensions"]),
            "processed_up_to_datetime": at.isoformat().replace("+00:00", "Z") if at else None,
            "processed_up_to_mutation": row["mutation"],
        }

    # ----------------------------------------------------------------- metadata indexes

    def create_metadata_index(self, property: str, type: MetadataType) -> dict[str, Any]:
        """Make ``property`` (dots nest) filterable, for vectors written from now on; ``type``: string, number or
        boolean. At most 10 per index (the statement that would add an eleventh writes nothing)."""
        path = check_property(property)
        kind = check_metadata_type(type)
        mutation_id = str(uuid.uuid4())
        statement = self._db.prepare(self._sql.create_metadata_index()).bind(mutation_id, path, kind)
        try:
            self._mutate([statement])
        except D1ConstraintError as exc:
            if exc.sqlstate == "23505":
                raise MetadataIndexExists(f"index {self.name!r} already has a metadata index on {path!r}") from exc
            if exc.sqlstate == "23514":
                raise VectorizeLimitExceeded(
                    f"index {self.name!r} already has {MAX_METADATA_INDEXES} metadata indexes, Vectorize's limit"
                ) from exc
            raise
        return {"mutation_id": mutation_id}

    def list_metadata_indexes(self) -> dict[str, Any]:
        """The metadata indexes, by property name: ``{"metadata_indexes": [{"property_name", "index_type"}]}``."""
        rows = self._db.prepare(self._sql.list_metadata_indexes()).all().results
        if not rows:
            raise self._not_found()
        listed = [{"property_name": r["property"], "index_type": r["type"]} for r in rows if r["property"]]
        return {"metadata_indexes": listed}

    def delete_metadata_index(self, property: str) -> dict[str, Any]:
        """Stop filtering on ``property``: its index goes, and the property leaves every vector's indexed data."""
        path = check_property(property)
        mutation_id = str(uuid.uuid4())
        row = self._db.prepare(self._sql.delete_metadata_index()).bind(mutation_id, path, path).first()
        if not row or not row["found"]:
            stored = self._stored_configuration()
            if stored == (self.dimensions, self.metric):
                raise MetadataIndexNotFound(f"index {self.name!r} has no metadata index on {path!r}")
            raise self._not_found(stored)
        return {"mutation_id": mutation_id}

    # ----------------------------------------------------------------- errors

    def _stored_configuration(self) -> tuple[int, str] | None:
        """The index's dimensions and metric as the database has them (None: no such index)."""
        row = self._db.prepare(self._sql.configuration).first()
        return None if row is None else (int(row["dimensions"]), str(row["metric"]))

    def _not_found(self, stored: tuple[int, str] | Literal[False] | None = False) -> VectorizeIndexNotFound:
        """Why a statement found no index row: none exists, or it is configured otherwise (one more call to tell,
        on this error path only, unless ``stored`` was read already)."""
        if stored is False:
            stored = self._stored_configuration()
        if stored is None:
            return VectorizeIndexNotFound(f"no Vectorize index {self.name!r}: create it first (create_vector_index)")
        return VectorizeIndexNotFound(
            f"Vectorize index {self.name!r} has {stored[0]} dimensions and the {stored[1]} metric; this binding was "
            f"configured with {self.dimensions} and {self.metric}"
        )


def _keywords(
    top_k: int | None,
    namespace: str | None,
    return_values: bool | None,
    return_metadata: str | bool | None,
    query_filter: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "top_k": top_k,
        "namespace": namespace,
        "return_values": return_values,
        "return_metadata": return_metadata,
        "filter": query_filter,
    }


# --------------------------------------------------------------------- wrangler's commands


def create_vector_index(
    db: D1Database,
    name: str,
    *,
    dimensions: int,
    metric: Metric,
    description: str | None = None,
    approximate: bool = True,
) -> VectorizeIndex:
    """``wrangler vectorize create``: a new index, with its HNSW graph unless ``approximate`` is false (exact search
    only: for a bulk load, after which setting ``vector_indexes.approximate`` builds the graph in one go)."""
    index = VectorizeIndex(db, name, dimensions=dimensions, metric=metric)
    if description is not None and (not isinstance(description, str) or len(description) > 255):
        raise VectorizeError("an index description is a string of at most 255 characters")
    try:
        db.prepare(CREATE_INDEX).bind(index.name, index.dimensions, index.metric, description, bool(approximate)).run()
    except D1ConstraintError as exc:
        if exc.sqlstate == "23505":
            raise VectorizeIndexExists(f"a Vectorize index {index.name!r} already exists") from exc
        raise
    return index


def delete_vector_index(db: D1Database, name: str) -> None:
    """``wrangler vectorize delete``: the index, its vectors and its metadata indexes."""
    if not db.prepare(DELETE_INDEX).bind(check_index_name(name)).run().meta.changes:
        raise VectorizeIndexNotFound(f"no Vectorize index {name!r}")


# --------------------------------------------------------------------- batching


def _batches(vectors: Sequence[EncodedVector]) -> Iterator[list[EncodedVector]]:
    """Consecutive runs of vectors whose batch parameter fits one Data API request."""
    batch: list[EncodedVector] = []
    size = 2  # the brackets
    for vector in vectors:
        if batch and size + vector.request_bytes > REQUEST_BUDGET:
            yield batch
            batch, size = [], 2
        batch.append(vector)
        size += vector.request_bytes
    if batch:
        yield batch


def _json_list(ids: Sequence[str]) -> str:
    return json.dumps(ids, separators=(",", ":"))


def _id_batches(ids: Sequence[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 2
    for vector_id in ids:
        cost = len(json.dumps(json.dumps(vector_id))) - 1  # JSON inside a JSON string, plus a comma
        if batch and size + cost > REQUEST_BUDGET:
            yield batch
            batch, size = [], 2
        batch.append(vector_id)
        size += cost
    if batch:
        yield batch
