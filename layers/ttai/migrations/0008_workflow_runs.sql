-- The workflow instances a user started through the API (an analysis, a screener run, an export): whose they are,
-- so GET /api/v1/workflows/{id} answers its owner only. The instance itself (status, output) lives with the
-- workflow engine; this row is the tenancy record, removed with the user. The nightly backup is nobody's.
CREATE TABLE workflow_runs (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z]+-[0-9a-f]{32}$'),
    workflow   text NOT NULL CHECK (workflow IN ('analysis', 'screener', 'export')),
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_runs_user_recent ON workflow_runs (user_id, created_at DESC);
