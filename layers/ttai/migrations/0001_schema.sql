-- TTAI's durable data: seeds 000 (D1 schema), 001 (history tables), 003 (job storage) and 004 (audit) merged,
-- in PostgreSQL terms: timestamptz for every time, jsonb for documents, CHECKs for every enumeration,
-- and the constraints that make the seeds' upserts correct.

CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE users (
    id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$'),  -- TastyTrade account id
    email      text CHECK (email IS NULL OR length(email) <= 320),
    name       text CHECK (name IS NULL OR length(name) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE sessions (
    id         text PRIMARY KEY,  -- the token's jti
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL DEFAULT '{}' CHECK (scopes <@ ARRAY['service', 'admin']::text[]),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user ON sessions (user_id, created_at DESC);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE user_oauth_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      text NOT NULL CHECK (provider IN ('tastytrade')),
    key_id        text NOT NULL,   -- which TOKEN_ENCRYPTION_KEY sealed these, for rotation
    access_token  bytea NOT NULL,  -- AES-256-GCM: nonce || ciphertext || tag, user_id as associated data
    refresh_token bytea NOT NULL,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, provider)
);
CREATE TRIGGER user_oauth_tokens_updated_at BEFORE UPDATE ON user_oauth_tokens
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE user_preferences (
    user_id               text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    default_strategy      text NOT NULL DEFAULT 'csp'
        CHECK (default_strategy IN ('csp', 'covered_call', 'wheel', 'put_credit_spread', 'call_credit_spread',
                                    'iron_condor')),
    morning_alert         boolean NOT NULL DEFAULT false,
    eod_summary           boolean NOT NULL DEFAULT false,
    notification_channels jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(notification_channels) = 'array'
               AND notification_channels <@ '["discord", "email", "push"]'::jsonb),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER user_preferences_updated_at BEFORE UPDATE ON user_preferences
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE positions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    symbol        text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 21),
    quantity      integer NOT NULL CHECK (quantity >= 0),
    direction     text NOT NULL DEFAULT 'long' CHECK (direction IN ('long', 'short')),
    average_cost  numeric(18, 6) NOT NULL CHECK (average_cost >= 0),
    position_type text NOT NULL CHECK (position_type IN ('stock', 'option')),
    option_type   text CHECK (option_type IN ('call', 'put')),
    strike        numeric(18, 4) CHECK (strike > 0),
    expiration    date,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_at     timestamptz,
    closed_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- A stock has no option fields; an option has all of them.
    CHECK ((position_type = 'stock' AND option_type IS NULL AND strike IS NULL AND expiration IS NULL)
        OR (position_type = 'option' AND option_type IS NOT NULL AND strike IS NOT NULL AND expiration IS NOT NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
-- Seed 000 upserts ON CONFLICT (user_id, symbol, option_type, strike, expiration) with no such constraint, and a
-- plain unique index treats a stock's NULL option fields as distinct: a re-synced stock would be duplicated.
-- NULLS NOT DISTINCT makes the NULLs collide; limiting it to open positions keeps closed ones as history.
CREATE UNIQUE INDEX positions_open_unique ON positions (user_id, symbol, option_type, strike, expiration)
    NULLS NOT DISTINCT WHERE status = 'open';
CREATE INDEX positions_user_status ON positions (user_id, status, id);
CREATE TRIGGER positions_updated_at BEFORE UPDATE ON positions FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE analyses (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    symbol         text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 21),
    type           text NOT NULL CHECK (type IN ('chart', 'options', 'research', 'full')),
    params         jsonb,
    result         jsonb NOT NULL,
    recommendation text CHECK (recommendation IN ('select', 'reject', 'neutral')),
    workflow_id    text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analyses_user_recent ON analyses (user_id, created_at DESC, id DESC);
CREATE INDEX analyses_user_symbol_recent ON analyses (user_id, symbol, created_at DESC, id DESC);

CREATE TABLE screeners (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description     text CHECK (description IS NULL OR length(description) <= 2000),
    type            text NOT NULL CHECK (type IN ('stock', 'csp')),
    criteria        jsonb NOT NULL CHECK (jsonb_typeof(criteria) = 'object'),
    auto_run        boolean NOT NULL DEFAULT false,
    schedule        text,
    notify_channels jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(notify_channels) = 'array'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);
CREATE TRIGGER screeners_updated_at BEFORE UPDATE ON screeners FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE screener_results (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    screener_id      bigint REFERENCES screeners (id) ON DELETE SET NULL,
    criteria         jsonb NOT NULL,  -- the criteria as they were when it ran
    results          jsonb NOT NULL CHECK (jsonb_typeof(results) = 'array'),
    candidates_found integer NOT NULL CHECK (candidates_found >= 0),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX screener_results_user_screener ON screener_results (user_id, screener_id, created_at DESC, id DESC);

CREATE TABLE alerts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    symbol           text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 21),
    alert_type       text NOT NULL CHECK (alert_type IN ('price', 'delta', 'dte', 'news', 'earnings', 'assignment_risk')),
    condition        text NOT NULL CHECK (condition IN ('above', 'below')),
    threshold        numeric(18, 6),
    message_template text CHECK (message_template IS NULL OR length(message_template) <= 1000),
    channels         jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(channels) = 'array'),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'triggered', 'cancelled')),
    triggered_at     timestamptz,
    cancelled_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'triggered') = (triggered_at IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX alerts_user_status ON alerts (user_id, status, id DESC);
CREATE INDEX alerts_active_by_symbol ON alerts (symbol) WHERE status = 'active';
CREATE TRIGGER alerts_updated_at BEFORE UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Seed 001's alert_history: what fired, when, and who was told.
CREATE TABLE alert_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    alert_id          bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    symbol            text NOT NULL,
    alert_type        text NOT NULL,
    message           text NOT NULL,
    current_value     numeric(18, 6),
    details           jsonb,
    channels_notified jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(channels_notified) = 'array'),
    triggered_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_events_user_alert ON alert_events (user_id, alert_id, triggered_at DESC, id DESC);

