"""Fixtures in Cloudflare's own formats, for the importers' tests and benchmark: a ``wrangler d1 export`` of seed
000's D1 schema (seed 002 declares the same tables) and a ``wrangler kv bulk put`` file.

The D1 rows are made with Python's sqlite3 in seed 000's schema (``CREATE TABLE`` as the seed writes it, plus the
``d1_migrations`` table wrangler keeps) and written the way D1's export writes them: ``PRAGMA
defer_foreign_keys=TRUE;`` first; each table's ``CREATE TABLE`` as stored, then one ``INSERT INTO "t" ("a","b")
VALUES(...);`` a row, tables in creation order; ``sqlite_sequence`` last (``DELETE FROM sqlite_sequence;`` then its
rows); indexes, triggers and views at the end. Values are written as a JavaScript number prints them, strings quoted
with line breaks spelled ``replace('...\\n...','\\n',char(10))``, blobs as ``X'..'``; no BEGIN/COMMIT (D1 refuses
them). SQLite itself reads the result.

Beside ordinary rows, the D1 data holds what a real D1 database of this schema collects and the import must handle:
seed 000's duplicated open stock positions (its upsert names a conflict target no constraint backs), short positions
as negative quantities, positions closed without ``closed_at`` and cancelled alerts (neither records when), and a
few damaged rows our constraints refuse (listed in ``DAMAGED``).

``python -m tests.cloudflare_fixtures`` rewrites the committed fixtures under ``tests/fixtures/cloudflare/``; the
benchmark calls ``write_d1_export`` with a larger scale at run time.
"""

from __future__ import annotations

import base64
import json
import math
import random
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

FIXTURES = Path(__file__).parent / "fixtures" / "cloudflare"
D1_EXPORT = FIXTURES / "d1_export.sql"
KV_BULK = FIXTURES / "kv_bulk.json"
EPOCH_2025 = 1_735_689_600  # 2025-01-01T00:00:00Z: the fixture's rows are from 2025 and 2026

# Seed 000's D1 schema, as the seed declares it (seed 002's migrations create the same positions and tokens tables).
SEED_SCHEMA = """
CREATE TABLE d1_migrations(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT,
    name TEXT,
    created_at INTEGER DEFAULT (unixepoch()),
    updated_at INTEGER DEFAULT (unixepoch())
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at INTEGER DEFAULT (unixepoch()),
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    FOREIGN KEY (user_id) REFERENCES users(id)
);
CREATE INDEX idx_sessions_user ON sessions(user_id);
CREATE INDEX idx_sessions_expires ON sessions(expires_at);
CREATE TABLE user_oauth_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER DEFAULT (unixepoch()),
    updated_at INTEGER DEFAULT (unixepoch()),
    UNIQUE(user_id, provider),
    FOREIGN KEY (user_id) REFERENCES users(id)
);
CREATE TABLE user_preferences (
    user_id TEXT PRIMARY KEY,
    default_strategy TEXT DEFAULT 'csp',
    morning_alert INTEGER DEFAULT 0,
    eod_summary INTEGER DEFAULT 0,
    notification_channels TEXT DEFAULT '[]',
    created_at INTEGER DEFAULT (unixepoch()),
    updated_at INTEGER DEFAULT (unixepoch())
);
CREATE TABLE positions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    average_cost REAL NOT NULL,
    position_type TEXT NOT NULL,
    option_type TEXT,
    strike REAL,
    expiration TEXT,
    status TEXT DEFAULT 'open',
    opened_at INTEGER,
    closed_at INTEGER,
    created_at INTEGER DEFAULT (unixepoch()),
    updated_at INTEGER DEFAULT (unixepoch())
);
CREATE INDEX idx_positions_user ON positions(user_id);
CREATE INDEX idx_positions_user_status ON positions(user_id, status);
CREATE TABLE analyses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    type TEXT NOT NULL,
    result TEXT NOT NULL,
    recommendation TEXT,
    workflow_id TEXT,
    created_at INTEGER DEFAULT (unixepoch())
);
CREATE INDEX idx_analyses_user ON analyses(user_id);
CREATE INDEX idx_analyses_user_symbol ON analyses(user_id, symbol);
CREATE TABLE screeners (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    criteria TEXT NOT NULL,
    auto_run INTEGER DEFAULT 0,
    created_at INTEGER DEFAULT (unixepoch()),
    updated_at INTEGER DEFAULT (unixepoch()),
    UNIQUE(user_id, name)
);
CREATE INDEX idx_screeners_user ON screeners(user_id);
CREATE TABLE screener_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    screener_id INTEGER,
    criteria TEXT NOT NULL,
    results TEXT NOT NULL,
    created_at INTEGER DEFAULT (unixepoch()),
    FOREIGN KEY (screener_id) REFERENCES screeners(id)
);
CREATE INDEX idx_screener_results_user ON screener_results(user_id);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    alert_type TEXT NOT NULL,
    condition TEXT NOT NULL,
    threshold REAL,
    message_template TEXT,
    status TEXT DEFAULT 'active',
    triggered_at INTEGER,
    created_at INTEGER DEFAULT (unixepoch())
);
CREATE INDEX idx_alerts_user ON alerts(user_id);
CREATE INDEX idx_alerts_active ON alerts(user_id, status) WHERE status = 'active';
CREATE TABLE watchlists (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    symbols TEXT NOT NULL,
    created_at INTEGER DEFAULT (unixepoch()),
    updated_at INTEGER DEFAULT (unixepoch()),
    UNIQUE(user_id, name)
);
CREATE INDEX idx_watchlists_user ON watchlists(user_id);
"""

