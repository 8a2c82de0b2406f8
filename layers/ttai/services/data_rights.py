"""Seed 004's data rights: a user takes everything of theirs as one JSON archive, or erases it all.

What is the user's, found rather than listed by hand: every table with a ``user_id`` column (from the catalog) and
their ``users`` row; the KV entries under ``user:{user_id}:`` (seed 000's key convention) plus the analysis index
entries that name them; every object under ``users/{user_id}/``. Both prefixes carry the id escaped
(``ttai.tenant_keys``), so neither reaches a user whose id starts with this one's (``alice`` and ``alice:bob``).

Erasure removes all of it: every row (the tables' own foreign keys cascade from users; the deletes run children
first anyway) and their knowledge base's chunks in Vectorize (by their namespace), every object version and delete
marker (the bucket is versioned), every KV entry, the sessions last so a failure part-way leaves a token that can
ask again. The audit trail stays, with its personal fields redacted in the same transaction (0001's trigger allows
that one change while ``ttai.audit_maintenance`` is 'redact').
Unlike seed 004's soft delete with a grace period, erasure is immediate: the request is the user's own.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import Field

from ttai.bindings.d1 import D1Database
from ttai.bindings.kv import KVNamespace, iter_all_keys
from ttai.bindings.r2 import R2Bucket
from ttai.observability import logger
from ttai.services.cache import CacheKeys
from ttai.services.export_file import (
    ExportPlan,
    ExportWriter,
    FileReader,
    Owner,
    cache_section,
    objects_section,
    rows_section,
    text_section,
    write_export,
)
from ttai.services.storage import ExportFile, StorageService
from ttai.services.tables import Table, discover
from ttai.tenant_keys import user_namespace, user_objects_prefix

ARCHIVE_FORMAT = "ttai-account-export/1"
AUDIT_TABLE = "audit_events"
# Credentials, not data: sealed broker tokens (useless without the service's key) and the Discord webhook URL
# (a secret the API never shows whole either).
WITHHELD_FIELDS = ("access_token", "refresh_token", "discord_webhook_url")
_ERASE_VECTORS = "DELETE FROM vectors WHERE namespace = ?1"
_SESSION_MARK = ":session:"
_ANALYSIS_MARK = ":analysis:"


class AccountArchive(ExportFile):
    url: str = Field(description="a presigned GET of the archive, valid until expires_at")
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Erasure:
    rows: int
    audit_events_redacted: int
    cache_entries: int
    object_versions: int
    # Every session the user had: their records are gone, and the caller marks them ended where the authorizer's
    # cache would still let them through (ttai.auth.admission).
    session_ids: tuple[str, ...] = ()


def _owned(tables: list[Table]) -> list[tuple[Table, Owner]]:
    """Each table holding the user's rows, with the column that holds their id."""
    owned: list[tuple[Table, Owner]] = []
    for table in tables:
        if table.name == "users":
            owned.append((table, "id"))
        elif table.has_user_id:
            owned.append((table, "user_id"))
    return owned


