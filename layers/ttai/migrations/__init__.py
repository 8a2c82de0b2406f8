"""Numbered SQL migrations shipped in the layer, applied in order through the D1 binding (so through the Data API).

Each migration runs in its own transaction under an advisory lock: it applies whole or not at all, concurrent
runners wait for each other, and a re-run applies nothing. A migration edited after it was applied is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ttai.bindings.d1 import D1Database
from ttai.errors import TtaiError

MIGRATIONS_DIR = Path(__file__).parent
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_xact_lock key: any constant works, as long as nothing else in the database uses it.
LOCK_KEY = 774_100_001

BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(TtaiError):
    """A migration cannot be applied, or the applied history does not match the files."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


@dataclass
class MigrationReport:
    applied: list[int] = field(default_factory=list)
    already_applied: list[int] = field(default_factory=list)

    @property
    def current(self) -> int | None:
        versions = self.applied + self.already_applied
        return max(versions) if versions else None


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"two migrations share version {version:04d}")
        migrations[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [migrations[v] for v in sorted(migrations)]


def apply(db: D1Database, migrations: list[Migration] | None = None) -> MigrationReport:
    """Apply every migration not yet applied, in version order; returns what was applied and what already was."""
    todo = discover() if migrations is None else migrations
    db.exec(BOOKKEEPING)
    report = MigrationReport()
    for migration in todo:
        with db.transaction() as tx:
            tx.run(db.prepare("SELECT pg_advisory_xact_lock(?)").bind(LOCK_KEY))
            # Read under the lock: another runner may have applied it while we waited.
            recorded = tx.first(
                db.prepare("SELECT checksum FROM schema_migrations WHERE version = ?").bind(migration.version),
                "checksum",
            )
            if recorded is not None:
                if recorded != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was changed after it was applied; "
                        "add a new migration instead"
                    )
                report.already_applied.append(migration.version)
                continue
            try:
                tx.exec(migration.sql)
            except TtaiError as exc:
                raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
            tx.run(
                db.prepare("INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)").bind(
                    migration.version, migration.name, migration.checksum
                )
            )
            report.applied.append(migration.version)
    return report
