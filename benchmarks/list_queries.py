"""p50/p95 of every tenant list query on PostgreSQL with 1,000 users and 1,000,000 analyses, and one Data API call
per read endpoint.

The data is loaded straight into the stack's PostgreSQL with server-side ``INSERT ... SELECT FROM generate_series``
(no row crosses from Python), spread over the users with a Zipf-like skew (rank r holds a share proportional to
1 / (r + 1) ** 0.8: the heaviest user, ``bench-u0000``, holds about 6.5 % of every table, the top 5 % of users about
42 %, the lightest user 0.026 %), in time order, each user's rows within the months that user was active, so ids grow
with time and a user's rows are scattered over the table as they are in production. ``analyses`` is the largest
table (1,000,000 rows): its list is the most demanding, with the biggest rows, a symbol filter, a keyset on
(created_at, id) and a byte budget computed over the documents of every row it returns.

Every query is the repository's own: the benchmark calls the repository through ``stack.env.DB`` with a ``Tenant``,
records the one statement the D1 binding sends to the Data API (without sending it), and runs that statement, same
SQL and same typed parameters. The repository call is timed (binding, local Data API endpoint, PostgreSQL, models;
reported without a budget), then the statement runs as ``EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON)``: its
"Execution Time", with the user's pages in memory, is the figure with the budget. Each query runs for the same 200
requests, drawn from the users in proportion to their activity (``requests``). A query that misses its budget prints
the plan of its slowest run to stderr.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import psycopg

from benchmarks.measure import QueryTimings, StatementTap, call_detail, database_uri
from benchmarks.report import Row
from local.aws_calls import CallCounter
from local.stack import LocalStack
from ttai.bindings.d1 import D1Database
from ttai.bindings.kv import KVNamespace
from ttai.cursors import CursorCodec
from ttai.http.params import DEFAULT_PAGE_SIZE
from ttai.models.alerts import AlertStatusFilter
from ttai.models.positions import StatusFilter
from ttai.services.alerts import ALERT_EVENTS, ALERTS, AlertRepository
from ttai.services.analyses import ANALYSES, AnalysisRepository
from ttai.services.cache import CacheService
from ttai.services.journal import JOURNAL, JournalRepository
from ttai.services.positions import POSITIONS, PositionRepository
from ttai.services.screeners import SCREENER_RUNS, SCREENERS, ScreenerRepository
from ttai.services.tenancy import Tenant
from ttai.services.watchlists import WATCHLISTS, WatchlistRepository

USERS = 1_000
HEAVY = "bench-u0000"  # rank 0: the heaviest user of every table
ZIPF = 0.8
# Rows per table; analyses is the largest (and its list the most demanding), the others a fraction of it. alert_events
# follows from the triggered alerts (about 227,000 rows); user_preferences has a row for 7 users in 10.
ROWS = {
    "analyses": 1_000_000,
    "trade_journal": 250_000,
    "positions": 100_000,
    "alerts": 100_000,
    "screeners": 10_000,
    "screener_results": 200_000,
    "watchlists": 10_000,
}
SAMPLES = 200
SEED = 3
BUDGET_MS = 5.0
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)  # the data covers the three years before it
# Most popular first (symbols are picked with a skew towards the front); a hundred tickers read better as text.
SYMBOLS = tuple(
    """SPY QQQ IWM AAPL MSFT NVDA AMZN META GOOGL TSLA AMD NFLX JPM BAC WFC C GS MS V MA PYPL SQ SHOP UBER ABNB COIN
    PLTR SOFI F GM T VZ KO PEP WMT COST TGT HD LOW NKE SBUX MCD DIS CMCSA INTC MU QCOM AVGO TXN ORCL CRM ADBE IBM CSCO
    XOM CVX OXY COP SLB HAL BA LMT RTX GE CAT DE MMM UNH JNJ PFE MRK ABBV LLY BMY GILD AMGN CVS WBA XLE XLF XLK XLV
    XLI XLU GLD SLV TLT HYG EEM EFA FXI KRE SMH ARKK BRK.B $SPX ^VIX /ES""".split()  # noqa: SIM905
)
STRATEGIES = ("csp", "covered_call", "wheel", "put_credit_spread", "call_credit_spread", "iron_condor")


def user_id(rank: int) -> str:
    return f"bench-u{rank:04d}"


def activity() -> tuple[list[datetime], list[datetime]]:
    """When each user (by rank) was active: the heaviest for all three years; the others signed up over the first
    two and a half, and one in four (rank 1 among them) has left since. Their rows fall in that window only, as
    a user's ids do in production: a plan that hopes to meet a user's rows early in the id order can be wrong."""
    span = timedelta(days=3 * 365)
    since = [ANCHOR - span + span * 5 / 6 * ((rank * 0.6180339887) % 1) for rank in range(USERS)]
    until = [
        start + (ANCHOR - start) * (0.2 + 0.6 * ((rank * 0.4142135624) % 1)) if rank % 4 == 1 else ANCHOR
        for rank, start in enumerate(since)
    ]
    return since, until


def requests() -> list[str]:
    """Whose requests are timed: SAMPLES of them, from users in proportion to their activity (the same skew as their
    rows, so the heavy user makes about 6.5 % of them and the top 5 % of users about 42 %), drawn with a fixed seed.
    The first is always the heavy user's. A p95 over users drawn evenly would hide a plan slow only for heavy users."""
    weights = [1 / (rank + 1) ** ZIPF for rank in range(USERS)]
    rng = random.Random(SEED)  # noqa: S311 - which users to sample, not a secret
    drawn = [user_id(rank) for rank in rng.choices(range(USERS), weights=weights, k=SAMPLES - 1)]
    return [HEAVY, *drawn]


