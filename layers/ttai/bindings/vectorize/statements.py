"""The SQL of one Vectorize index's calls, over the migration's tables (0007_vectors.sql).

Values cross as D1 ``?`` parameters. Only three things are written into the text, each checked before: the index
name (``[a-z0-9-]`` only) and its dimensions and metric (an integer, an operator from a fixed table), because the
partial search indexes (HNSW, metadata B-trees) are picked by matching ``index_name = '<name>'`` and the typed
expressions at plan time, which a parameter would not do under a generic plan. Filter conditions come from
``filters.compile_filter``, which quotes property names as literals for the same reason.
"""

from __future__ import annotations

from typing import Literal

from ttai.bindings.vectorize.model import Metric, check_dimensions, check_index_name, check_metric

_DISTANCE = {"cosine": "<=>", "euclidean": "<->", "dot-product": "<#>"}

CREATE_INDEX = "INSERT INTO vector_indexes (name, dimensions, metric, description, approximate) VALUES (?, ?, ?, ?, ?)"
DELETE_INDEX = "DELETE FROM vector_indexes WHERE name = ?"


class IndexStatements:
    """SQL texts for one index; every write marks the index row with the call's mutation id first."""

    def __init__(self, name: str, dimensions: int, metric: Metric) -> None:
        self.name = f"'{check_index_name(name)}'"
        self.dimensions = check_dimensions(dimensions)
        self.metric = check_metric(metric)
        self.index_row = f"i.name = {self.name} AND i.dimensions = {self.dimensions} AND i.metric = '{self.metric}'"
        # Marks this index's row (only when configured as this binding was) with the mutation; the writes read
        # `marked`, so an index that is missing or configured otherwise gets nothing written. Every writer of an
        # index takes this row lock first, before any vector row: writers of one index queue, never deadlock.
        self._mark = f"""marked AS (
    UPDATE vector_indexes i SET last_mutation_id = CAST(? AS uuid), last_mutation_at = now()
    WHERE {self.index_row}{{also}} RETURNING name
)"""
        self.configuration = f"SELECT dimensions, metric FROM vector_indexes WHERE name = {self.name}"

    def mark(self, also: str = "") -> str:
        return self._mark.format(also=also)

    def write(self, mode: Literal["insert", "upsert"]) -> str:
        """Parameters: mutation id, the batch as a JSON array of {id, namespace, embedding, metadata}."""
        on_conflict = (
            "DO NOTHING"
            if mode == "insert"
            else "DO UPDATE SET namespace = EXCLUDED.namespace, embedding = EXCLUDED.embedding, "
            "metadata = EXCLUDED.metadata, indexed = EXCLUDED.indexed"
        )
        return f"""
WITH {self.mark()}, written AS (
    INSERT INTO vectors (index_name, id, namespace, embedding, metadata, indexed)
    SELECT marked.name, b.id, b.namespace, CAST(b.embedding AS vector({self.dimensions})), b.metadata,
           vectorize_indexed_metadata(marked.name, b.metadata)
    FROM marked
    CROSS JOIN jsonb_to_recordset(CAST(? AS jsonb)) AS b(id text, namespace text, embedding text, metadata jsonb)
    ON CONFLICT (index_name, id) {on_conflict}
    RETURNING 1
)
SELECT (SELECT count(*) FROM marked) AS found, (SELECT count(*) FROM written) AS changed"""

    def delete(self) -> str:
        """Parameters: mutation id, the ids as a JSON array."""
        return f"""
WITH {self.mark()}, gone AS (
    DELETE FROM vectors v USING marked
    WHERE v.index_name = marked.name AND v.id IN (SELECT jsonb_array_elements_text(CAST(? AS jsonb)))
    RETURNING 1
)
SELECT (SELECT count(*) FROM marked) AS found, (SELECT count(*) FROM gone) AS changed"""

    def search(
        self, *, by_id: bool, in_namespace: bool, condition: str | None, top_k: int, values: bool, metadata: str
    ) -> str:
        """Parameters: ef_search; the query vector, or the probe's id (and namespace); the namespace; the filter's.

        ``scan`` sets the search for this statement only. ``EXISTS (SELECT FROM scan)`` is a one-time filter above
        the index scan, so the settings are in place before the scan's first tuple, when pgvector reads them.
        relaxed_order lets the iterative scan return slightly out of order; the outer ORDER BY restores it. The
        outer join on the index row: no row at all means no such index, an empty result still has one row.
        """
        if by_id:
            probe_cte = (
                f"probe AS MATERIALIZED (SELECT p.embedding::vector({self.dimensions}) AS q FROM vectors p "
                f"WHERE p.index_name = {self.name} AND p.id = ?{' AND p.namespace = ?' if in_namespace else ''}),"
            )
            probe = "(SELECT q FROM probe)"
        else:
            probe_cte, probe = "", f"CAST(? AS vector({self.dimensions}))"
        where = [f"v.index_name = {self.name}", "EXISTS (SELECT FROM scan)"]
        where += ["EXISTS (SELECT FROM probe)"] if by_id else []
        where += ["v.namespace = ?"] if in_namespace else []
        where += [condition] if condition else []
        columns = ", v.embedding::text AS vector_values" if values else ""
        columns += {"all": ", v.metadata", "indexed": ", v.indexed AS metadata"}.get(metadata, "")
        conditions = "\n      AND ".join(where)
        return f"""
WITH scan AS MATERIALIZED (
    SELECT CASE WHEN vectorize_iterative_scans() THEN set_config('hnsw.iterative_scan', 'relaxed_order', true) END,
           set_config('hnsw.ef_search', ?, true)
), {probe_cte}
hits AS MATERIALIZED (
    SELECT v.id, v.embedding::vector({self.dimensions}) {_DISTANCE[self.metric]} {probe} AS distance{columns}
    FROM vectors v
    WHERE {conditions}
    ORDER BY distance
    LIMIT {int(top_k)}
)
SELECT hits.*
FROM vector_indexes i LEFT JOIN hits ON true
WHERE {self.index_row}
ORDER BY hits.distance"""

    def get_by_ids(self) -> str:
        """Parameter: the ids as a JSON array. One row with a null id when none is found."""
        return f"""
SELECT v.id, v.namespace, v.embedding::text AS vector_values, v.metadata
FROM vector_indexes i
LEFT JOIN vectors v ON v.index_name = i.name AND v.id IN (SELECT jsonb_array_elements_text(CAST(? AS jsonb)))
WHERE {self.index_row}"""

    def describe(self) -> str:
        return f"""
SELECT i.dimensions, i.last_mutation_id::text AS mutation, i.last_mutation_at,
       (SELECT count(*) FROM vectors v WHERE v.index_name = i.name) AS vector_count
FROM vector_indexes i
WHERE {self.index_row}"""

    def create_metadata_index(self) -> str:
        """Parameters: mutation id, property, type. The table's trigger makes the B-tree and enforces the 10."""
        return f"""
WITH {self.mark()}, created AS (
    INSERT INTO vector_metadata_indexes (index_name, property, type) SELECT name, ?, ? FROM marked RETURNING 1
)
SELECT (SELECT count(*) FROM marked) AS found, (SELECT count(*) FROM created) AS changed"""

    def list_metadata_indexes(self) -> str:
        return f"""
SELECT m.property, m.type
FROM vector_indexes i LEFT JOIN vector_metadata_indexes m ON m.index_name = i.name
WHERE {self.index_row}
ORDER BY m.property COLLATE "C"
"""

    def delete_metadata_index(self) -> str:
        """Parameters: mutation id, property, property. Marks only when the metadata index exists."""
        also = (
            f"\n      AND EXISTS (SELECT FROM vector_metadata_indexes WHERE index_name = {self.name} AND property = ?)"
        )
        return f"""
WITH {self.mark(also)}, removed AS (
    DELETE FROM vector_metadata_indexes m USING marked WHERE m.index_name = marked.name AND m.property = ? RETURNING 1
)
SELECT (SELECT count(*) FROM marked) AS found, (SELECT count(*) FROM removed) AS changed"""
