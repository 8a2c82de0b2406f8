"""D1's Sessions API (``db.with_session(constraint_or_bookmark)``) on Aurora through the Data API.

On Cloudflare a session may read from replicas, and its constraint or bookmark says how fresh the replica must be;
its bookmarks let the next session (the next request of the same user) start no older than this one ended. Aurora
has a single writer, and the Data API sends every statement to it, reads included (no replica ever answers), so:

- every read in a session, or outside one, sees every committed write: sequential consistency holds without any
  waiting, and "first-primary" and "first-unconstrained" behave alike;
- a bookmark a session starts from (one this binding issued, or one Cloudflare's D1 issued before the cutover and a
  client still sends) is already satisfied, and is accepted as it is;
- ``get_bookmark()`` reports the writer's transaction horizon (``pg_snapshot_xmax(pg_current_snapshot())``: every
  transaction committed so far is below it), as 16 hex digits and ``-aurora``, so that our bookmarks sort oldest to
  newest as Cloudflare's do. It is None until a statement has run in the session (as on Cloudflare), and asking
  costs one ExecuteStatement. Since nothing lags the writer, a session started from it sees at least what this one
  saw.

A string that starts ``first-`` but is neither constraint (a misspelling) is refused, not taken for a bookmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ttai.bindings.d1_errors import D1SessionError

if TYPE_CHECKING:
    from ttai.bindings.d1 import D1Database, D1PreparedStatement, D1Result

FIRST_PRIMARY = "first-primary"
FIRST_UNCONSTRAINED = "first-unconstrained"
CONSTRAINTS = (FIRST_PRIMARY, FIRST_UNCONSTRAINED)
BOOKMARK_SUFFIX = "-aurora"
BOOKMARK_MAX_CHARS = 1024
_HORIZON = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS horizon"


def check_constraint_or_bookmark(value: object) -> str:
    """The session's starting point: a constraint, or a bookmark (printable ASCII without spaces)."""
    if value is None:
        return FIRST_UNCONSTRAINED
    if not isinstance(value, str):
        raise D1SessionError(f"with_session takes a constraint or a bookmark string, got {type(value).__name__}")
    if value in CONSTRAINTS:
        return value
    if value.startswith("first-"):
        raise D1SessionError(f"unknown session constraint {value!r}: use {FIRST_PRIMARY!r} or {FIRST_UNCONSTRAINED!r}")
    if not value or len(value) > BOOKMARK_MAX_CHARS or not all("!" <= c <= "~" for c in value):
        raise D1SessionError(
            f"a bookmark is 1 to {BOOKMARK_MAX_CHARS} printable ASCII characters without spaces, got {value!r}"
        )
    return value


def bookmark_from_horizon(horizon: int) -> str:
    """Our bookmark for the writer's transaction horizon: fixed-width hex, so bookmarks sort oldest to newest."""
    return f"{horizon:016x}{BOOKMARK_SUFFIX}"


class D1DatabaseSession:
    """A D1 session: ``prepare`` and ``batch`` as on the database, in order; ``get_bookmark`` once one has run."""

    def __init__(self, db: D1Database, constraint_or_bookmark: str | None = None) -> None:
        from ttai.bindings.d1 import D1Database  # noqa: PLC0415 - d1 imports this module lazily

        self.constraint_or_bookmark = check_constraint_or_bookmark(constraint_or_bookmark)
        self._db = db
        # The session's statements go through a database of their own that tells it when one has run.
        self._statements = D1Database(
            db.resource_arn, db.secret_arn, db.database, client=db._client, resume_delays=db._resume_delays
        )
        self._statements._after_statement = self._ran
        self._used = False

    def __repr__(self) -> str:
        return f"D1DatabaseSession({self.constraint_or_bookmark!r})"

    def _ran(self) -> None:
        self._used = True

    def prepare(self, sql: str) -> D1PreparedStatement:
        return self._statements.prepare(sql)

    def batch(self, statements: Sequence[D1PreparedStatement]) -> list[D1Result]:
        """The statements in one transaction, as ``D1Database.batch`` (prepare them on this session)."""
        return self._statements.batch(statements)

    def get_bookmark(self) -> str | None:
        """The bookmark to start a later session from; None while no statement has run in this one."""
        if not self._used:
            return None
        horizon = self._db.prepare(_HORIZON).first("horizon")
        return bookmark_from_horizon(int(horizon))

    getBookmark = get_bookmark  # Cloudflare's name, so Worker code runs unchanged