def shares(total: int) -> list[int]:
    """``total`` rows over the users by rank, Zipf-like, every user at least one; sums to ``total`` exactly."""
    weights = [1 / (rank + 1) ** ZIPF for rank in range(USERS)]
    scale = total / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    counts[0] += total - sum(counts)  # the rounding remainder goes to the heaviest user
    return counts


# ---------------------------------------------------------------------------------------------------- loading

# Each table is filled by one INSERT ... SELECT with no client parameters. Temporary tables hold the constants
# (``bench_const``), the rows per user of each table (``bench_counts``) and pools of 1,000 generated documents
# (``bench_docs``: analysis results of about 600 bytes, screener runs of 1 to 8 candidates). n rows per user come
# from generate_series at times in the user's active window (``bench_active``), ordered by time, so ids grow with
# time and a user's rows are spread over their part of the table as in production. random() is seeded (setseed)
# and parallel plans are off, so every run loads the same data.
_SETUP = (
    """CREATE TEMP TABLE bench_const AS
    SELECT %(symbols)s::text[] AS symbols, %(strategies)s::text[] AS strategies""",
    """CREATE TEMP TABLE bench_active AS
    SELECT * FROM unnest(%(active_users)s::text[], %(since)s::timestamptz[], %(until)s::timestamptz[])
        AS a(user_id, since, until)""",
    """CREATE TEMP TABLE bench_counts AS
    SELECT * FROM unnest(%(tables)s::text[], %(users)s::text[], %(counts)s::int[]) AS c(tbl, user_id, n)""",
    """CREATE TEMP TABLE bench_docs AS
    SELECT i, 1 + i % 8 AS found,
           jsonb_build_object(
               'summary', repeat(md5(i::text), 6),
               'score', round(random()::numeric, 4), 'rsi', round((random() * 100)::numeric, 2),
               'trend', (ARRAY['up', 'down', 'sideways'])[1 + i % 3],
               'levels', jsonb_build_object('support', round((random() * 500)::numeric, 2),
                                            'resistance', round((random() * 500)::numeric, 2)),
               'signals', jsonb_build_array(
                   jsonb_build_object('name', 'golden_cross', 'strength', round(random()::numeric, 3)),
                   jsonb_build_object('name', 'volume_spike', 'strength', round(random()::numeric, 3)),
                   jsonb_build_object('name', 'iv_rank', 'value', round((random() * 100)::numeric, 1)))
           ) AS analysis,
           (SELECT jsonb_agg(jsonb_build_object('symbol', symbols[1 + (i * 7 + j) % cardinality(symbols)],
                                                'price', round((10 + random() * 400)::numeric, 2),
                                                'iv_rank', round((random() * 100)::numeric, 1),
                                                'premium', round((random() * 5)::numeric, 2)))
            FROM generate_series(1, 1 + i % 8) AS j) AS candidates
    FROM generate_series(0, 999) AS i, bench_const""",
)
_USERS = """
INSERT INTO users (id, email, name, created_at)
SELECT user_id, format('%s@example.com', user_id), format('User %s', substr(user_id, 8)), since FROM bench_active
"""
_PREFERENCES = """
INSERT INTO user_preferences (user_id, default_strategy, morning_alert, eod_summary, notification_channels)
SELECT id, k.strategies[1 + rank % 6], rank % 2 = 0, rank % 3 = 0,
       (ARRAY['[]', '["email"]', '["discord", "push"]', '["email", "push"]'])[1 + rank % 4]::jsonb
FROM (SELECT id, substr(id, 8)::int AS rank FROM users WHERE id LIKE 'bench-u%') u, bench_const k
WHERE rank % 10 < 7
"""


