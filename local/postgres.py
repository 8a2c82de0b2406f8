"""A PostgreSQL server for one machine: the embedded ``pgserver`` wheel, or any server named by ``DATABASE_URL``.

``with EmbeddedPostgres() as pg: uri = pg.create_database("ttai")`` gives a libpq URI for a database of its own.
With ``DATABASE_URL`` set, databases are created on that server under a name unique to this instance and dropped
again on ``stop()``, so test runs sharing one server never see each other.
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
            from pgserver.postgres_server import get_server  # noqa: PLC0415 - heavy; unused with DATABASE_URL

            with _SERVERS_LOCK:
                self._server = get_server(pgdata, cleanup_mode="stop")
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

    def drop_database(self, name: str) -> None:
        """Drop a database this instance created (by the name given to ``create_database``)."""
        physical = f"{self._prefix}{name}"[:63] if self.external else name
        with psycopg.connect(self.uri, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(physical)))
        if physical in self._created:
            self._created.remove(physical)

    def database_uri(self, physical_name: str) -> str:
        """The admin URI pointed at another database on the same server."""
        if self._server is not None:
            return str(self._server.get_uri(physical_name))
        parts = urlsplit(self.uri)
        if parts.scheme in {"postgres", "postgresql"}:
            return urlunsplit(parts._replace(path="/" + quote(physical_name)))
        return make_conninfo(self.uri, dbname=physical_name)