CREATE TABLE watchlists (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description text CHECK (description IS NULL OR length(description) <= 2000),
    symbols     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(symbols) = 'array' AND jsonb_array_length(symbols) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);
CREATE INDEX watchlists_symbols ON watchlists USING gin (symbols jsonb_path_ops);
CREATE TRIGGER watchlists_updated_at BEFORE UPDATE ON watchlists FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE trade_journal (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    symbol      text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 21),
    strategy    text NOT NULL CHECK (length(strategy) BETWEEN 1 AND 100),
    legs        jsonb NOT NULL CHECK (jsonb_typeof(legs) = 'array'),
    quantity    integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
    entry_date  date NOT NULL,
    entry_price numeric(18, 4) NOT NULL CHECK (entry_price >= 0),
    exit_date   date,
    exit_price  numeric(18, 4) CHECK (exit_price >= 0),
    pnl         numeric(18, 4),  -- computed by the service from entry and exit, never taken from input
    pnl_percent numeric(12, 4),
    notes       text CHECK (notes IS NULL OR length(notes) <= 10000),
    analysis_id bigint REFERENCES analyses (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((exit_date IS NULL) = (exit_price IS NULL)),
    CHECK (exit_date IS NULL OR exit_date >= entry_date),
    CHECK ((pnl IS NULL) = (exit_price IS NULL))
);
CREATE INDEX trade_journal_user_entry ON trade_journal (user_id, entry_date DESC, id DESC);
CREATE INDEX trade_journal_user_symbol_entry ON trade_journal (user_id, symbol, entry_date DESC, id DESC);
CREATE TRIGGER trade_journal_updated_at BEFORE UPDATE ON trade_journal FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Seed 003: scheduled-job results, one row per (job type, scheduled time) so a duplicate invocation cannot run twice.
CREATE TABLE job_executions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_type           text NOT NULL CHECK (job_type IN ('pre-market', 'analysis', 'intraday', 'end-of-day', 'weekly', 'backup')),
    scheduled_time     timestamptz NOT NULL,
    execution_date     date NOT NULL,  -- the market date, in New York
    status             text NOT NULL CHECK (status IN ('running', 'success', 'partial', 'failure', 'skipped')),
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    duration_ms        integer CHECK (duration_ms >= 0),
    symbols_processed  integer NOT NULL DEFAULT 0 CHECK (symbols_processed >= 0),
    symbols_successful integer NOT NULL DEFAULT 0 CHECK (symbols_successful >= 0),
    symbols_failed     integer NOT NULL DEFAULT 0 CHECK (symbols_failed >= 0),
    error_message      text,
    metadata           jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_type, scheduled_time)
);
CREATE INDEX job_executions_type_date ON job_executions (job_type, execution_date DESC, id DESC);
CREATE INDEX job_executions_date ON job_executions (execution_date DESC, id DESC);
CREATE INDEX job_executions_status_date ON job_executions (status, execution_date DESC);