SYMBOLS = ("AAPL", "MSFT", "NVDA", "SPY", "QQQ", "AMD", "TSLA", "AMZN", "META", "GOOGL", "IWM", "XLF")
EXPIRATIONS = ("2025-06-20", "2025-09-19", "2025-12-19", "2026-01-16", "2026-03-20", "2026-06-18")


@dataclass(frozen=True)
class Scale:
    """How many rows of each table (the committed fixture is ``Scale()``, a few thousand rows)."""

    users: int = 120
    sessions_per_user: int = 3
    positions_per_user: int = 12
    duplicated_stock_groups: int = 20
    analyses_per_user: int = 7
    screeners_per_user: int = 1
    results_per_screener: int = 3
    alerts_per_user: int = 4
    watchlists_per_user: int = 2

    @classmethod
    def for_rows(cls, rows: int) -> Scale:
        """A scale whose dump holds at least ``rows`` rows (34⅔ a user at the default shares, plus the duplicates)."""
        return cls(users=max(10, math.ceil(rows * 3 / 104)), duplicated_stock_groups=max(20, rows // 2000))


# The damaged rows: what a D1 database can hold and our constraints refuse (each is reported, never dropped).
DAMAGED: dict[str, set[Any]] = {
    "users": {"bad user id"},  # a space is not in a TastyTrade account id (users_id_check)
    "user_preferences": {"5WT00004"},  # notification_channels is not JSON
    "sessions": {"jti-of-the-bad-user"},  # its user is refused, so its foreign key has nothing to point at
    "positions": {9},  # an option without a strike
    "analyses": {11},  # result is not JSON
    "alerts": {13},  # condition 'crosses' is not one we evaluate
    "screener_results": {17},  # points at a screener that does not exist
}


def user_ids(scale: Scale) -> list[str]:
    return [f"5WT{n:05d}" for n in range(1, scale.users + 1)]


def populate(conn: sqlite3.Connection, scale: Scale = Scale(), seed: int = 3) -> None:
    """Create seed 000's schema in ``conn`` and fill it (deterministic for a given scale and seed)."""
    rng = random.Random(seed)
    conn.executescript(SEED_SCHEMA)
    conn.executemany(
        "INSERT INTO d1_migrations (name, applied_at) VALUES (?, ?)",
        [("0001_initial.sql", "2025-01-02 09:00:00"), ("0002_add_alerts.sql", "2025-02-10 17:45:12")],
    )
    users = user_ids(scale)
    _users(conn, rng, users)
    _sessions_and_tokens(conn, rng, users, scale)
    _preferences(conn, rng, users)
    _positions(conn, rng, users, scale)
    _analyses(conn, rng, users, scale)
    _screeners(conn, rng, users, scale)
    _alerts(conn, rng, users, scale)
    _watchlists(conn, rng, users, scale)
    conn.commit()


def _when(rng: random.Random, days: int = 500) -> int:
    return EPOCH_2025 + rng.randrange(days * 86400)


def _users(conn: sqlite3.Connection, rng: random.Random, users: list[str]) -> None:
    rows = []
    for n, uid in enumerate(users):
        created = _when(rng)
        name = ("Zoë O'Brien", "José Álvarez", "Ada Lovelace", None)[n % 4]
        email = None if n % 9 == 0 else f"{uid.lower()}@example.com"
        rows.append((uid, email, name, created, created + rng.randrange(86400 * 30)))
    rows.append(("bad user id", "damaged@example.com", "Damaged", EPOCH_2025, EPOCH_2025))
    conn.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)", rows)


def _sessions_and_tokens(conn: sqlite3.Connection, rng: random.Random, users: list[str], scale: Scale) -> None:
    sessions = []
    tokens = []
    for uid in users:
        for _ in range(scale.sessions_per_user):
            created = _when(rng)
            revoked = created + 3600 if rng.random() < 0.2 else None
            sessions.append((f"jti-{rng.getrandbits(64):016x}", uid, created, created + 86400, revoked))
        created = _when(rng)
        sealed = base64.b64encode(rng.randbytes(48)).decode()
        tokens.append((uid, "tastytrade", sealed, sealed[::-1], created + 900, created, created))
    sessions.append(("jti-of-the-bad-user", "bad user id", EPOCH_2025, EPOCH_2025 + 86400, None))
    conn.executemany("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", sessions)
    conn.executemany(
        "INSERT INTO user_oauth_tokens (user_id, provider, access_token, refresh_token, expires_at, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        tokens,
    )


def _preferences(conn: sqlite3.Connection, rng: random.Random, users: list[str]) -> None:
    rows = []
    for n, uid in enumerate(users):
        if n % 3 == 2:
            continue  # not everyone saved preferences
        channels = json.dumps(rng.sample(["discord", "email", "push"], rng.randrange(4)))
        if uid in DAMAGED["user_preferences"]:
            channels = "discord, email"
        strategy = ("csp", "wheel", "covered_call", "iron_condor")[n % 4]
        created = _when(rng)
        rows.append((uid, strategy, n % 2, (n // 2) % 2, channels, created, created + 600))
    conn.executemany("INSERT INTO user_preferences VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


POSITION_COLUMNS = (
    "user_id, symbol, quantity, average_cost, position_type, option_type, strike, expiration, status,"
    " opened_at, closed_at, created_at, updated_at"
)


def _positions(conn: sqlite3.Connection, rng: random.Random, users: list[str], scale: Scale) -> None:
    def insert(row: tuple[Any, ...]) -> None:  # the 13 POSITION_COLUMNS
        conn.execute(f"INSERT INTO positions ({POSITION_COLUMNS}) VALUES ({', '.join('?' * 13)})", row)

    row: tuple[Any, ...]
    for n in range(len(users) * scale.positions_per_user):
        uid = users[n % len(users)]
        symbol = SYMBOLS[(n // len(users)) % len(SYMBOLS)]  # a user's positions are in different symbols
        opened = _when(rng)
        updated = opened + rng.randrange(86400 * 20)
        status = "closed" if n % 5 == 0 else "open"
        # A closed position keeps closed_at when the sync recorded it; seed 000's upsert can close one without it.
        closed = (updated if n % 10 == 0 else None) if status == "closed" else None
        if n % 4 == 0:
            quantity = -rng.randrange(1, 10) if n % 8 == 0 else rng.randrange(1, 10)
            option_type = ("call", "put")[n % 2]
            strike = None if n + 1 in DAMAGED["positions"] else float(rng.randrange(50, 600)) + 0.5 * (n % 3)
            cost = round(rng.uniform(0.05, 25), 4)
            expiration = EXPIRATIONS[n % len(EXPIRATIONS)]
            row = (uid, symbol, quantity, cost, "option", option_type, strike, expiration, status, opened, closed)
        else:
            quantity = rng.randrange(1, 500) * (-1 if n % 11 == 0 else 1)
            cost = round(rng.uniform(5, 900), 6)
            row = (uid, symbol, quantity, cost, "stock", None, None, None, status, opened, closed)
        insert((*row, opened, updated))
    # Seed 000 upserts ON CONFLICT on columns no unique constraint covers, and a stock's NULL option fields never
    # collide: every re-sync of an open stock position added a row. These groups are those re-syncs.
    for group in range(scale.duplicated_stock_groups):
        uid = users[(group * 7) % len(users)]
        symbol = f"DUP{group}"
        first = _when(rng)
        for resync in range(2 + group % 2):
            at = first + resync * 86400
            insert((uid, symbol, 100 + 10 * resync, 50.0 + resync, "stock", None, None, None, "open",
                    first, None, at, at))  # fmt: skip


def _analyses(conn: sqlite3.Connection, rng: random.Random, users: list[str], scale: Scale) -> None:
    rows = []
    for n in range(len(users) * scale.analyses_per_user):
        uid = users[n % len(users)]
        symbol = SYMBOLS[n % len(SYMBOLS)]
        result = {
            "symbol": symbol,
            "rsi": round(rng.uniform(10, 90), 2),
            "support": [round(rng.uniform(50, 100), 2), 1e-7, 12.50],
            "summary": "Bullish 'breakout'\nvolume confirms" if n % 13 == 0 else "range-bound",
            "nested": {"b": 1, "a": [True, None]},
        }
        text = json.dumps(result) if n + 1 not in DAMAGED["analyses"] else '{"symbol": "AAPL", "rsi": '
        kind = ("chart", "options", "full")[n % 3]
        recommendation = ("select", "reject", "neutral", None)[n % 4]
        workflow = f"wf-{n:06d}" if n % 2 else None
        rows.append((uid, symbol, kind, text, recommendation, workflow, _when(rng)))
    conn.executemany(
        "INSERT INTO analyses (user_id, symbol, type, result, recommendation, workflow_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _screeners(conn: sqlite3.Connection, rng: random.Random, users: list[str], scale: Scale) -> None:
    screeners = []
    for n, uid in enumerate(users):
        for k in range(scale.screeners_per_user):
            criteria = {"min_price": 10 + n % 40, "max_price": 200.0, "symbols": list(SYMBOLS[: 3 + n % 5])}
            created = _when(rng)
            description = "Weekly puts\non quality names" if n % 7 == 0 else None
            screeners.append((uid, f"screen {k}", description, ("stock", "csp")[n % 2], json.dumps(criteria),
                              n % 2, created, created + 60))  # fmt: skip
    conn.executemany(
        "INSERT INTO screeners (user_id, name, description, type, criteria, auto_run, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        screeners,
    )
    results = []
    count = len(screeners)
    for n in range(count * scale.results_per_screener):
        screener = n % count + 1
        uid = users[(screener - 1) // scale.screeners_per_user]
        found = [{"symbol": s, "score": round(rng.random(), 3)} for s in rng.sample(SYMBOLS, rng.randrange(4))]
        screener_id = count + 1000 if n + 1 in DAMAGED["screener_results"] else screener
        results.append((uid, screener_id, json.dumps({"min_price": 10}), json.dumps(found), _when(rng)))
    conn.executemany(
        "INSERT INTO screener_results (user_id, screener_id, criteria, results, created_at) VALUES (?, ?, ?, ?, ?)",
        results,
    )


def _alerts(conn: sqlite3.Connection, rng: random.Random, users: list[str], scale: Scale) -> None:
    rows = []
    for n in range(len(users) * scale.alerts_per_user):
        uid = users[n % len(users)]
        created = _when(rng)
        status = ("active", "active", "triggered", "cancelled")[n % 4]
        triggered = created + 7200 if status == "triggered" else None
        condition = "crosses" if n + 1 in DAMAGED["alerts"] else ("above", "below")[n % 2]
        template = "{symbol} crossed {threshold}" if n % 3 == 0 else None
        rows.append((uid, SYMBOLS[n % len(SYMBOLS)], ("price", "delta", "dte", "news")[n % 4], condition,
                     round(rng.uniform(1, 500), 2), template, status, triggered, created))  # fmt: skip
    conn.executemany(
        "INSERT INTO alerts (user_id, symbol, alert_type, condition, threshold, message_template, status,"
        " triggered_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _watchlists(conn: sqlite3.Connection, rng: random.Random, users: list[str], scale: Scale) -> None:
    rows = []
    for n, uid in enumerate(users):
        for k in range(scale.watchlists_per_user):
            symbols = rng.sample(SYMBOLS, 1 + (n + k) % 6)
            created = _when(rng)
            rows.append((uid, ("Core", "Earnings week", "Puts to sell")[k % 3], json.dumps(symbols), created, created))
    conn.executemany(
        "INSERT INTO watchlists (user_id, name, symbols, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", rows
    )


# --------------------------------------------------------------------------------------- D1's export format


def js_number(value: int | float) -> str:
    """A number as JavaScript's ``String(n)`` prints it (D1 hands rows to its exporter as JavaScript values)."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"{value} cannot be written in SQL")
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)  # the shortest text that reads back as the same double, as JavaScript chooses it
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    exponent_value = int(exponent)
    if -7 < exponent_value < 21:  # JavaScript writes these in positional notation
        return format(Decimal(text), "f")
    return f"{mantissa}e{'+' if exponent_value > 0 else '-'}{abs(exponent_value)}"


def sql_string(value: str) -> str:
    """SQLite's shell quoting, as D1's export uses it: line breaks become ``replace(...,char(10))``."""
    if "\n" not in value and "\r" not in value:
        return "'" + value.replace("'", "''") + "'"
    newline = _unused(value, "\\n", "\\012")
    carriage = _unused(value, "\\r", "\\015")
    text = "'" + value.replace("'", "''").replace("\n", newline).replace("\r", carriage) + "'"
    if "\r" in value:
        text = f"replace({text},'{carriage}',char(13))"
    if "\n" in value:
        text = f"replace({text},'{newline}',char(10))"
    return text


def _unused(value: str, first: str, second: str) -> str:
    if first not in value:
        return first
    if second not in value:
        return second
    n = 0
    while f"({first}{n})" in value:
        n += 1
    return f"({first}{n})"


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, str):
        return sql_string(value)
    if isinstance(value, bytes):
        return "X'" + value.hex() + "'"
    raise TypeError(f"unexpected SQLite value {value!r}")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def export_statements(conn: sqlite3.Connection) -> Iterator[str]:
    """The statements of a ``wrangler d1 export`` of ``conn``, one per line as D1 writes them."""
    yield "PRAGMA defer_foreign_keys=TRUE;"
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql NOT NULL"
        " ORDER BY tbl_name = 'sqlite_sequence', rowid"
    ).fetchall()
    for table, create in tables:
        if table == "sqlite_sequence":
            yield "DELETE FROM sqlite_sequence;"
        elif table.startswith(("_cf_", "sqlite_")):
            continue
        elif create.startswith(('CREATE TABLE "', "CREATE TABLE '")):
            yield f"CREATE TABLE IF NOT EXISTS {create[13:]};"
        else:
            yield f"{create};"
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info={_identifier(table)}")]
        names = ",".join(_identifier(c) for c in columns)
        select = f"SELECT {', '.join(_identifier(c) for c in columns)} FROM {_identifier(table)}"
        for row in conn.execute(select):
            yield f"INSERT INTO {_identifier(table)} ({names}) VALUES({','.join(_literal(v) for v in row)});"
    rest = conn.execute(
        "SELECT sql FROM sqlite_schema WHERE sql NOT NULL AND type IN ('index', 'trigger', 'view')"
        " ORDER BY type COLLATE NOCASE"
    )
    for (create,) in rest:
        yield f"{create};"


def write_d1_export(out: TextIO, scale: Scale = Scale(), work: Path | None = None) -> int:
    """Make a seed database at ``scale`` (on disk at ``work`` if given, else in memory) and write its export to
    ``out``; returns the number of data rows written (the tables' rows, not ``sqlite_sequence``'s)."""
    conn = sqlite3.connect(work or ":memory:")
    try:
        populate(conn, scale)
        rows = 0
        for statement in export_statements(conn):
            if statement.startswith("INSERT INTO") and not statement.startswith('INSERT INTO "sqlite_sequence"'):
                rows += 1
            out.write(statement)
            out.write("\n")
        return rows
    finally:
        conn.close()


# --------------------------------------------------------------------------------------- KV bulk files


KV_PAST = 1_700_000_000  # 2023-11-14: entries expiring then are skipped by any import
KV_FUTURE = 4_102_444_800  # 2100-01-01


def kv_bulk_entries(count: int = 240) -> list[dict[str, Any]]:
    """A ``wrangler kv bulk put`` file's entries: text, JSON text, base64 binary, metadata, absolute expirations
    (some long past) and relative TTLs."""
    rng = random.Random(11)
    entries: list[dict[str, Any]] = []
    for n in range(count):
        symbol = SYMBOLS[n % len(SYMBOLS)]
        kind = n % 6
        if kind == 0:
            entries.append({"key": f"company:{symbol}:{n}", "value": json.dumps({"name": f"{symbol} Inc.", "n": n})})
        elif kind == 1:
            raw = rng.randbytes(64 + n)
            entries.append({"key": f"blob:{n}", "value": base64.b64encode(raw).decode(), "base64": True})
        elif kind == 2:
            entries.append(
                {"key": f"user:5WT{n:05d}:session", "value": f"state-{n}", "metadata": {"v": 2, "tags": ["a", "ü"]}}
            )
        elif kind == 3:
            entries.append({"key": f"quote:{symbol}:{n}", "value": "190.5", "expiration": KV_FUTURE})
        elif kind == 4:
            entries.append({"key": f"expired:{n}", "value": "gone", "expiration": KV_PAST + n})
        else:
            entries.append({"key": f"chain:{symbol}:{n}", "value": "{}", "expiration_ttl": 3600})
    entries.append({"key": "note:unicode", "value": "Zoë — ✓\nsecond line", "metadata": None})
    return entries


def main(argv: list[str]) -> int:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with D1_EXPORT.open("w", encoding="utf-8", newline="\n") as out:
        rows = write_d1_export(out)
    print(f"wrote {D1_EXPORT} ({rows} rows)")
    KV_BULK.write_text(json.dumps(kv_bulk_entries(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {KV_BULK}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
