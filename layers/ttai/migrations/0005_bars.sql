-- Daily price bars the analysis job reads (seed 002's jobs need history; the quote cache holds only the present).
-- One bar per symbol and trading day. source says where a bar came from: 'demo' marks the generated set that
-- `make dev` loads, so it can never pass for market data; a feed or an import names itself.
CREATE TABLE bars (
    symbol     text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 21),
    date       date NOT NULL,
    open       numeric(18, 6) NOT NULL CHECK (open > 0),
    high       numeric(18, 6) NOT NULL CHECK (high > 0),
    low        numeric(18, 6) NOT NULL CHECK (low > 0),
    close      numeric(18, 6) NOT NULL CHECK (close > 0),
    volume     bigint NOT NULL CHECK (volume >= 0),
    source     text NOT NULL CHECK (source ~ '^[a-z][a-z0-9_-]{0,31}$'),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, date),
    CHECK (high >= low),
    CHECK (high >= open AND high >= close),
    CHECK (low <= open AND low <= close)
);
-- The primary key serves "the last N bars of a symbol up to a date" (symbol =, date DESC).
