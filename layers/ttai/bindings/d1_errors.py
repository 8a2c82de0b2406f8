"""The D1 binding's errors (re-exported by ``ttai.bindings.d1``), importable without the binding itself."""

from __future__ import annotations

from ttai.errors import BindingError, TtaiError, Unavailable


class D1Error(TtaiError):
    """A statement failed in the database; carries PostgreSQL's message and SQLSTATE when it has them."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class D1ConstraintError(D1Error):
    """Integrity constraint violation (SQLSTATE class 23): unique, foreign key, check, not null."""


class D1QueryError(D1Error):
    """The SQL itself is wrong (class 42): syntax, unknown table or column, type mismatch in the text."""


class D1DataError(D1Error):
    """A value the database cannot take (class 22): out of range, invalid text for a type."""


class D1ConflictError(D1Error):
    """Serialization failure or deadlock (class 40): safe to retry the whole transaction."""


class D1ResponseTooLarge(D1Error):
    """The result is over the Data API's 1 MiB response limit."""


class D1TransactionGone(D1Error):
    """A statement named a transaction the Data API no longer has (rolled back, or expired)."""


class D1Unavailable(D1Error, Unavailable):
    """The database did not become available (still resuming after the retries allowed): a 503 to retry."""

    RETRY_AFTER_SECONDS = 5  # the binding has already waited through its resume delays; ask for a short pause more

    def __init__(self, message: str, *, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        Unavailable.__init__(self, message, dependency="the database", retry_after=retry_after)
        self.sqlstate = None


class D1BindError(BindingError):
    """Values that cannot be bound: wrong count, unsupported type, non-finite number, naive datetime."""


class D1SessionError(BindingError):
    """``with_session`` given neither a constraint ("first-primary", "first-unconstrained") nor a bookmark."""