class DataRightsService:
    def __init__(self, db: D1Database, kv: KVNamespace, bucket: R2Bucket, user_id: str) -> None:
        self.db = db
        self.kv = kv
        self.bucket = bucket
        self.user_id = user_id

    # ------------------------------------------------------------------ export

    def export(self) -> AccountArchive:
        """Everything of the user's as one JSON document in their exports, written now; a link to download it."""
        storage = StorageService(self.bucket, self.user_id)
        exported = write_export(self.archive_plan(), self.writer(storage))
        link = storage.export_url(exported.file.name)
        logger.info("account archive written", extra={"bytes": exported.file.size})
        return AccountArchive(**exported.file.model_dump(), url=link.url, expires_at=link.expires_at)

    def writer(self, storage: StorageService) -> ExportWriter:
        return ExportWriter(storage, FileReader(self.db, self.user_id, kv=self.kv, bucket=self.bucket))

    def archive_plan(self) -> ExportPlan:
        """The archive as sections: its head, every owned table's rows (credentials withheld), the cache entries
        and the objects, each a JSON array member of one object."""
        stamp = datetime.fromtimestamp(time.time(), UTC).strftime("%Y%m%dT%H%M%SZ")
        head = {
            "format": ARCHIVE_FORMAT,
            "user_id": self.user_id,
            "generated_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
        }
        sections = [text_section(json.dumps(head)[:-1] + ', "tables": {')]  # the object stays open: sections follow
        for index, (table, owner) in enumerate(_owned(discover(self.db))):
            sections.append(text_section(("" if index == 0 else ", ") + json.dumps(table.name) + ": ["))
            sections.append(rows_section(table, owner, "json", drop=WITHHELD_FIELDS))
            sections.append(text_section("]"))
        sections += [
            text_section('}, "cache": ['),
            cache_section(),
            text_section('], "objects": ['),
            objects_section(),
            text_section("]}\n"),
        ]
        return ExportPlan(f"account-{stamp}-{secrets.token_hex(3)}.json", sections)

    # ------------------------------------------------------------------- erase

    def erase(self) -> Erasure:
        """Delete every row, object and cache entry of the user; redact their audit trail; end their sessions."""
        tables = discover(self.db)
        known, session_ids = self._cache_keys_from_rows()  # read before the rows go
        versions = self.bucket.purge(user_objects_prefix(self.user_id))
        rows, redacted = self._erase_rows(tables)
        entries = self._erase_cache(known)
        erasure = Erasure(
            rows=rows,
            audit_events_redacted=redacted,
            cache_entries=entries,
            object_versions=versions,
            session_ids=session_ids,
        )
        logger.info("account erased", extra={"rows": rows, "redacted": redacted, "cache": entries, "objects": versions})
        return erasure

    def _cache_keys_from_rows(self) -> tuple[set[str], tuple[str, ...]]:
        """KV keys the user's rows imply, expired ones included: listing skips an entry past its expiry that
        DynamoDB has not swept yet, and it must go too; and the ids of their sessions. One statement."""
        uid = self.user_id
        rows = (
            self.db.prepare(
                "SELECT 'session' AS kind, id AS name FROM sessions WHERE user_id = ?1"
                " UNION ALL SELECT 'watchlist', name FROM watchlists WHERE user_id = ?1"
                " UNION ALL SELECT DISTINCT 'analysis', symbol FROM analyses WHERE user_id = ?1"
            )
            .bind(uid)
            .all()
            .results
        )
        keys = {CacheKeys.positions(uid)}
        sessions: list[str] = []
        for row in rows:
            kind, name = str(row["kind"]), str(row["name"])
            if kind == "session":
                keys.add(CacheKeys.session(uid, name))
                sessions.append(name)
            elif kind == "watchlist":
                keys.add(CacheKeys.watchlist(uid, name))
            else:
                keys |= {CacheKeys.user_analysis(uid, name), CacheKeys.analysis_index(name, uid)}
        return keys, tuple(sessions)

    def _erase_rows(self, tables: list[Table]) -> tuple[int, int]:
        owned = [(t, w) for t, w in _owned(tables) if t.name != AUDIT_TABLE]
        rows = 0
        with self.db.transaction() as tx:
            tx.run(self.db.prepare("SELECT set_config('ttai.audit_maintenance', 'redact', true)"))
            redacted = tx.run(
                self.db.prepare(
                    "UPDATE audit_events SET user_id = NULL, actor = NULL, details = '{}'::jsonb, redacted_at = ?2,"
                    " entity_id = CASE WHEN entity_id = ?1 THEN NULL ELSE entity_id END"
                    " WHERE user_id = ?1 OR actor = ?1"
                ).bind(self.user_id, datetime.fromtimestamp(time.time(), UTC))
            ).meta.changes
            for table, owner in reversed(owned):  # children first; users last
                result = tx.run(self.db.prepare(f"DELETE FROM {table.name} WHERE {owner} = ?1").bind(self.user_id))  # noqa: S608
                rows += result.meta.changes or 0
            # Their knowledge chunks (text included) in every Vectorize index: the namespace is theirs alone.
            chunks = tx.run(self.db.prepare(_ERASE_VECTORS).bind(user_namespace(self.user_id)))
            rows += chunks.meta.changes or 0
        return rows, redacted or 0

    def _erase_cache(self, known: set[str]) -> int:
        """Every listed entry under the user's prefix and every key their rows imply; the sessions last, so a
        failure part-way leaves a token that can ask again. One DeleteItem a key."""
        prefix = CacheKeys.user_prefix(self.user_id)
        names = {k.name for k in iter_all_keys(self.kv, prefix)} | known
        analysis = prefix + _ANALYSIS_MARK[1:]
        names |= {CacheKeys.analysis_index(n[len(analysis) :], self.user_id) for n in names if n.startswith(analysis)}
        sessions = {n for n in names if n.startswith(prefix + _SESSION_MARK[1:])}
        for name in [*sorted(names - sessions), *sorted(sessions)]:
            self.kv.delete(name)
        return len(names)