def _timeline(table: str, at: str = "created_at") -> str:
    """n rows per user of ``table`` (user_id, g = 1..n, a time while the user was active), ordered by time."""
    return f"""(
        SELECT c.user_id, g, a.since + random() * (a.until - a.since) AS {at}
        FROM bench_counts c JOIN bench_active a USING (user_id), generate_series(1, c.n) AS g
        WHERE c.tbl = '{table}'
        ORDER BY {at}
    )"""  # noqa: S608 - constants only


_PICK_SYMBOL = "k.symbols[1 + floor(power(random(), 2) * cardinality(k.symbols))::int]"  # popular ones first
_ANALYSES = f"""
INSERT INTO analyses (user_id, symbol, type, params, result, recommendation, workflow_id, created_at)
SELECT user_id, {_PICK_SYMBOL}, (ARRAY['chart', 'options', 'research', 'full'])[1 + floor(random() * 4)::int],
       CASE WHEN g % 4 <> 0 THEN jsonb_build_object('timeframe', '1d', 'lookback_days', 30 + g % 200,
            'indicators', jsonb_build_array('rsi', 'macd', 'bollinger')) END,
       d.analysis, (ARRAY['select', 'reject', 'neutral', NULL])[1 + g % 4],
       CASE WHEN g % 3 = 0 THEN format('wf-%s-%s', user_id, g) END, created_at
FROM {_timeline("analyses")} timeline JOIN bench_docs d ON d.i = (g * 7919) % 1000, bench_const k
"""  # noqa: S608 - constants only
_JOURNAL = f"""
INSERT INTO trade_journal (user_id, symbol, strategy, legs, direction, quantity, entry_date, entry_price,
    exit_date, exit_price, pnl, pnl_percent, notes, created_at, updated_at)
SELECT user_id, symbol, strategy,
       CASE WHEN strategy = 'long stock' THEN '[{{"type": "stock", "side": "buy", "ratio": 1}}]'::jsonb
            ELSE jsonb_build_array(jsonb_build_object('type', 'put', 'side', 'sell', 'ratio', 1,
                 'strike', strike::text, 'expiration', (entry_date + 30)::text)) END,
       CASE WHEN strategy = 'long stock' THEN 'long' ELSE 'short' END, quantity, entry_date, entry_price,
       CASE WHEN closed THEN exit_date END, CASE WHEN closed THEN exit_price END,
       CASE WHEN closed THEN round((exit_price - entry_price) * quantity * multiplier, 2) END,
       CASE WHEN closed THEN round((exit_price - entry_price) / entry_price * 100, 2) END,
       CASE WHEN g % 5 = 0 THEN format('trade %s: entered on a pullback to support', g) END,
       entered_at, entered_at
FROM (
    SELECT user_id, g, {_PICK_SYMBOL} AS symbol, entered_at, entered_at::date AS entry_date,
           CASE WHEN g % 3 = 0 THEN 'long stock' ELSE 'short put' END AS strategy,
           CASE WHEN g % 3 = 0 THEN 1 ELSE 100 END AS multiplier,
           round((10 + random() * 400)::numeric, 2) AS strike, 1 + floor(random() * 10)::int AS quantity,
           round((0.5 + random() * 200)::numeric, 4) AS entry_price,
           round((0.5 + random() * 200)::numeric, 4) AS exit_price,
           entered_at::date + floor(random() * 60)::int AS exit_date, random() < 0.6 AS closed
    FROM {_timeline("trade_journal", "entered_at")} timeline, bench_const k
) entries
"""  # noqa: S608 - constants only
# An open position is unique per (symbol, option_type, strike, expiration): the first 40 of a user are stocks, one
# per symbol; the others are options whose (strike, expiration) pair is unique to their number g.
_POSITIONS = f"""
INSERT INTO positions (user_id, symbol, quantity, direction, average_cost, position_type, option_type, strike,
    expiration, status, opened_at, closed_at, created_at, updated_at)
SELECT user_id, CASE WHEN g <= 40 THEN k.symbols[g] ELSE k.symbols[1 + g % 60] END,
       1 + floor(random() * 500)::int, CASE WHEN g % 4 = 0 THEN 'short' ELSE 'long' END,
       round((1 + random() * 400)::numeric, 6),
       CASE WHEN g <= 40 THEN 'stock' ELSE 'option' END,
       CASE WHEN g > 40 THEN (ARRAY['call', 'put'])[1 + g % 2] END,
       CASE WHEN g > 40 THEN 5 + (g % 500) * 0.5 END,
       CASE WHEN g > 40 THEN date '2023-01-20' + 7 * (g / 500) END,
       status, opened_at, CASE WHEN status = 'closed' THEN opened_at + random() * interval '90 days' END,
       opened_at, opened_at
FROM (
    SELECT user_id, g, opened_at, CASE WHEN random() < 0.3 THEN 'open' ELSE 'closed' END AS status
    FROM {_timeline("positions", "opened_at")} timeline
) chosen, bench_const k
"""  # noqa: S608 - constants only
_ALERTS = f"""
INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold, message_template, channels, status,
    triggered_at, cancelled_at, created_at, updated_at)
SELECT user_id, {_PICK_SYMBOL}, alert_type, (ARRAY['above', 'below'])[1 + g % 2],
       CASE alert_type WHEN 'price' THEN round((1 + random() * 500)::numeric, 2)
                       WHEN 'delta' THEN round((random() - 0.5)::numeric, 2) WHEN 'dte' THEN 7 END,
       CASE WHEN g % 3 = 0 THEN '{{symbol}} crossed {{threshold}}' END, '["email", "push"]'::jsonb, status,
       CASE WHEN status = 'triggered' THEN created_at + interval '3 days' END,
       CASE WHEN status = 'cancelled' THEN created_at + interval '5 days' END, created_at, created_at
FROM (
    SELECT user_id, g, created_at,
           (ARRAY['price', 'price', 'price', 'delta', 'dte', 'news', 'earnings'])[1 + floor(random() * 7)::int]
               AS alert_type,
           (ARRAY['active', 'active', 'triggered', 'triggered', 'cancelled'])[1 + floor(random() * 5)::int] AS status
    FROM {_timeline("alerts")} timeline
) chosen, bench_const k
"""  # noqa: S608 - constants only
_HEAVY_ALERT = f"SELECT min(id) FROM alerts WHERE user_id = '{HEAVY}' AND status = 'triggered'"  # noqa: S608
# Every triggered alert fired 1 to 20 times (mostly few); the heavy user's oldest triggered alert 5,000 times.
_ALERT_EVENTS = f"""
INSERT INTO alert_events (user_id, alert_id, symbol, alert_type, message, current_value, details,
    channels_notified, triggered_at)
SELECT user_id, id, symbol, alert_type, format('%s %s %s', symbol, condition, threshold),
       round((1 + random() * 500)::numeric, 2), jsonb_build_object('source', 'quote-stream', 'n', k),
       '["email"]'::jsonb, fired_at
FROM (
    SELECT a.user_id, a.id, a.symbol, a.alert_type, a.condition, a.threshold, k,
           a.triggered_at + (k - 1) * interval '1 hour' AS fired_at
    FROM alerts a
    CROSS JOIN LATERAL generate_series(1, CASE WHEN a.id = ({_HEAVY_ALERT}) THEN 5000
                                              ELSE 1 + floor(power(random(), 3) * 20)::int END) AS k
    WHERE a.status = 'triggered' AND a.user_id LIKE 'bench-u%'
    ORDER BY fired_at
) fired
"""  # noqa: S608 - constants only
_SCREENERS = f"""
INSERT INTO screeners (user_id, name, description, type, criteria, auto_run, schedule, notify_channels,
    created_at, updated_at)
SELECT user_id, format('screener-%s', lpad(g::text, 4, '0')), 'premium sellers with liquid options',
       (ARRAY['stock', 'csp'])[1 + g % 2],
       jsonb_build_object('min_iv_rank', 30 + g % 40, 'min_price', 10, 'max_price', 500, 'min_volume', 1000000,
                          'sectors', jsonb_build_array('tech', 'energy')),
       g % 5 = 0, CASE WHEN g % 5 = 0 THEN '30 9 * * MON-FRI' END, '["email"]'::jsonb, created_at, created_at
FROM {_timeline("screeners")} timeline
"""  # noqa: S608 - constants only
# A user's runs go mostly to their first screeners; one in twenty belongs to a screener deleted since (NULL).
_SCREENER_RESULTS = f"""
INSERT INTO screener_results (user_id, screener_id, criteria, results, candidates_found, created_at)
SELECT t.user_id, s.id, coalesce(s.criteria, '{{}}'::jsonb), d.candidates, d.found, t.created_at
FROM (
    SELECT timeline.user_id, g, created_at,
           CASE WHEN g % 20 <> 0 THEN 1 + floor(power(random(), 2) * least(owned.n, 20))::int END AS pick
    FROM {_timeline("screener_results")} timeline
    JOIN bench_counts owned ON owned.tbl = 'screeners' AND owned.user_id = timeline.user_id
) t
JOIN bench_docs d ON d.i = (t.g * 7919) % 1000
LEFT JOIN screeners s ON s.user_id = t.user_id AND s.name = format('screener-%s', lpad(t.pick::text, 4, '0'))
"""  # noqa: S608 - constants only
_WATCHLISTS = f"""
INSERT INTO watchlists (user_id, name, description, symbols, created_at, updated_at)
SELECT user_id, format('watchlist-%s', lpad(g::text, 4, '0')), CASE WHEN g % 2 = 0 THEN 'names to watch' END,
       (SELECT jsonb_agg(k.symbols[1 + (g * 13 + i) % cardinality(k.symbols)])
        FROM generate_series(1, 5 + g % 45) AS i),
       created_at, created_at
FROM {_timeline("watchlists")} timeline, bench_const k
"""  # noqa: S608 - constants only
_TABLES = (
    "users",
    "user_preferences",
    "analyses",
    "trade_journal",
    "positions",
    "alerts",
    "alert_events",
    "screeners",
    "screener_results",
    "watchlists",
)
# Indexes that only serve reads (not unique, not a constraint's) are built after the rows, as pg_restore does:
# one sort instead of a million random insertions. They are rebuilt from their own definitions, unchanged.
_READ_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique AND NOT i.indisprimary
ORDER BY 1
"""
# The foreign keys are checked once for the whole load instead of row by row (session_replication_role skips
# their triggers; CHECK constraints still apply to every row).
_ORPHANS = """
SELECT (SELECT count(*) FROM ({tables}) AS owned WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = owned.user_id))
     + (SELECT count(*) FROM alert_events e WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = e.alert_id))
     + (SELECT count(*) FROM screener_results r
        WHERE r.screener_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM screeners s WHERE s.id = r.screener_id))