CREATE TABLE analysis_results (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id   bigint NOT NULL REFERENCES job_executions (id) ON DELETE CASCADE,
    symbol         text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 21),
    sentiment      text CHECK (sentiment IN ('bullish', 'bearish', 'neutral')),
    confidence     numeric(5, 4) CHECK (confidence BETWEEN 0 AND 1),
    direction      text CHECK (direction IN ('buy', 'sell', 'hold')),
    reasoning      text,
    signals        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(signals) = 'array'),
    technical_data jsonb,
    news_count     integer CHECK (news_count >= 0),
    error_message  text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analysis_results_execution ON analysis_results (execution_id);
CREATE INDEX analysis_results_symbol_recent ON analysis_results (symbol, created_at DESC);

CREATE TABLE report_snapshots (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id          bigint NOT NULL REFERENCES job_executions (id) ON DELETE CASCADE,
    report_type           text NOT NULL CHECK (report_type IN ('pre-market', 'analysis', 'intraday', 'end-of-day', 'weekly')),
    report_date           date NOT NULL,
    content               jsonb NOT NULL,
    html_snapshot         text,
    summary               text,
    high_confidence_count integer NOT NULL DEFAULT 0 CHECK (high_confidence_count >= 0),
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_snapshots_type_date ON report_snapshots (report_type, report_date DESC, id DESC);
CREATE INDEX report_snapshots_execution ON report_snapshots (execution_id);

-- Seed 004's audit trail: append-only. Rows change only in two sanctioned ways, each switched on for one
-- transaction with SET LOCAL: erasing a user's personal fields ('redact') and dropping events past retention
-- ('retention'). No foreign key to users: the trail outlives the account it describes.
CREATE TABLE audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    user_id     text,            -- personal: whose data it was (NULL once redacted)
    actor       text,            -- personal: who acted (a user id, 'service:<name>' or 'system')
    action      text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),  -- e.g. 'position.upsert'
    entity      text NOT NULL,
    entity_id   text,
    details     jsonb NOT NULL DEFAULT '{}',  -- personal: never holds secrets or tokens
    request_id  text,
    redacted_at timestamptz
);
CREATE INDEX audit_events_user_recent ON audit_events (user_id, occurred_at DESC) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mode text := coalesce(current_setting('ttai.audit_maintenance', true), '');
BEGIN
    IF TG_OP = 'UPDATE' AND mode = 'redact'
       AND NEW.id = OLD.id AND NEW.occurred_at = OLD.occurred_at AND NEW.action = OLD.action
       AND NEW.entity = OLD.entity AND NEW.entity_id IS NOT DISTINCT FROM OLD.entity_id
       AND NEW.user_id IS NULL AND NEW.actor IS NULL AND NEW.details = '{}'::jsonb AND NEW.redacted_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND mode = 'retention' AND OLD.occurred_at < now() - interval '90 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
