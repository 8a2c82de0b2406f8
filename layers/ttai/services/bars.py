"""Daily price bars (the bars table): upserted in bulk by feeds, imports and the demo loader; read by the jobs."""

from __future__ import annotations

import json

from ttai.bindings.d1 import D1Database
from ttai.models.bars import BarBatch

UPSERT_CHUNK = 500  # bars per statement: the JSON parameter stays well under the Data API's request size
_INSERT = """
INSERT INTO bars (symbol, date, open, high, low, close, volume, source)
SELECT b.symbol, b.date, b.open, b.high, b.low, b.close, b.volume, ?2
FROM jsonb_to_recordset(?1::jsonb)
    AS b(symbol text, date date, open numeric, high numeric, low numeric, close numeric, volume bigint)
"""
_UPSERT = f"""{_INSERT}ON CONFLICT (symbol, date) DO UPDATE
SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, source = EXCLUDED.source, updated_at = now()
"""
# Demo bars never replace real ones, and real ones always replace demo bars (the upsert above).
_INSERT_MISSING = f"{_INSERT}ON CONFLICT (symbol, date) DO NOTHING"


class BarRepository:
    def __init__(self, db: D1Database) -> None:
        self.db = db

    def upsert(self, batch: BarBatch, *, replace: bool = True) -> int:
        """Store every bar of the batch (one transaction); a bar already stored for that day is replaced, or with
        ``replace=False`` kept."""
        records = [bar.model_dump(mode="json") for bar in batch.bars]
        sql = _UPSERT if replace else _INSERT_MISSING
        statements = [
            self.db.prepare(sql).bind(json.dumps(records[start : start + UPSERT_CHUNK]), batch.source)
            for start in range(0, len(records), UPSERT_CHUNK)
        ]
        self.db.batch(statements)
        return len(records)