"""


def load(uri: str) -> dict[str, int]:
    """Fill every tenant table; returns the row count of each. analyses loads beside the other tables."""
    per_table = {table: shares(total) for table, total in ROWS.items()}
    since, until = activity()
    values = {
        "active_users": [user_id(rank) for rank in range(USERS)],
        "since": since,
        "until": until,
        "symbols": list(SYMBOLS),
        "strategies": list(STRATEGIES),
        "tables": [table for table in per_table for _ in range(USERS)],
        "users": [user_id(rank) for _ in per_table for rank in range(USERS)],
        "counts": [n for counts in per_table.values() for n in counts],
    }
    with _loader(uri, values) as conn:
        indexes = dict(conn.execute(_READ_INDEXES, (list(_TABLES),)).fetchall())
        for name in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.execute(_USERS)
        conn.execute(_PREFERENCES)
        big = [d for name, d in indexes.items() if name.startswith("analyses_")]
        rest = [d for name, d in indexes.items() if not name.startswith("analyses_")]
        others = [t for t in _TABLES if t != "analyses"]
        streams = (
            [_ANALYSES, *big],
            [_JOURNAL, _POSITIONS, _ALERTS, _ALERT_EVENTS, _SCREENERS, _SCREENER_RESULTS, _WATCHLISTS, *rest],
        )
        # Then statistics for the planner, and the visibility map and hint bits of a settled production table (without
        # this, autovacuum would start on the new rows while the queries are being timed). Only once both streams are
        # done: a VACUUM beside a running INSERT cannot mark the pages it sees all-visible.
        settle = (["VACUUM (ANALYZE) analyses"], [f"VACUUM (ANALYZE) {', '.join(others)}"])
        with ThreadPoolExecutor(len(streams)) as pool:
            for phase, setup in ((streams, values), (settle, None)):
                for done in [pool.submit(_run_stream, uri, setup, statements) for statements in phase]:
                    done.result()
        owned = " UNION ALL ".join(f"SELECT user_id FROM {table}" for table in _TABLES[1:])  # noqa: S608
        orphans = conn.execute(_ORPHANS.format(tables=owned)).fetchone()
        if orphans is None or orphans[0]:
            raise RuntimeError(f"the load broke a foreign key ({orphans} rows)")
        conn.execute("CHECKPOINT")  # the load's dirty pages written out now, not by the first queries timed
        return {table: _count(conn, table) for table in _TABLES}


@contextmanager
def _loader(uri: str, values: dict[str, Any] | None) -> Iterator[psycopg.Connection[Any]]:
    """A connection set up for loading: seeded, serial, foreign-key triggers off, the temporary tables made from
    ``values`` (None: a plain connection)."""
    with psycopg.connect(uri, autocommit=True) as conn:
        if values is None:
            yield conn
            return
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET max_parallel_workers_per_gather = 0")  # random() stays reproducible
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SET session_replication_role = replica")
        conn.execute("SELECT setseed(0.42)")
        for statement in _SETUP:
            conn.execute(statement, values if "%(" in statement else None)
        yield conn


def _run_stream(uri: str, values: dict[str, Any] | None, statements: list[str]) -> None:
    with _loader(uri, values) as conn:
        for statement in statements:
            conn.execute(statement)


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - a table name constant
    return int(row[0]) if row else 0


# ------------------------------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Case:
    """One list query as a repository runs it: ``call(user, db)`` gives the call for a user, None if it has none."""

    name: str
    call: Callable[[str, D1Database], Callable[[], object] | None]


class Lookup:
    """Keyset positions in the loaded data, for cursors deep in a user's lists (straight from PostgreSQL)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def one(self, sql: str, *params: Any) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return row if row is None or len(row) > 1 else row[0]

    def middle(self, table_order: str, where: str, *params: Any, columns: str) -> Any:
        """``columns`` of the row halfway down a user's list (``where`` filters it, ``table_order`` sorts it)."""
        table, order = table_order.split(" ORDER BY ")
        count = self.one(f"SELECT count(*) FROM {table} WHERE {where}", *params)  # noqa: S608 - constants
        return self.one(
            f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {order} OFFSET %s LIMIT 1",  # noqa: S608
            *params,
            count // 2,
        )


