"""The Data API's errors: the model's error shapes and their HTTP statuses, and PostgreSQL's errors in its words."""

from __future__ import annotations

import functools
from typing import Any

import botocore.session
import psycopg


class DataApiError(Exception):
    """An error response: the model's error shape (``BadRequestException`` ...), its message and extra members."""

    def __init__(self, shape: str, message: str, **members: Any) -> None:
        super().__init__(message)
        self.shape = shape
        self.message = message
        self.members = members


@functools.cache
def service_model() -> Any:
    """botocore's ``rds-data`` model: the request shapes we validate against and the errors' HTTP statuses."""
    return botocore.session.get_session().get_service_model("rds-data")


def error_status(shape: str) -> int:
    if shape == "UnknownOperationException":
        return 404
    model_shape = service_model().shape_for(shape)
    return int(model_shape.metadata.get("error", {}).get("httpStatusCode", 400))


def format_postgres_error(
    message: str,
    sqlstate: str | None,
    *,
    severity: str = "ERROR",
    detail: str | None = None,
    hint: str | None = None,
    position: str | None = None,
    where: str | None = None,
) -> str:
    """PostgreSQL's error as the Data API reports it: the server's fields, then ``; SQLState: XXXXX``."""
    text = f"{severity}: {message}"
    for label, value in (("Detail", detail), ("Hint", hint), ("Position", position), ("Where", where)):
        if value:
            text += f"\n  {label}: {value}"
    return f"{text}; SQLState: {sqlstate}" if sqlstate else text


# SQLSTATEs of a connection lost rather than a statement refused: class 08 (connection exception) and the server
# going away under it (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now). The service answers
# these as the database being unavailable, not as the statement's error.
_CONNECTION_LOST = ("08", "57P01", "57P02", "57P03")


def database_error(exc: psycopg.Error) -> DataApiError:
    diag = exc.diag
    if not exc.sqlstate or exc.sqlstate.startswith(_CONNECTION_LOST):
        return DataApiError("DatabaseUnavailableException", f"the database connection failed: {exc}")
    message = format_postgres_error(
        diag.message_primary or str(exc),
        exc.sqlstate,
        severity=diag.severity_nonlocalized or diag.severity or "ERROR",
        detail=diag.message_detail,
        hint=diag.message_hint,
        position=diag.statement_position,
        where=diag.context,
    )
    return DataApiError("DatabaseErrorException", message)