def cases(look: Lookup, kv: KVNamespace) -> list[Case]:  # noqa: PLR0915 - one small closure per query
    """Every list query the services run: first page, a page halfway down via a cursor, and the filters."""
    cache = CacheService(kv)
    cursors = CursorCodec(lambda: ["list-queries-benchmark"])  # cursors made here and read here, by the same key
    page = DEFAULT_PAGE_SIZE

    def positions(status: StatusFilter, deep: bool) -> Case:
        def call(user: str, db: D1Database) -> Callable[[], object] | None:
            cursor = None
            repository = PositionRepository(db, Tenant(user), kv, cursors=cursors)
            if deep:
                where, params = (
                    ("user_id = %s", [user]) if status == "all" else ("user_id = %s AND status = %s", [user, status])
                )
                middle = look.middle("positions ORDER BY id", where, *params, columns="id")
                if middle is None:
                    return None
                cursor = repository.next_cursor(POSITIONS, [middle], status)
            return lambda: repository.list(status, page, cursor)

        return Case(f"positions status={status}, {'deep page' if deep else 'first page'}", call)

    def analyses(by_symbol: bool, deep: bool) -> Case:
        def call(user: str, db: D1Database) -> Callable[[], object] | None:
            symbol = None
            if by_symbol:  # the symbol the user analysed last
                symbol = look.one(
                    "SELECT symbol FROM analyses WHERE user_id = %s ORDER BY created_at DESC LIMIT 1", user
                )
            cursor = None
            repository = AnalysisRepository(db, Tenant(user), cache, cursors=cursors)
            if deep:
                where, params = ("user_id = %s AND symbol = %s", [user, symbol]) if symbol else ("user_id = %s", [user])
                middle = look.middle(
                    "analyses ORDER BY created_at DESC, id DESC", where, *params, columns="created_at, id"
                )
                if middle is None:
                    return None
                cursor = repository.next_cursor(ANALYSES, middle, symbol)
            return lambda: repository.list(page, cursor, symbol)

        filters = "symbol=<last analysed>" if by_symbol else "all"
        return Case(f"analyses {filters}, {'deep page' if deep else 'first page'}", call)

    def journal(by_symbol: bool, by_dates: bool, deep: bool) -> Case:
        def call(user: str, db: D1Database) -> Callable[[], object] | None:
            symbol = since = until = None
            if by_symbol:
                symbol = look.one(
                    "SELECT symbol FROM trade_journal WHERE user_id = %s ORDER BY entry_date DESC, id DESC LIMIT 1",
                    user,
                )
            if by_dates:  # a quarter around the middle of the user's history
                middle_date: date = look.middle(
                    "trade_journal ORDER BY entry_date DESC, id DESC", "user_id = %s", user, columns="entry_date"
                )
                since, until = middle_date - timedelta(days=45), middle_date + timedelta(days=45)
            cursor = None
            repository = JournalRepository(db, Tenant(user), cursors=cursors)
            if deep:
                middle = look.middle(
                    "trade_journal ORDER BY entry_date DESC, id DESC", "user_id = %s", user, columns="entry_date, id"
                )
                if middle is None:
                    return None
                cursor = repository.next_cursor(JOURNAL, middle, symbol, since, until)
            return lambda: repository.list(symbol, since, until, page, cursor)

        filters = (
            ", ".join([*(["symbol=<last traded>"] if by_symbol else []), *(["from/to=<90 days>"] if by_dates else [])])
            or "all"
        )
        return Case(f"journal {filters}, {'deep page' if deep else 'first page'}", call)

    def alerts(status: AlertStatusFilter, deep: bool) -> Case:
        def call(user: str, db: D1Database) -> Callable[[], object] | None:
            cursor = None
            repository = AlertRepository(db, Tenant(user), cursors=cursors)
            if deep:
                where, params = (
                    ("user_id = %s", [user]) if status == "all" else ("user_id = %s AND status = %s", [user, status])
                )
                middle = look.middle("alerts ORDER BY id DESC", where, *params, columns="id")
                if middle is None:
                    return None
                cursor = repository.next_cursor(ALERTS, [middle], status)
            return lambda: repository.list(status, page, cursor)

        return Case(f"alerts status={status}, {'deep page' if deep else 'first page'}", call)

    def alert_events(deep: bool) -> Case:
        def call(user: str, db: D1Database) -> Callable[[], object] | None:
            repository = AlertRepository(db, Tenant(user), cursors=cursors)
            if deep:  # the user's alert that fired most, from halfway down its events
                alert = look.one(
                    "SELECT alert_id FROM alert_events WHERE user_id = %s "
                    "GROUP BY alert_id ORDER BY count(*) DESC LIMIT 1",
                    user,
                )
                middle = look.middle(
                    "alert_events ORDER BY triggered_at DESC, id DESC",
                    "user_id = %s AND alert_id = %s",
                    user,
                    alert,
                    columns="triggered_at, id",
                )
                if middle is None:
                    return None
                cursor = repository.next_cursor(ALERT_EVENTS, middle, alert)
            else:  # the user's latest triggered alert
                alert = look.one("SELECT max(id) FROM alerts WHERE user_id = %s AND status = 'triggered'", user)
                cursor = None
            if alert is None:
                return None
            return lambda: repository.events(alert, page, cursor)

        return Case(f"alert events, {'deep page (most fired alert)' if deep else 'first page'}", call)

    def screeners(deep: bool) -> Case:
        def call(user: str, db: D1Database) -> Callable[[], object] | None:
            cursor = None
            repository = ScreenerRepository(db, Tenant(user), cursors=cursors)
            if deep:
                middle = look.middle("screeners ORDER BY name", "user_id = %s", user, columns="name")
                if middle is None:
                    return None
                cursor = repository.next_cursor(SCREENERS, [middle])
            return lambda: repository.list(page, cursor)

        return Case(f"screeners, {'deep page' if deep else 'first page'}", call)

    def screener_runs(deep: bool) -> Case:
        def call(user: str, db: D1Database) -> Callable[[], object] | None:
            name = look.one(  # the user's most run screener
                "SELECT s.name FROM screener_results r JOIN screeners s ON s.id = r.screener_id WHERE r.user_id = %s "
                "GROUP BY s.name ORDER BY count(*) DESC LIMIT 1",
                user,
            )
            if name is None:
                return None
            cursor = None
            repository = ScreenerRepository(db, Tenant(user), cursors=cursors)
            if deep:
                middle = look.middle(
                    "screener_results r ORDER BY r.created_at DESC, r.id DESC",
                    "r.user_id = %s AND r.screener_id = (SELECT id FROM screeners WHERE user_id = %s AND name = %s)",
                    user,
                    user,
                    name,
                    columns="r.created_at, r.id",
                )
                if middle is None:
                    return None
                cursor = repository.next_cursor(SCREENER_RUNS, middle, name)
            return lambda: repository.runs(name, page, cursor)

        return Case(f"screener results (most run screener), {'deep page' if deep else 'first page'}", call)

    def watchlists(deep: bool) -> Case:
        def call(user: str, db: D1Database) -> Callable[[], object] | None:
            cursor = None
            repository = WatchlistRepository(db, Tenant(user), cursors=cursors)
            if deep:
                middle = look.middle("watchlists ORDER BY name", "user_id = %s", user, columns="name")
                if middle is None:
                    return None
                cursor = repository.next_cursor(WATCHLISTS, [middle])
            return lambda: repository.list(page, cursor)

        return Case(f"watchlists, {'deep page' if deep else 'first page'}", call)

    return [
        positions("open", deep=False),
        positions("open", deep=True),
        positions("closed", deep=False),
        positions("all", deep=False),
        positions("all", deep=True),
        analyses(by_symbol=False, deep=False),
        analyses(by_symbol=False, deep=True),
        analyses(by_symbol=True, deep=False),
        analyses(by_symbol=True, deep=True),
        journal(by_symbol=False, by_dates=False, deep=False),
        journal(by_symbol=False, by_dates=False, deep=True),
        journal(by_symbol=True, by_dates=False, deep=False),
        journal(by_symbol=False, by_dates=True, deep=False),
        journal(by_symbol=True, by_dates=True, deep=False),
        alerts("all", deep=False),
        alerts("all", deep=True),
        alerts("active", deep=False),
        alerts("cancelled", deep=False),
        alert_events(deep=False),
        alert_events(deep=True),
        screeners(deep=False),
        screeners(deep=True),
        screener_runs(deep=False),
        screener_runs(deep=True),
        watchlists(deep=False),
        watchlists(deep=True),
    ]


def measure(stack: LocalStack, case: Case, users: list[str], tap: StatementTap, client: Any) -> QueryTimings:
    timings = QueryTimings()
    db = stack.env.DB
    for user in users:
        call = case.call(user, db)
        if call is not None:
            # On this VM the kernel takes back page cache that has gone unused for a minute, so the first, whole trip
            # reads the user's pages from the virtual disk; PostgreSQL's account of the statement is on those pages.
            timings.time(call, tap, client)
    return timings


def endpoints(stack: LocalStack, look: Lookup, user: str) -> list[Row]:
    """Every GET route of the tenant API under /api/v1 (and a second page of each list that has one), with the
    authorizer's answer cached: one Data API call each, and no other AWS call."""
    token = stack.token_for(user)
    ids = {
        "{id}": look.one("SELECT max(id) FROM positions WHERE user_id = %s", user),
        "{analysis}": look.one("SELECT max(id) FROM analyses WHERE user_id = %s", user),
        "{screener}": look.one("SELECT min(name) FROM screeners WHERE user_id = %s", user),
        "{alert}": look.one("SELECT max(id) FROM alerts WHERE user_id = %s AND status = 'triggered'", user),
        "{watchlist}": look.one("SELECT min(name) FROM watchlists WHERE user_id = %s", user),
    }
    symbol = look.one("SELECT symbol FROM trade_journal WHERE user_id = %s ORDER BY entry_date DESC LIMIT 1", user)
    routes: list[tuple[str, dict[str, str]]] = [
        ("/api/v1/me", {}),
        ("/api/v1/preferences", {}),
        ("/api/v1/positions", {}),
        ("/api/v1/positions", {"status": "all"}),
        ("/api/v1/positions/{id}", {}),
        ("/api/v1/analyses", {}),
        ("/api/v1/analyses", {"symbol": symbol}),
        ("/api/v1/analyses/{analysis}", {}),
        ("/api/v1/screeners", {}),
        ("/api/v1/screeners/{screener}", {}),
        ("/api/v1/screeners/{screener}/results", {}),
        ("/api/v1/alerts", {}),
        ("/api/v1/alerts/{alert}/events", {}),
        ("/api/v1/watchlists", {}),
        ("/api/v1/watchlists/{watchlist}", {}),
        ("/api/v1/journal", {}),
        ("/api/v1/journal", {"symbol": symbol, "from": "2024-01-01", "to": "2025-12-31"}),
    ]
    env = stack.env
    data_api = env.client("rds-data")
    others = [env.client(service) for service in ("dynamodb", "s3", "secretsmanager")]
    stack.http("GET", "/api/v1/me", token=token)  # the authorizer's answer is now cached, the functions imported
    rows = []
    for route, query in routes:
        path = route
        for placeholder, value in ids.items():
            path = path.replace(placeholder, str(value))
        # Once uncounted (the route's first request), then counted; a list's second page comes from the first's cursor.
        status, _, body = stack.http("GET", path, token=token, query=query)
        answered = status == 200
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        pages = [query] + ([{**query, "cursor": cursor}] if cursor else [])
        for number, page in enumerate(pages, start=1):
            with CallCounter(data_api) as calls, CallCounter(*others) as other_calls:
                status, _, _ = stack.http("GET", path, token=token, query=page)
            detail = call_detail({**calls.calls, **other_calls.calls})
            shown = {**query, "cursor": "<page 2>"} if number == 2 else query
            target = f"{route}?{urlencode(shown, safe='<> ', quote_via=quote)}" if shown else route
            ok = answered and status == 200 and calls.total == 1 and other_calls.total == 0
            rows.append(Row("read endpoints", f"GET {target} [{detail}]", calls.total, "Data API calls", "= 1", ok))
    return rows


def run() -> list[Row]:
    started = time.perf_counter()
    with LocalStack() as stack:
        uri = database_uri(stack)
        loading = time.perf_counter()
        counts = load(uri)
        loaded_s = time.perf_counter() - loading
        total = sum(counts.values())
        print(
            f"list_queries: loaded {total:,} rows ({', '.join(f'{t} {n:,}' for t, n in counts.items())}) "
            f"in {loaded_s:.1f} s",
            file=sys.stderr,
        )
        rows = [Row("list queries", f"bulk load: {USERS:,} users, {total:,} rows", loaded_s, "s")]
        users = requests()
        server_rows, trip_rows = [], []
        with psycopg.connect(uri, autocommit=True) as conn, StatementTap(stack.env.client("rds-data")) as tap:
            look = Lookup(conn)
            client = stack.client("rds-data")
            for case in cases(look, stack.env.KV):
                timings = measure(stack, case, users, tap, client)
                server_row, trip_row = timings.rows("list queries", case.name, BUDGET_MS)
                server_rows.append(server_row)
                trip_rows.append(trip_row)
                if not server_row.ok:
                    timings.explain_miss("list_queries", case.name)
            rows += server_rows + trip_rows
            rows += endpoints(stack, look, user_id(1))
    rows.append(Row("list queries", "benchmark run, start to end", time.perf_counter() - started, "s"))
    return rows
